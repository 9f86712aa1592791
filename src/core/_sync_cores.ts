/**
 * The owner side of the synchronization primitives (see synchronize.ts):
 * the cores a handle's reference names, which run in the process that made
 * the primitive, on their cells (see _cells.ts) for a lock, semaphore or
 * event, and for other processes' calls.
 *
 * @module
 */

import type { Channel } from "./_wire/channel.ts";
import { type Caller, expose, type Ref, SharedCore, Waiter } from "./_shared.ts";
import { BrokenBarrierError, type OSError, ValueError } from "./errors.ts";
import {
  acquireCell,
  clearFlag,
  freeCell,
  freeFlagCell,
  freeLockCell,
  freeSemaphoreCell,
  giveUnits,
  isFlagSet,
  lockHeldBy,
  newFlagCell,
  newLockCell,
  newSemaphoreCell,
  releaseAllLevels,
  releaseCell,
  semaphoreValue,
  setFlag,
  setLevels,
  settleUnitsOf,
  takeUnit,
  waitFlag,
} from "./_cells.ts";

/** The cores behind a {@linkcode SemLock}: a lock's or a semaphore's. */
export type SemLockCore = LockCore | SemaphoreCore;

/** A lock's or RLock's owner side: its cell, and who took it from another process. */
export class LockCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<LockCore>("acquire", "release");
  readonly cell: Int32Array = newLockCell();
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
    if (await this.acquire(caller, true, null)) setLevels(this.cell, count);
  }

  release(caller: Caller): void {
    releaseCell(this.cell, this.recursive, caller.ident);
  }

  /** Whether `caller` holds the lock. */
  heldBy(caller: Caller): boolean {
    return lockHeldBy(this.cell, caller.ident);
  }

  /** Releases every level and returns how many there were. */
  releaseAll(): number {
    return releaseAllLevels(this.cell);
  }

  override free(): void {
    // Waiters (through a handle closed while they waited) wake and fail.
    freeLockCell(this.cell);
  }

  override dropChannel(channel: Channel, clean: boolean): void {
    const holder = this.#remoteHolder;
    if (!clean && holder?.channel === channel && this.heldBy(holder)) freeCell(this.cell);
    if (holder?.channel === channel) this.#remoteHolder = null;
  }
}

/** A semaphore's owner side: its cell, and the idents of the processes that took from it. */
export class SemaphoreCore extends SharedCore {
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
    return semaphoreValue(this.cell);
  }

  override free(): void {
    freeSemaphoreCell(this.cell);
  }

  override dropChannel(channel: Channel, clean: boolean): void {
    const ident = this.#idents.get(channel);
    if (ident === undefined) return;
    this.#idents.delete(channel);
    settleUnitsOf(ident, !clean);
  }
}

/** An event's owner side: its cell. */
export class EventCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<EventCore>("set", "clear", "isSet", "wait");
  readonly cell: Int32Array = newFlagCell();

  set(): void {
    setFlag(this.cell);
  }
  clear(): void {
    clearFlag(this.cell);
  }
  isSet(): boolean {
    return isFlagSet(this.cell);
  }
  wait(_caller: Caller, timeout: number | null): Promise<boolean> {
    return waitFlag(this.cell, timeout);
  }
  override free(): void {
    freeFlagCell(this.cell);
  }
}

/** A condition's owner side: its waiters, over its lock's core. */
export class ConditionCore extends SharedCore {
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

/** What a party's `wait` on a barrier answers: its index, and whether it runs the action. */
export interface BarrierTurn {
  index: number;
  runAction: boolean;
  generation: number;
}

/** A barrier's owner side: who waits, in which generation, and who runs the action. */
export class BarrierCore extends SharedCore {
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
