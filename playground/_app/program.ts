/**
 * A lesson's TypeScript program to a JavaScript module a page can import.
 *
 * The page transpiles with sucrase (`transforms: ["typescript"]`) rather than
 * with TypeScript or esbuild-wasm: it only strips types (no type check, as
 * `deno run` and `bun` do not check either), keeps every line where it was, so
 * a stack trace's line numbers are the editor's, and it weighs a few hundred
 * kB of plain JavaScript instead of megabytes of compiler or WebAssembly.
 *
 * @module
 */

import { transform } from "sucrase";

/** The specifier a lesson imports the library by. */
export const LIBRARY_SPECIFIER = "@procs/multiprocessing";

/** The name of the global that says which module is the main one. */
export const MAIN_GLOBAL = "__PROCS_MAIN__";

const QUOTED_LIBRARY = /(["'])@procs\/multiprocessing\1/g;
/** The specifier of each static import or re-export (`import x from "..."`, `import "..."`). */
const STATIC_IMPORT =
  /^\s*(?:import\s+(?:[\w$*\s{},]+?\s*from\s*)?|export\s*(?:\*|\{[\w$\s,]*\})(?:\s*as\s+[\w$]+)?\s*from\s*)(["'])([^"']+)\1/gm;
/** Specifiers a page can import: URLs and paths (a worker has no import map). */
const PAGE_SPECIFIER = /^(?:[a-z][a-z0-9+.-]*:\/\/|blob:|data:|\.{0,2}\/)/i;
const IMPORT_META_MAIN = /\bimport\.meta\.main\b/g;

/**
 * Transpiles a TypeScript program to JavaScript and rewrites what a page
 * lacks: every quoted `"@procs/multiprocessing"` becomes `libraryUrl`, and
 * `import.meta.main` becomes a test of {@linkcode MAIN_GLOBAL}, which is set
 * to the module's URL only in the context that runs it as the main program
 * (so a worker that imports the module to find a target skips the main block,
 * as a child does on Deno).
 *
 * @param source The program, TypeScript.
 * @param libraryUrl The absolute URL of the library's bundle (`lib/mod.js`).
 * @returns The module's JavaScript, with the same lines as `source`.
 * @throws {SyntaxError} When sucrase cannot parse the program (the message names the line).
 * @throws {TypeError} When the program imports a module a page has not got (`node:fs`, ...).
 */
export function toPageModule(source: string, libraryUrl: string): string {
  const { code } = transform(source, {
    transforms: ["typescript"],
    disableESTransforms: true,
    keepUnusedImports: true,
    filePath: "program.ts",
  });
  for (const [, , specifier] of code.matchAll(STATIC_IMPORT)) {
    if (specifier === LIBRARY_SPECIFIER || PAGE_SPECIFIER.test(specifier)) continue;
    throw new TypeError(
      `Cannot import "${specifier}" in a web page: ${
        specifier.startsWith("node:")
          ? "a page has no Node modules (no OS processes, files or sockets)"
          : "a page resolves only URLs and the library"
      }`,
    );
  }
  return code
    .replace(QUOTED_LIBRARY, JSON.stringify(libraryUrl))
    .replace(IMPORT_META_MAIN, `(globalThis.${MAIN_GLOBAL} === import.meta.url)`);
}
