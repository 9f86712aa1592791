/**
 * How the library builds one of its public classes from internal state
 * (a lock that crossed from another process, a child's own Process object,
 * the two ends of a new pipe) while the class's constructor shows only what
 * a user passes.
 *
 * The module that owns the class keeps a private `Handoff`; its factory
 * calls `handoff.build(state, () => new X())`, and X's constructor begins
 * with `handoff.take()`, which gives that state, or `undefined` when a user
 * wrote `new X(...)`. A class only the library makes throws a `TypeError`
 * naming the factory to use when nothing was handed to it.
 *
 * @module
 */

/** A one-shot slot between a module's factory and the constructor it calls. */
export class Handoff<S> {
  #pending: S | undefined = undefined;

  /** Runs `make` (which constructs the class) with `state` waiting for its constructor. */
  build<T>(state: S, make: () => T): T {
    this.#pending = state;
    try {
      return make();
    } finally {
      this.#pending = undefined;
    }
  }

  /**
   * Leaves `state` for the constructor about to run: a subclass's
   * constructor handing its base what it made, just before `super()`.
   */
  give(state: S): void {
    this.#pending = state;
  }

  /** The state handed to the constructor running now, if any; a second take gives `undefined`. */
  take(): S | undefined {
    const state = this.#pending;
    this.#pending = undefined;
    return state;
  }
}
