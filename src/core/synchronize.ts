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

import { type EncodeContext, REDUCE, type Reduced, registerReducer } from "./_codec.ts";
import type { Channel } from "./_node.ts";
import {
  blocking,
  type Caller,
  closedHandleError,
  type CoreArgs,
  type CoreMethod,
  type CoreResult,
  expose,
  goneError,
  Ref,
  type RefState,
  releaseWhenCollected,
  SharedCore,
  Waiter,
} from "./_shared.ts";
import { BrokenBarrierError, type OSError, ValueError } from "./errors.ts";
import { checkTimeout } from "./_util.ts";
import { Handoff } from "./_handoff.ts";
import { processState } from "./_state.ts";
import { waitUntil } from "./_ring.ts";
import { onChildDeath, onChildExit } from "./process.ts";
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

// ---------------------------------------------------------------- owner side

// A lock's state lives in three Int32 words of a SharedArrayBuffer, so
// every process that shares the memory (the owner and its "worker"
// children) takes and releases it with Atomics; a "spawn" child asks the
// owner, which runs the same code on its behalf.
const STATE = 0; // 0 free, 1 held, 2 freed (its object is gone)
const HOLDER = 1; // the holder's ident (as an int32)
const LEVELS = 2; // how many times the holder took it (RLock)
const LOCK_WORDS = 3;

const FREED = 2;

/**
 * Every lock cell this process can touch, to release those a dead child
 * held: a cell made here leaves with its object, one that arrived with a
 * handle leaves with the handle. (Not weak references: Deno keeps a few
 * hundred bytes for every WeakRef ever made, which a loop making locks
 * would pile up.)
 */
const cells = new Set<Int32Array>();

function newCell(): Int32Array {
  const cell = new Int32Array(new SharedArrayBuffer(LOCK_WORDS * Int32Array.BYTES_PER_ELEMENT));
  cells.add(cell);
  return cell;
}

/** Tracks `cell`, which arrived with the handle `ref` holds, until that handle goes. */
function adopt(set: Set<Int32Array>, cell: Int32Array, ref: Ref): Int32Array {
  set.add(cell);
  ref.onRelease(() => set.delete(cell));
  return cell;
}

/** The wait's check on a freed object: nobody will ever release it, so the wait fails. */
function checkNotFreed(cell: Int32Array, index: number, freed: number): void {
  if (Atomics.load(cell, index) === freed) throw goneError();
}

function tryAcquireCell(cell: Int32Array, recursive: boolean, ident: number): boolean {
  if (recursive && Atomics.load(cell, STATE) === 1 && Atomics.load(cell, HOLDER) === (ident | 0)) {
    cell[LEVELS]++; // only the holder changes its levels
    return true;
  }
  if (Atomics.compareExchange(cell, STATE, 0, 1) === 0) {
    Atomics.store(cell, HOLDER, ident | 0);
    Atomics.store(cell, LEVELS, 1);
    return true;
  }
  return false;
}

async function acquireCell(
  cell: Int32Array,
  recursive: boolean,
  ident: number,
  block: boolean,
  timeout: number | null,
): Promise<boolean> {
  if (tryAcquireCell(cell, recursive, ident)) return true;
  if (!block) return false;
  return await waitUntil(cell, STATE, timeout, () => {
    checkNotFreed(cell, STATE, FREED);
    return tryAcquireCell(cell, recursive, ident);
  });
}

function freeCell(cell: Int32Array): void {
  Atomics.store(cell, HOLDER, 0);
  Atomics.store(cell, LEVELS, 0);
  Atomics.store(cell, STATE, 0);
  Atomics.notify(cell, STATE, 1);
}

function releaseCell(cell: Int32Array, recursive: boolean, ident: number): void {
  if (Atomics.load(cell, STATE) === 0) {
    throw new ValueError(
      recursive
        ? "Cannot release an RLock that is not held: acquire it first"
        : "Lock released too many times: release() only after a successful acquire()",
    );
  }
  if (recursive && Atomics.load(cell, HOLDER) !== (ident | 0)) {
    throw new ValueError(
      "Cannot release an RLock held by another process: only its owner may release it",
    );
  }
  if (recursive && --cell[LEVELS] > 0) return;
  freeCell(cell);
}

/** @internal Releases every lock a child that died was holding (called by its parent). */
export function releaseLocksHeldBy(ident: number): void {
  for (const cell of cells) {
    if (Atomics.load(cell, STATE) === 1 && Atomics.load(cell, HOLDER) === (ident | 0)) {
      freeCell(cell);
    }
  }
}

onChildDeath(releaseLocksHeldBy);

/** The cores behind a {@linkcode SemLock}: a lock's or a semaphore's. */
type SemLockCore = LockCore | SemaphoreCore;

class LockCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<LockCore>("acquire", "release");
  readonly cell: Int32Array = newCell();
  /** Which remote process took it through this owner (to release it if that process dies). */
  #remoteHolder: Caller | null = null;

  constructor(readonly recursive: boolean) {
    super();
  }

  async acquire(caller: Caller, block: boolean, timeout: number | null): Promise<boolean> {
    const ok = await acquireCell(this.cell, this.recursive, caller.ident, block, timeout);
    if (ok && caller.channel !== null) this.#remoteHolder = caller;
    return ok;
  }

  /** Takes the lock for `caller` with `count` levels (a Condition restoring its lock). */
  async acquireLevels(caller: Caller, count: number): Promise<void> {
    if (await this.acquire(caller, true, null)) this.cell[LEVELS] = count;
  }

  release(caller: Caller): void {
    releaseCell(this.cell, this.recursive, caller.ident);
  }

  /** Whether `caller` holds the lock. */
  heldBy(caller: Caller): boolean {
    return Atomics.load(this.cell, STATE) === 1 &&
      Atomics.load(this.cell, HOLDER) === (caller.ident | 0);
  }

  /** Releases every level and returns how many there were. */
  releaseAll(): number {
    const levels = this.cell[LEVELS];
    freeCell(this.cell);
    return levels;
  }

  override free(): void {
    // Waiters (through a handle closed while they waited) wake and fail.
    cells.delete(this.cell);
    Atomics.store(this.cell, STATE, FREED);
    Atomics.notify(this.cell, STATE);
  }

  override dropChannel(channel: Channel, clean: boolean): void {
    const holder = this.#remoteHolder;
    if (!clean && holder?.channel === channel && this.heldBy(holder)) freeCell(this.cell);
    if (holder?.channel === channel) this.#remoteHolder = null;
  }
}

// A semaphore's cell: its value, its bound (-1: none), then SLOTS pairs of
// (process ident, units that process holds), to give back a dead process's
// units. An event's cell: one flag.
const VALUE = 0;
const BOUND = 1;
// Then SLOTS slots of SLOT_WORDS words from SLOTS_AT: who holds units, and how many.
const SLOTS_AT = 2;
const SLOTS = 16;
const SLOT_OWNER = 0; // the holder's ident (0: a free slot)
const SLOT_UNITS = 1; // how many units it holds
const SLOT_WORDS = 2;
const SEMAPHORE_WORDS = SLOTS_AT + SLOTS * SLOT_WORDS;
/** The bound of a semaphore whose object was freed. */
const FREED_BOUND = -2;
const semaphoreCells = new Set<Int32Array>();

function newSemaphoreCell(value: number, bound: number | null): Int32Array {
  const cell = new Int32Array(
    new SharedArrayBuffer(SEMAPHORE_WORDS * Int32Array.BYTES_PER_ELEMENT),
  );
  cell[VALUE] = value;
  cell[BOUND] = bound ?? -1;
  semaphoreCells.add(cell);
  return cell;
}

/** Adds `delta` to the units `ident` holds (claiming a slot; untracked if all are taken). */
function holdUnits(cell: Int32Array, ident: number, delta: number): void {
  const id = (ident | 0) || 1;
  for (let i = 0; i < SLOTS; i++) {
    const at = SLOTS_AT + SLOT_WORDS * i;
    let owner = Atomics.load(cell, at + SLOT_OWNER);
    if (owner === 0 && delta > 0) {
      owner = Atomics.compareExchange(cell, at + SLOT_OWNER, 0, id) || id;
    }
    if (owner === id) {
      const units = Atomics.load(cell, at + SLOT_UNITS);
      Atomics.store(cell, at + SLOT_UNITS, Math.max(0, units + delta));
      return;
    }
  }
}

function addUnits(cell: Int32Array, n: number, check: boolean): void {
  for (;;) {
    const v = Atomics.load(cell, VALUE);
    const bound = Atomics.load(cell, BOUND);
    if (check && bound >= 0 && v + n > bound) {
      throw new ValueError(
        `BoundedSemaphore released too many times: its value would exceed its initial value ${bound}`,
      );
    }
    const next = bound >= 0 ? Math.min(v + n, bound) : v + n;
    if (Atomics.compareExchange(cell, VALUE, v, next) === v) break;
  }
  Atomics.notify(cell, VALUE);
}

function tryTakeUnit(cell: Int32Array, ident: number): boolean {
  for (;;) {
    const v = Atomics.load(cell, VALUE);
    if (v <= 0) return false;
    if (Atomics.compareExchange(cell, VALUE, v, v - 1) === v) {
      holdUnits(cell, ident, 1);
      return true;
    }
  }
}

