/**
 * Node built-ins loaded on first use, through `process.getBuiltinModule`:
 * a static `import "node:…"` runs at start-up in every process and child,
 * and on Deno the first one initialises Node's compatibility layer
 * (`node:process` alone costs ~14 ms).
 *
 * @module
 */

/** The Node built-in module `name` ("node:os"), loaded now if it was not yet. */
export function nodeBuiltin<T>(name: string): T {
  const { process } = globalThis as unknown as {
    process: { getBuiltinModule(name: string): unknown };
  };
  return process.getBuiltinModule(name) as T;
}
