/**
 * Synchronization primitives shared between processes: `Lock`, `RLock`,
 * `Semaphore`, `BoundedSemaphore`, `Event`, `Condition` and `Barrier`, as
 * in Python's `multiprocessing.synchronize`.
 *
 * Each lives in the process that made it; other processes reach it through
 * the authenticated channel. **Better than CPython:** a lock, semaphore or
 * condition held by a process that dies (killed, crashed) is released when
 * its process ends, so the next `acquire` succeeds instead of hanging.
 *
 * Lifetime: each handle (in any process) holds its primitive; `close()`
 * lets go of one at once, and a handle dropped without it goes when it is
 * garbage-collected. Once no process holds it, the process that made it
 * frees it, and whoever still waits on it (through a handle closed
 * meanwhile) fails with `OSError`. `close()` does not release a lock.
 *
 * @module
 */

import { type EncodeContext, REDUCE, type Reduced, registerReducer } from "./_wire/codec.ts";
import {
  blocking,
  closedHandleError,
  type CoreArgs,
  type CoreMethod,
  type CoreResult,
  Ref,
  type RefState,
  releaseWhenCollected,
  type SharedCore,
} from "./_shared.ts";
import { ValueError } from "./errors.ts";
import { checkTimeout } from "./_util.ts";
import { Handoff } from "./_handoff.ts";
import { processState } from "./_state.ts";
import type { HeldMemory } from "./_held.ts";
import {
  acquireCell,
  clearFlag,
  giveUnits,
  isFlagSet,
  lockCells,
  releaseCell,
  semaphoreCells,
  semaphoreValue,
  setFlag,
  takeUnit,
  waitFlag,
} from "./_cells.ts";
import {
  BarrierCore,
  type BarrierTurn,
  ConditionCore,
  EventCore,
  LockCore,
  SemaphoreCore,
  type SemLockCore,
} from "./_sync_cores.ts";
import {
  type CallableSpec,
  callerModules,
  describeCallable,
  rebuildCallable,
} from "./reduction.ts";

/** The options of `acquire`: Python's `block` and `timeout` (milliseconds). */
export interface AcquireOptions {
  /** Wait for the lock (the default); `false` answers at once. */
  block?: boolean;
  /** Give up after this many milliseconds; ignored when not blocking; 0 or less answers at once. */
  timeout?: number | null;
}

/** What `SemLock`'s constructor is given by its subclass's. */
interface SemLockParts {
  ref: Ref<SemLockCore>;
  cell: Int32Array | null;
  kind: "lock" | "rlock" | "semaphore";
}
const semLockParts = new Handoff<SemLockParts>();
/**
 * A lock, semaphore or event that crossed from another process: its
 * reference and its memory. The reducer it came through ("Lock",
 * "Semaphore", "Event", ...) says which core the reference names.
 */
const received = new Handoff<[Ref, Int32Array | null]>();
/** A condition that crossed from another process. */
const receivedConditions = new Handoff<{ ref: Ref<ConditionCore>; lock: Lock | RLock }>();
/** A barrier that crossed from another process. */
const receivedBarriers = new Handoff<BarrierState>();

/**
 * What `Lock`, `RLock` and the semaphores share (Python's `SemLock`):
 * `acquire`, `release` and `hold`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lock, SemLock } from "@procs/multiprocessing";
 * assert.ok(new Lock() instanceof SemLock);
 * ```
 */
export abstract class SemLock implements AsyncDisposable {
  /** @internal */
  readonly _ref: Ref<SemLockCore>;
  /** @internal The shared cell, when this process shares the primitive's memory. */
  readonly _cell: Int32Array | null;
  /** @internal */
  readonly _kind: "lock" | "rlock" | "semaphore";

