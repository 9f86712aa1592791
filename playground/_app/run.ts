/// <reference lib="dom" />
/**
 * One run of a program: a fresh runner worker (runner.ts), its output passed
 * on as it comes, and its end: done, failed, or stopped.
 *
 * @module
 */

import type { RunnerMessage, RunRequest } from "./protocol.ts";

/** How a run ended. */
export type RunEnd = "done" | "failed" | "stopped";

/** A program running in its own runner worker. */
export class Run {
  /** How the run ended, when it has. */
  readonly ended: Promise<RunEnd>;
  #worker: Worker | null;
  #settle!: (end: RunEnd) => void;

  /**
   * Starts `source` in a new runner worker.
   *
   * @param runnerUrl The runner's bundle (`runner.js`).
   * @param source The program, TypeScript.
   * @param onOutput Called with what each console call of the program or a child printed.
   */
  constructor(
    runnerUrl: URL,
    source: string,
    onOutput: (text: string, stream: "stdout" | "stderr") => void,
  ) {
    this.ended = new Promise((resolve) => this.#settle = resolve);
    const worker = new Worker(runnerUrl, { type: "module", name: "runner" });
    this.#worker = worker;
    worker.addEventListener("message", (event: MessageEvent<RunnerMessage>) => {
      const message = event.data;
      if (message.type === "output") onOutput(message.text, message.stream);
      else this.#end(message.ok ? "done" : "failed");
    });
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      onOutput(`error: the runner failed to load: ${event.message || "unknown error"}`, "stderr");
      this.#end("failed");
    });
    worker.postMessage({ source } satisfies RunRequest);
  }

  /** Whether the runner (and so anything the program started) is still alive. */
  get alive(): boolean {
    return this.#worker !== null;
  }

  /** Ends the run now: the runner and every worker it started are terminated. */
  stop(): void {
    this.#end("stopped");
  }

  // A finished program's runner goes too, with any worker it left behind, as the CLI runner
  // kills what a finished program leaves.
  #end(end: RunEnd): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.#settle(end);
  }
}
