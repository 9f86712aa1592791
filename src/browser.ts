/**
 * For a web page that runs a program with `@procs/multiprocessing`: what
 * the program and its workers print, delivered in the order it was printed
 * (a worker's `console` goes to the devtools otherwise, not to the page).
 *
 * In a page the library's children are module Web Workers (the `"worker"`
 * start method, the only one a page has). Shared memory (`Value`,
 * `SharedArray`, the rings that carry pipes and queues between workers)
 * needs a cross-origin-isolated page: served with the headers
 * `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`. Without them the library
 * still works, over `MessagePort`s, but `Value` and the other shared types
 * fail with a `ValueError`.
 *
 * Without {@linkcode captureOutput}, the workers' lines go to the page's own
 * `console.log` and `console.error`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatArgs } from "@procs/multiprocessing/browser";
 *
 * // In a page: const restore = captureOutput((text, stream) => show(text, stream));
 * // each line the program and its workers print arrives as Deno would print it:
 * assert.equal(formatArgs(["results", [1, 4, 9]]), "results [ 1, 4, 9 ]");
 * ```
 *
 * @module
 */

import "./install.ts";
export { captureOutput, type OutputSink, type OutputStream } from "./adapters/_browser_output.ts";
export { formatArgs } from "./adapters/_format.ts";
