/**
 * The runner: a dedicated module Web Worker that runs one program and is
 * thrown away after it (bundled to `<out>/playground/runner.js`).
 *
 * Why a worker per run rather than an iframe per run: Stop is then one
 * `terminate()`, which the browser carries to every worker the program
 * started (its children are this worker's nested workers), whatever state
 * they are in; the next Run gets a fresh module map, so the program, the
 * library and its made-up pid are new; and a program that loops never
 * freezes the page, whose thread only draws the output.
 *
 * The runner loads `lib/browser.js` and sends everything the program and its
 * children print to the page ({@linkcode OutputMessage}), transpiles the
 * program (program.ts), makes a `blob:` URL of it, names that URL as the main
 * module (`globalThis.__PROCS_MAIN__`) and imports it. Children import the
 * same URL to find their targets; there the global is unset, so the main
 * block does not run. The run is over when the import settles
 * ({@linkcode DoneMessage}).
 *
 * @module
 */

import { MAIN_GLOBAL, toPageModule } from "./program.ts";
import type { RunnerMessage, RunRequest } from "./protocol.ts";

/** What lib/browser.js exports (the library's page entry). */
interface BrowserEntry {
  captureOutput(sink: (text: string, stream: "stdout" | "stderr") => void): () => void;
  formatArgs(args: unknown[]): string;
}

const scope = globalThis as unknown as {
  postMessage(message: RunnerMessage): void;
  addEventListener(
    type: string,
    listener: (event: Event) => void,
    options?: { once?: boolean },
  ): void;
  location: { href: string };
  [MAIN_GLOBAL]?: string;
};
/** The playground's directory: lib/ and this file live there. */
const base = new URL(".", scope.location.href);

let finished = false;
/** Puts the console back once the program is over, delivering what its workers printed last. */
let restoreOutput = (): void => {};
let format = (error: unknown): string =>
  error instanceof Error ? (error.stack ?? String(error)) : String(error);

const printError = (prefix: string, error: unknown): void => {
  scope.postMessage({ type: "output", text: `${prefix}${format(error)}`, stream: "stderr" });
};

const finish = (ok: boolean): void => {
  if (finished) return;
  finished = true;
  restoreOutput();
  scope.postMessage({ type: "done", ok });
};

// An error no one catches ends the run as it ends a Deno program: printed, and failed.
scope.addEventListener("error", (event) => {
  event.preventDefault();
  printError("error: Uncaught ", (event as ErrorEvent).error ?? (event as ErrorEvent).message);
  finish(false);
});
scope.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  printError("error: Uncaught (in promise) ", (event as PromiseRejectionEvent).reason);
  finish(false);
});

const run = async ({ source }: RunRequest): Promise<void> => {
  try {
    const browser: BrowserEntry = await import(new URL("lib/browser.js", base).href);
    format = (error) => browser.formatArgs([error]);
    restoreOutput = browser.captureOutput((text, stream) =>
      scope.postMessage({ type: "output", text, stream })
    );
    let code: string;
    try {
      code = toPageModule(source, new URL("lib/mod.js", base).href);
    } catch (error) {
      // The program's own mistake, found before it runs: its message says it all.
      scope.postMessage({ type: "output", text: `error: ${error}`, stream: "stderr" });
      return finish(false);
    }
    const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    scope[MAIN_GLOBAL] = url;
    await import(url);
    finish(true);
  } catch (error) {
    printError("error: Uncaught ", error);
    finish(false);
  }
};

scope.addEventListener("message", (event) => {
  void run((event as MessageEvent<RunRequest>).data);
}, { once: true });
