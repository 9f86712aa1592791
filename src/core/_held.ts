/**
 * What a child that ended held in shared memory, settled by the process
 * that started it. Locks, semaphores and queue rings live in
 * `SharedArrayBuffer`s that a "worker" child takes from and gives back to
 * itself, with Atomics; when a child ends, its starter walks every such
 * piece of memory it can touch (made here, or arrived with a handle) and
 * settles what that child held there. Each kind keeps one
 * {@linkcode HeldMemory} and says what to do with each piece when a child
 * dies, ends, or is killed.
 *
 * @module
 */

import type { Ref } from "./_shared.ts";
import { onChildDeath, onChildExit, onChildKill } from "./process.ts";

/** What to do with each piece of memory as a child goes; each runs on every piece tracked. */
export interface Settle<T> {
  /** A child died (killed, crashed; not on a clean exit). */
  readonly died?: (memory: T, ident: number) => void;
  /** A child ended, cleanly (`died` false) or not; after every `died`. */
  readonly ended?: (memory: T, ident: number, died: boolean) => void;
  /** `kill()`/`terminate()` was called on a child, before it is signalled. */
  readonly killed?: (memory: T, ident: number) => void;
}

/**
 * The shared memory of one kind this process can touch, to settle what a
 * child that went held there. Strong (`weak` false): a piece made here
 * leaves with its object ({@linkcode HeldMemory.delete}), one that arrived
 * leaves with its handle ({@linkcode HeldMemory.adopt}); Deno keeps a few
 * hundred bytes for every WeakRef ever made, which a loop making locks
 * would pile up. Weak: a piece leaves once collected (for big pieces, made
 * fewer times: a queue's ring).
 */
export class HeldMemory<T extends object> {
  readonly #strong = new Set<T>();
  readonly #weak = new Set<WeakRef<T>>();
  /** The size at which the weak set is next swept of collected pieces (made in a loop). */
  #sweepAt = 1024;

  /** Tracks pieces strongly or weakly, and settles them with `settle` as children go. */
  constructor(readonly weak: boolean, settle: Settle<T>) {
    const { died, ended, killed } = settle;
    if (died) onChildDeath((ident) => this.forEach((m) => died(m, ident)));
    if (ended) onChildExit((ident, gone) => this.forEach((m) => ended(m, ident, gone)));
    if (killed) onChildKill((ident) => this.forEach((m) => killed(m, ident)));
  }

  /** Tracks `memory` (and returns it). */
  add(memory: T): T {
    if (!this.weak) {
      this.#strong.add(memory);
      return memory;
    }
    if (this.#weak.size >= this.#sweepAt) {
      for (const ref of this.#weak) if (!ref.deref()) this.#weak.delete(ref);
      this.#sweepAt = Math.max(1024, 2 * this.#weak.size);
    }
    this.#weak.add(new WeakRef(memory));
    return memory;
  }

  /** Tracks `memory`, which arrived with the handle `ref` holds, until that handle goes. */
  adopt(memory: T, ref: Ref): T {
    this.add(memory);
    ref.onRelease(() => this.delete(memory));
    return memory;
  }

  /** Stops tracking `memory` (its object was freed). */
  delete(memory: T): void {
    if (!this.weak) this.#strong.delete(memory);
    else for (const ref of this.#weak) if (ref.deref() === memory) this.#weak.delete(ref);
  }

  /** Runs `fn` on every piece tracked (dropping collected ones). */
  forEach(fn: (memory: T) => void): void {
    if (!this.weak) {
      for (const memory of this.#strong) fn(memory);
      return;
    }
    for (const ref of this.#weak) {
      const memory = ref.deref();
      if (memory) fn(memory);
      else this.#weak.delete(ref);
    }
  }
}
