/**
 * Turns a lesson's program into a real module file under `.lessons-out/`,
 * importing the library by the absolute file URL of this repository's
 * `mod.ts`, so that Deno and Bun both run it without any config and a child
 * process can import it again by its URL.
 *
 * @module
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import process from "node:process";

/** The specifier lessons import the library by, as a user would. */
export const LIBRARY_SPECIFIER = "@procs/multiprocessing";

/** The absolute file URL of this repository's `mod.ts`. */
export const LIBRARY_URL: string = new URL("../../mod.ts", import.meta.url).href;

/** The root of this repository, as a path. */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Where extracted programs go (gitignored): a folder per run, so two runs at
 * once never rewrite a module a child of the other is importing.
 */
export const OUT_DIR: string = join(REPO_ROOT, ".lessons-out", String(process.pid));

const QUOTED_SPECIFIER = /(["'])@procs\/multiprocessing\1/g;
/** The page helpers' subpath (`@procs/multiprocessing/browser`), beside mod.ts. */
const BROWSER_SPECIFIER = /(["'])@procs\/multiprocessing\/browser\1/g;

/** Replaces every quoted `"@procs/multiprocessing"` in `source` with `libraryUrl`, quoted alike. */
export function rewriteImports(source: string, libraryUrl: string = LIBRARY_URL): string {
  return source
    .replace(QUOTED_SPECIFIER, (_, quote: string) => `${quote}${libraryUrl}${quote}`)
    .replace(
      BROWSER_SPECIFIER,
      (_, quote: string) =>
        `${quote}${new URL("src/browser.ts", new URL("./", libraryUrl)).href}${quote}`,
    );
}

/**
 * Writes a lesson's program as `<outDir>/<id>.ts` and returns its path. The
 * file keeps the program's lines as they are in the lesson, so line numbers
 * in stack traces are the code block's.
 */
export function writeProgram(
  lesson: { id: string; program: string },
  outDir: string = OUT_DIR,
): string {
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${lesson.id}.ts`);
  const source = rewriteImports(lesson.program);
  writeFileSync(file, source.endsWith("\n") ? source : `${source}\n`);
  return file;
}