  /**
   * Made by the subclasses: construct a {@linkcode Lock}, {@linkcode RLock},
   * {@linkcode Semaphore} or {@linkcode BoundedSemaphore}.
   *
   * @throws {TypeError} when constructed other than through one of them
   */
  constructor() {
    const parts = semLockParts.take();
    if (!parts) {
      throw new TypeError(
        "SemLock is made by its subclasses: construct a Lock, RLock, Semaphore or BoundedSemaphore",
      );
    }
    this._ref = parts.ref;
    this._cell = parts.cell;
    this._kind = parts.kind;
    releaseWhenCollected(this, parts.ref);
  }

  #checkOpen(): void {
    if (this._ref.released) throw closedHandleError(this.constructor.name);
  }

  /**
   * Closes this handle: later calls through it fail with `ValueError`.
   * The object is freed in the process that made it once no handle to it
   * is left in any process (a handle that is never closed goes when it is
   * garbage-collected). Closing does not release the lock.
   */
  close(): void {
    this._ref.release();
  }

  /**
   * Acquires; resolves `true` once held, `false` if not blocking and
   * taken, or when the timeout passed first.
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    try {
      this.#checkOpen();
      const { block, timeout } = blocking(options);
      if (this._cell) {
        const ident = processState().ident;
        return this._kind === "semaphore"
          ? takeUnit(this._cell, ident, block, timeout)
          : acquireCell(this._cell, this._kind === "rlock", ident, block, timeout);
      }
      return this._ref.call("acquire", block, timeout);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Releases. */
  release(): Promise<void> {
    if (this._ref.released) return Promise.reject(closedHandleError(this.constructor.name));
    if (this._cell) {
      try {
        const ident = processState().ident;
        if (this._kind === "semaphore") giveUnits(this._cell, ident, 1);
        else releaseCell(this._cell, this._kind === "rlock", ident);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this._ref.call("release");
  }

  /** @internal A lock's reduced state: its memory goes along to a process that shares it. */
  _lockState(type: string, context: EncodeContext): Reduced {
    const cell = context.shareMemory ? this._cell : null;
    return { type, state: { ref: this._ref.cross(context), cell } satisfies LockState };
  }

  /** Acquires and returns a handle whose disposal releases: `await using _ = await lock.hold()`. */
  async hold(): Promise<AsyncDisposable> {
    await this.acquire();
    let released = false;
    return {
      [Symbol.asyncDispose]: async () => {
        if (released) return;
        released = true;
        await this.release();
      },
    };
  }

  /** Releases (so `await using` on an acquired lock works). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * A lock with no owner: any process may release it; releasing it when
 * unlocked is a `ValueError`. Held by a process that dies, it is released.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Lock } from "@procs/multiprocessing";
 * const lock = new Lock();
 * {
 *   await using _ = await lock.hold();
 *   assert.equal(await lock.acquire({ block: false }), false);
 * }
 * assert.equal(await lock.acquire({ timeout: 10 }), true);
 * await lock.release();
 * ```
 */
export class Lock extends SemLock {
  /** Makes an unlocked lock. */
  constructor() {
    const [ref, cell] = received.take() ?? newLock(false);
    semLockParts.give({ ref: ref as Ref<SemLockCore>, cell, kind: "lock" });
    super();
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    return this._lockState("Lock", context);
  }
}

/**
 * A re-entrant lock: the process holding it may acquire it again and must
 * release it as many times; only its owner may release it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RLock, ValueError } from "@procs/multiprocessing";
 * const lock = new RLock();
 * assert.equal(await lock.acquire(), true);
 * assert.equal(await lock.acquire(), true); // again, by its owner
 * await lock.release();
 * await lock.release();
 * await assert.rejects(() => lock.release(), ValueError); // released more than acquired
 * ```
 */
export class RLock extends SemLock {
  /** Makes an unlocked re-entrant lock. */
  constructor() {
    const [ref, cell] = received.take() ?? newLock(true);
    semLockParts.give({ ref: ref as Ref<SemLockCore>, cell, kind: "rlock" });
    super();
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    return this._lockState("RLock", context);
  }
}

/**
 * A counter that `acquire` decrements (waiting at 0) and `release`
 * increments. Units held by a process that dies are given back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Semaphore } from "@procs/multiprocessing";
 * const s = new Semaphore(2);
 * await s.acquire();
 * assert.equal(await s.getValue(), 1);
 * await s.release();
 * ```
 */
export class Semaphore extends SemLock {
  /** Makes a semaphore with `value` units (default 1). */
  constructor(value: number = 1) {
    const [ref, cell] = received.take() ??
      newSemaphore(value, new.target === BoundedSemaphore ? value : null);
    semLockParts.give({ ref: ref as Ref<SemLockCore>, cell, kind: "semaphore" });
    super();
  }

  /** The current value (Python's `get_value()`). */
  getValue(): Promise<number> {
    if (this._ref.released) return Promise.reject(closedHandleError(this.constructor.name));
    if (this._cell) return Promise.resolve(semaphoreValue(this._cell));
    return (this._ref as Ref<SemaphoreCore>).call("getValue");
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    return this._lockState(
      this instanceof BoundedSemaphore ? "BoundedSemaphore" : "Semaphore",
      context,
    );
  }
}

/**
 * A semaphore that refuses to go above its initial value: one release too
 * many is a `ValueError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BoundedSemaphore, ValueError } from "@procs/multiprocessing";
 * const s = new BoundedSemaphore(1);
 * await assert.rejects(() => s.release(), ValueError);
 * ```
 */
export class BoundedSemaphore extends Semaphore {}

/**
 * A flag processes can wait for: `set()` wakes every waiter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Event } from "@procs/multiprocessing";
 * const e = new Event();
 * assert.equal(await e.wait(10), false);
 * await e.set();
 * assert.equal(await e.isSet(), true);
 * assert.equal(await e.wait(), true);
 * ```
 */
export class Event implements Disposable {
  readonly #ref: Ref<EventCore>;
  /** The shared flag, when this process shares the event's memory. */
  readonly #cell: Int32Array | null;

  /** Makes an unset event. */
  constructor() {
    const given = received.take();
    if (given) {
      // An event's state names its owner's EventCore (the reducer registered as "Event").
      this.#ref = given[0] as Ref<EventCore>;
      this.#cell = given[1];
    } else {
      const core = new EventCore();
      this.#ref = Ref.local(core);
      this.#cell = core.cell;
    }
    releaseWhenCollected(this, this.#ref);
  }

  /** @internal This handle's hold on the event. */
  get _ref(): Ref<EventCore> {
    return this.#ref;
  }

  /**
   * Closes this handle: later calls through it fail with `ValueError`; the
   * event is freed once no process holds a handle to it.
   */
  close(): void {
    this.#ref.release();
  }

  /** Closes this handle (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  #cellOpen(): Int32Array | null {
    if (this.#ref.released) throw closedHandleError("Event");
    return this.#cell;
  }

  /** Sets the flag and wakes every waiter. */
  set(): Promise<void> {
    try {
      const cell = this.#cellOpen();
      if (cell) {
        setFlag(cell);
        return Promise.resolve();
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#ref.call("set");
  }
  /** Clears the flag. */
  clear(): Promise<void> {
    try {
      const cell = this.#cellOpen();
      if (cell) {
        clearFlag(cell);
        return Promise.resolve();
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#ref.call("clear");
  }
  /** Whether the flag is set. */
  isSet(): Promise<boolean> {
    try {
      const cell = this.#cellOpen();
      if (cell) return Promise.resolve(isFlagSet(cell));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#ref.call("isSet");
  }
  /** Waits until the flag is set (`true`) or `timeout` ms pass (`false`). */
  wait(timeout?: number | null): Promise<boolean> {
    let cell: Int32Array | null;
    try {
      checkTimeout(timeout, "Event.wait()");
      cell = this.#cellOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (cell) return waitFlag(cell, timeout ?? null);
    return this.#ref.call("wait", timeout ?? null);
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    const cell = context.shareMemory ? this.#cell : null;
    return { type: "Event", state: { ref: this.#ref.cross(context), cell } satisfies LockState };
  }
}

/**
 * A condition variable over a lock (an `RLock` by default): `wait` releases
 * the lock until notified, then takes it back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Condition } from "@procs/multiprocessing";
 * const c = new Condition();
 * await c.acquire();
 * assert.equal(await c.wait(10), false); // nobody notified
 * await c.notifyAll();
 * await c.release();
 * ```
 */
export class Condition implements AsyncDisposable {
  readonly #ref: Ref<ConditionCore>;
  readonly #lock: Lock | RLock;
  /** Whether the lock's handle is this condition's own (made or received with it). */
  readonly #ownsLock: boolean;

  /** Makes a condition over `lock` (a new `RLock` if none); the lock must be made in this process. */
  constructor(lock?: Lock | RLock) {
    const given = receivedConditions.take();
    if (given) {
      this.#ref = given.ref;
      this.#lock = given.lock;
      this.#ownsLock = true;
      releaseWhenCollected(this, this.#ref);
      return;
    }
    this.#lock = lock ?? new RLock();
    this.#ownsLock = lock === undefined;
    const core = this.#lock._ref.core;
    if (!(core instanceof LockCore)) {
      throw new TypeError(
        "A Condition's lock must be a Lock or RLock made in the same process as the Condition",
      );
    }
    // The condition's object keeps its lock's object alive.
    const lockHold = Ref.fromState(this.#lock._ref.state());
    this.#ref = Ref.local(new ConditionCore(core, lockHold));
    releaseWhenCollected(this, this.#ref);
  }

  /** @internal This handle's hold on the condition. */
  get _ref(): Ref<ConditionCore> {
    return this.#ref;
  }

  /** @internal The lock's handle. */
  get _lock(): Lock | RLock {
    return this.#lock;
  }

  /**
   * Closes this handle (and the handle of the lock it made or received; a
   * lock passed to the constructor stays open): later calls through it
   * fail. The condition is freed once no process holds a handle to it.
   */
  close(): void {
    this.#ref.release();
    if (this.#ownsLock) this.#lock.close();
  }

  /** Acquires the underlying lock. */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }
  /** Releases the underlying lock. */
  release(): Promise<void> {
    return this.#lock.release();
  }
  /** Acquires the lock and returns a disposable that releases it. */
  hold(): Promise<AsyncDisposable> {
    return this.#lock.hold();
  }
  /** Releases the lock (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.#lock.release();
  }

  /** Releases the lock, waits to be notified (`true`) or for the timeout (`false`), then re-acquires. */
  wait(timeout?: number | null): Promise<boolean> {
    if (this.#ref.released) return Promise.reject(closedHandleError("Condition"));
    return this.#ref.call("wait", timeout ?? null);
  }

  /** Waits until `predicate()` is truthy, re-checking after each notification; returns its last value. */
  async waitFor<T>(predicate: () => T | Promise<T>, timeout?: number | null): Promise<T> {
    const deadline = timeout === undefined || timeout === null ? null : Date.now() + timeout;
    let result = await predicate();
    while (!result) {
      const remaining = deadline === null ? null : deadline - Date.now();
      if (remaining !== null && remaining <= 0) break;
      await this.wait(remaining);
      result = await predicate();
    }
    return result;
  }

  /** Wakes up to `n` waiters (default 1); the lock must be held. */
  notify(n = 1): Promise<void> {
    if (this.#ref.released) return Promise.reject(closedHandleError("Condition"));
    return this.#ref.call("notify", n);
  }
  /** Wakes every waiter; the lock must be held. */
  notifyAll(): Promise<void> {
    if (this.#ref.released) return Promise.reject(closedHandleError("Condition"));
    return this.#ref.call("notify", "all");
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    return { type: "Condition", state: { ref: this.#ref.cross(context), lock: this.#lock } };
  }
}

/**
 * A barrier for `parties` processes: `wait()` returns when all have
 * arrived, each with a distinct index (exactly one gets 0); `action` runs
 * once per trip, in the last process to arrive, before anyone is released.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Barrier } from "@procs/multiprocessing";
 * const b = new Barrier(1);
 * assert.equal(await b.wait(), 0);
 * ```
 */
export class Barrier implements Disposable {
  readonly #ref: Ref<BarrierCore>;
  readonly #parties: number;
  readonly #timeout: number | null;
  #action: (() => unknown) | null;
  readonly #actionSpec: CallableSpec | null;

  /** Makes a barrier for `parties` processes, with an optional action and default timeout (ms). */
  constructor(
    parties: number,
    action?: (() => unknown) | null,
    timeout?: number | null,
  ) {
    const s = receivedBarriers.take();
    if (s) {
      this.#ref = s.ref;
      this.#parties = s.parties;
      this.#timeout = s.timeout;
      this.#action = null;
      this.#actionSpec = s.spec;
      releaseWhenCollected(this, this.#ref);
      return;
    }
    if (!Number.isInteger(parties) || parties < 1) {
      throw new ValueError(`Barrier parties must be a positive integer: received ${parties}`);
    }
    if (action !== undefined && action !== null && typeof action !== "function") {
      throw new TypeError("Barrier action must be a function");
    }
    this.#parties = parties;
    this.#timeout = timeout ?? null;
    this.#action = action ?? null;
    this.#actionSpec = action ? describeCallable(action as never, callerModules()) : null;
    this.#ref = Ref.local(new BarrierCore(parties, action !== undefined && action !== null));
    releaseWhenCollected(this, this.#ref);
  }

  /** @internal This handle's hold on the barrier. */
  get _ref(): Ref<BarrierCore> {
    return this.#ref;
  }

  /**
   * Closes this handle: later calls through it fail with `ValueError`; the
   * barrier is freed once no process holds a handle to it.
   */
  close(): void {
    this.#ref.release();
  }

  /** Closes this handle (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  #call<M extends CoreMethod<BarrierCore>>(
    method: M,
    ...args: CoreArgs<BarrierCore, M>
  ): Promise<CoreResult<BarrierCore, M>> {
    if (this.#ref.released) return Promise.reject(closedHandleError("Barrier"));
    return this.#ref.call(method, ...args);
  }

  /** How many processes the barrier waits for. */
  get parties(): number {
    return this.#parties;
  }

  /** Waits for every party; returns this party's arrival index. */
  async wait(timeout?: number | null): Promise<number> {
    const turn = await this.#call("wait", timeout ?? this.#timeout) as BarrierTurn;
    if (turn.runAction) {
      try {
        if (!this.#action && this.#actionSpec) {
          this.#action = await rebuildCallable(this.#actionSpec) as () => unknown;
        }
        await this.#action?.();
      } catch (error) {
        await this.#call("tripped", turn.generation, false);
        throw error;
      }
      await this.#call("tripped", turn.generation, true);
    }
    return turn.index;
  }

  /** Breaks the barrier: every waiter, now and later, gets `BrokenBarrierError`. */
  abort(): Promise<void> {
    return this.#call("abort");
  }
  /** Returns the barrier to its empty state; current waiters get `BrokenBarrierError`. */
  reset(): Promise<void> {
    return this.#call("reset");
  }
  /** How many parties are waiting now. */
  nWaiting(): Promise<number> {
    return this.#call("nWaiting");
  }
  /** Whether the barrier is broken. */
  broken(): Promise<boolean> {
    return this.#call("broken");
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    return {
      type: "Barrier",
      state: {
        ref: this.#ref.cross(context),
        parties: this.#parties,
        timeout: this.#timeout,
        spec: this.#actionSpec,
      } satisfies BarrierState<RefState>,
    };
  }
}

/** How a Barrier crosses (with its reference crossed, then rebuilt). */
interface BarrierState<R = Ref<BarrierCore>> {
  ref: R;
  parties: number;
  timeout: number | null;
  spec: CallableSpec | null;
}

/** A new lock's reference and memory. */
function newLock(recursive: boolean): [Ref, Int32Array] {
  const core = new LockCore(recursive);
  return [Ref.local(core), core.cell];
}

/** A new semaphore's reference and memory (a bounded one refuses to go above `bound`). */
function newSemaphore(value: number, bound: number | null): [Ref, Int32Array] {
  if (!Number.isInteger(value) || value < 0) {
    throw new ValueError(`Semaphore initial value must be an integer >= 0: received ${value}`);
  }
  const core = new SemaphoreCore(value, bound);
  return [Ref.local(core), core.cell];
}

/** How a Lock or RLock crosses: a reference to its owner, and its memory for a worker. */
interface LockState {
  ref: RefState;
  cell: Int32Array | null;
}

function lockFromState(s: unknown): [Ref, Int32Array | null] {
  // Older senders (a manager's proxies) send the bare reference.
  const st = (s as LockState).ref ? s as LockState : { ref: s as RefState, cell: null };
  const ref = Ref.fromState(st.ref);
  // In the owner, use its own cell; in a worker that shares it, the one that came.
  const core = ref.core as LockCore | null;
  const cell = core?.cell ?? (st.cell ? lockCells.adopt(st.cell, ref) : null);
  return [ref, cell];
}

registerReducer("Lock", (s) => received.build(lockFromState(s), () => new Lock()));
registerReducer("RLock", (s) => received.build(lockFromState(s), () => new RLock()));
function cellFromState(
  s: unknown,
  tracked: HeldMemory<Int32Array> | null,
): [Ref, Int32Array | null] {
  // A manager's proxies send the bare reference.
  const st = (s as LockState).ref ? s as LockState : { ref: s as RefState, cell: null };
  const ref = Ref.fromState(st.ref);
  const core = ref.core as { cell?: Int32Array } | null;
  const cell = core?.cell ?? st.cell ?? null;
  return [ref, cell && tracked && !core ? tracked.adopt(cell, ref) : cell];
}

registerReducer(
  "Semaphore",
  (s) => received.build(cellFromState(s, semaphoreCells), () => new Semaphore()),
);
registerReducer(
  "BoundedSemaphore",
  (s) => received.build(cellFromState(s, semaphoreCells), () => new BoundedSemaphore()),
);
registerReducer("Event", (s) => received.build(cellFromState(s, null), () => new Event()));
registerReducer("Condition", (s) => {
  const { ref, lock } = s as { ref: RefState; lock: Lock | RLock };
  return receivedConditions.build(
    { ref: Ref.fromState<ConditionCore>(ref), lock },
    () => new Condition(),
  );
});
registerReducer("Barrier", (s) => {
  const st = s as BarrierState<RefState>;
  return receivedBarriers.build(
    { ...st, ref: Ref.fromState<BarrierCore>(st.ref) },
    () => new Barrier(1),
  );
});

/** @internal Owner-side cores, for a manager's server. */
export const _syncCores = {
  Lock: (): SharedCore => new LockCore(false),
  RLock: (): SharedCore => new LockCore(true),
  Semaphore: (value = 1): SharedCore => new SemaphoreCore(value, null),
  BoundedSemaphore: (value = 1): SharedCore => new SemaphoreCore(value, value),
  Event: (): SharedCore => new EventCore(),
  /** A condition with its own RLock: [condition, lock]. */
  Condition: (): [SharedCore, SharedCore] => {
    const lock = new LockCore(true);
    return [new ConditionCore(lock), lock];
  },
  Barrier: (parties: number, hasAction: boolean): SharedCore => new BarrierCore(parties, hasAction),
};
