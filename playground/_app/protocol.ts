/**
 * The messages between the page and its runner (the module worker that runs
 * one program: runner.ts).
 *
 * @module
 */

/** The page to the runner, once: the program to run. */
export interface RunRequest {
  /** The program, TypeScript, importing `"@procs/multiprocessing"`. */
  source: string;
}

/** The runner to the page: what one console call of the program (or of a child) printed. */
export interface OutputMessage {
  type: "output";
  /** The text, without its trailing newline. */
  text: string;
  stream: "stdout" | "stderr";
}

/** The runner to the page, last: the program's module has finished evaluating, or failed. */
export interface DoneMessage {
  type: "done";
  /** False when the module failed to load or threw, or an error went uncaught. */
  ok: boolean;
}

/** Every message the runner posts. */
export type RunnerMessage = OutputMessage | DoneMessage;
