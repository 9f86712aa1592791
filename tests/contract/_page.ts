/**
 * What a web page lacks, for the contracts that run there too
 * (tests/browser_test.ts runs them in Chromium under `"worker"`): a test
 * that needs it passes `{ skip: pageLacks("sockets") }` and says why it
 * skips in a page; elsewhere `pageLacks` is false and the test runs.
 *
 * @module
 */

const REASONS = {
  sockets: "a web page has no sockets (Listener, Client, managers at an address, runtime sockets)",
  processes: "a web page cannot start programs or OS processes",
  files: "a web page has no files",
  environment: "a web page has no environment variables",
  memory: "a web page cannot read its memory use",
  blocking: "a page's main thread cannot block (Atomics.wait)",
  stderr: "a web page has no stderr to capture",
  fastStart: "a page's workers start in 0.2-1 s (each loads the library's modules), so kills at " +
    "random moments under maxtasksperchild find them starting; a kill mid-task is tested on its own",
} as const;

/** Whether this runs in a web page's main thread. */
export const IN_PAGE: boolean = "document" in globalThis;

/** Why a test that needs `what` skips in a web page, or false (run it) elsewhere. */
export function pageLacks(what: keyof typeof REASONS): string | false {
  return IN_PAGE ? REASONS[what] : false;
}