async function takeUnit(
  cell: Int32Array,
  ident: number,
  block: boolean,
  timeout: number | null,
): Promise<boolean> {
  if (tryTakeUnit(cell, ident)) return true;
  if (!block) return false;
  return await waitUntil(cell, VALUE, timeout, () => {
    checkNotFreed(cell, BOUND, FREED_BOUND);
    return tryTakeUnit(cell, ident);
  });
}

function giveUnits(cell: Int32Array, ident: number, n: number): void {
  addUnits(cell, n, true);
  holdUnits(cell, ident, -n);
}

/** A process ended: forget its units, giving them back if it died (not on a clean exit). */
function settleUnitsOf(ident: number, died: boolean): void {
  const id = (ident | 0) || 1;
  for (const cell of semaphoreCells) {
    for (let i = 0; i < SLOTS; i++) {
      const at = SLOTS_AT + SLOT_WORDS * i;
      if (Atomics.load(cell, at + SLOT_OWNER) !== id) continue;
      const units = Atomics.exchange(cell, at + SLOT_UNITS, 0);
      Atomics.store(cell, at + SLOT_OWNER, 0);
      if (died && units > 0) addUnits(cell, units, false);
    }
  }
}

onChildExit(settleUnitsOf);

class SemaphoreCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<SemaphoreCore>("acquire", "release", "getValue");
  readonly cell: Int32Array;
  /** The ident of each remote caller, to settle its units when its process ends. */
  readonly #idents = new Map<Channel, number>();

  constructor(value: number, bound: number | null) {
    super();
    this.cell = newSemaphoreCell(value, bound);
  }

  acquire(caller: Caller, block: boolean, timeout: number | null): Promise<boolean> {
    if (caller.channel) this.#idents.set(caller.channel, caller.ident);
    return takeUnit(this.cell, caller.ident, block, timeout);
  }

  release(caller: Caller, n = 1): void {
    giveUnits(this.cell, caller.ident, n);
  }

  getValue(): number {
    return Atomics.load(this.cell, VALUE);
  }

  override free(): void {
    semaphoreCells.delete(this.cell);
    Atomics.store(this.cell, BOUND, FREED_BOUND);
    Atomics.notify(this.cell, VALUE);
  }

  override dropChannel(channel: Channel, clean: boolean): void {
    const ident = this.#idents.get(channel);
    if (ident === undefined) return;
    this.#idents.delete(channel);
    settleUnitsOf(ident, !clean);
  }
}

const FLAG = 0; // 1 set, 0 clear
const EVENT_WORDS = 1;

function setFlag(cell: Int32Array): void {
  Atomics.store(cell, FLAG, 1);
  Atomics.notify(cell, FLAG);
}

async function waitFlag(cell: Int32Array, timeout: number | null): Promise<boolean> {
  if (Atomics.load(cell, FLAG) === 1) return true;
  if (timeout !== null && timeout <= 0) return false;
  return await waitUntil(cell, FLAG, timeout, () => {
    checkNotFreed(cell, FLAG, FREED);
    return Atomics.load(cell, FLAG) === 1;
  });
}

class EventCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<EventCore>("set", "clear", "isSet", "wait");
  readonly cell: Int32Array = new Int32Array(
    new SharedArrayBuffer(EVENT_WORDS * Int32Array.BYTES_PER_ELEMENT),
  );

  set(): void {
    setFlag(this.cell);
  }
  clear(): void {
    Atomics.store(this.cell, FLAG, 0);
  }
  isSet(): boolean {
    return Atomics.load(this.cell, FLAG) === 1;
  }
  wait(_caller: Caller, timeout: number | null): Promise<boolean> {
    return waitFlag(this.cell, timeout);
  }
  override free(): void {
    if (Atomics.load(this.cell, FLAG) === 1) return; // set for good: its waiters are gone
    Atomics.store(this.cell, FLAG, FREED);
    Atomics.notify(this.cell, FLAG);
  }
}

class ConditionCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<ConditionCore>("wait", "notify");
  waiters: Waiter<boolean>[] = [];

  /** `lockHold`: a hold on the lock's object (made here), which lives as long as this one. */
  constructor(readonly lock: LockCore, readonly lockHold: Ref | null = null) {
    super();
  }

  override free(gone: OSError): void {
    for (const w of this.waiters.splice(0)) w.reject(gone);
    this.lockHold?.release();
  }

  #checkOwned(caller: Caller, what: string): void {
    if (!this.lock.heldBy(caller)) {
      throw new ValueError(`Cannot ${what} a Condition without holding its lock: acquire it first`);
    }
  }

  async wait(caller: Caller, timeout: number | null): Promise<boolean> {
    this.#checkOwned(caller, "wait on");
    const levels = this.lock.releaseAll();
    const w = new Waiter<boolean>(caller, timeout, (me) => {
      this.waiters = this.waiters.filter((x) => x !== me);
      me.resolve(false);
    });
    this.waiters.push(w);
    const notified = await w.promise;
    await this.lock.acquireLevels(caller, levels);
    return notified;
  }

  notify(caller: Caller, n: number | "all"): void {
    this.#checkOwned(caller, "notify");
    const count = n === "all" ? this.waiters.length : n;
    for (const w of this.waiters.splice(0, count)) w.resolve(true);
  }

  override dropChannel(channel: Channel): void {
    this.waiters = this.waiters.filter((w) => w.caller.channel !== channel);
  }
}

interface BarrierTurn {
  index: number;
  runAction: boolean;
  generation: number;
}

class BarrierCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<BarrierCore>(
    "wait",
    "tripped",
    "abort",
    "reset",
    "nWaiting",
    "broken",
  );
  count = 0;
  generation = 0;
  isBroken = false;
  waiters: Waiter<number>[] = [];
  /** The party running the action of the current trip, if any. */
  actionRunner: Caller | null = null;

  constructor(readonly parties: number, readonly hasAction: boolean) {
    super();
  }

  #broken(): BrokenBarrierError {
    return new BrokenBarrierError(
      "The barrier is broken (aborted, reset, timed out or a party died): reset() it to use it again",
    );
  }

  wait(caller: Caller, timeout: number | null): BarrierTurn | Promise<BarrierTurn> {
    if (this.isBroken) throw this.#broken();
    const index = this.count++;
    const generation = this.generation;
    if (this.count === this.parties) {
      if (this.hasAction) {
        this.actionRunner = caller;
        return { index, runAction: true, generation };
      }
      this.#release();
      return { index, runAction: false, generation };
    }
    const w = new Waiter<number>(caller, timeout, () => this.#breakAll());
    this.waiters.push(w);
    return w.promise.then((i) => ({ index: i, runAction: false, generation }));
  }

  /** The last party ran the action: release everyone, or break if it failed. */
  tripped(_caller: Caller, generation: number, ok: boolean): void {
    if (generation !== this.generation || this.isBroken) return;
    this.actionRunner = null;
    if (ok) this.#release();
    else this.#breakAll();
  }

  #release(): void {
    const waiters = this.waiters.splice(0);
    this.count = 0;
    this.generation++;
    waiters.forEach((w, i) => w.resolve(i));
  }

  #breakAll(): void {
    this.isBroken = true;
    this.actionRunner = null;
    this.count = 0;
    for (const w of this.waiters.splice(0)) w.reject(this.#broken());
  }

  abort(): void {
    this.#breakAll();
  }

  reset(): void {
    for (const w of this.waiters.splice(0)) w.reject(this.#broken());
    this.count = 0;
    this.generation++;
    this.isBroken = false;
  }

  nWaiting(): number {
    return this.waiters.length;
  }

  broken(): boolean {
    return this.isBroken;
  }

  override free(gone: OSError): void {
    for (const w of this.waiters.splice(0)) w.reject(gone);
  }

  override dropChannel(channel: Channel): void {
    // A party that dies while waiting, or while running the action, breaks
    // the barrier: the others would wait forever.
    if (
      this.waiters.some((w) => w.caller.channel === channel) ||
      this.actionRunner?.channel === channel
    ) {
      this.actionRunner = null;
      this.#breakAll();
    }
  }
}

// ---------------------------------------------------------------- handles

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
    if (this._cell) return Promise.resolve(Atomics.load(this._cell, VALUE));
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
        Atomics.store(cell, FLAG, 0);
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
      if (cell) return Promise.resolve(Atomics.load(cell, FLAG) === 1);
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
  const cell = core?.cell ?? (st.cell ? adopt(cells, st.cell, ref) : null);
  return [ref, cell];
}

registerReducer("Lock", (s) => received.build(lockFromState(s), () => new Lock()));
registerReducer("RLock", (s) => received.build(lockFromState(s), () => new RLock()));
function cellFromState(
  s: unknown,
  tracked: Set<Int32Array> | null,
): [Ref, Int32Array | null] {
  // A manager's proxies send the bare reference.
  const st = (s as LockState).ref ? s as LockState : { ref: s as RefState, cell: null };
  const ref = Ref.fromState(st.ref);
  const core = ref.core as { cell?: Int32Array } | null;
  const cell = core?.cell ?? st.cell ?? null;
  return [ref, cell && tracked && !core ? adopt(tracked, cell, ref) : cell];
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
