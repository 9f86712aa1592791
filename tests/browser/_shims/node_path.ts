/** `node:path` in a web page: `join` of `/` paths. @module */
/** Joins path pieces with `/`. */
export function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}
export default { join };
