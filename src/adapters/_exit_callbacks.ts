/**
 * What both hosts' exit paths share (`_deno_exits.ts`, `_bun_exits.ts`): the
 * signals that end a program unless it listens to them, and the list of
 * callbacks that run once, however the program ends.
 *
 * @module
 */

/** The signals that would end the program, which the hosts answer by cleaning up first. */
export const FATAL_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** One of {@linkcode FATAL_SIGNALS}. */
export type FatalSignal = typeof FATAL_SIGNALS[number];

/** Callbacks to run once when the program ends. */
export class ExitCallbacks {
  #callbacks: (() => void)[] = [];
  #installed = false;

  /** Adds a callback; true the first time only (the caller then installs its listeners). */
  add(callback: () => void): boolean {
    this.#callbacks.push(callback);
    if (this.#installed) return false;
    this.#installed = true;
    return true;
  }

  /** Runs every callback once, in order; one that throws does not stop the others. */
  run = (): void => {
    for (const callback of this.#callbacks.splice(0)) {
      try {
        callback();
      } catch {
        // keep going: the rest still clean up
      }
    }
  };
}
