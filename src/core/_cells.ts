/**
 * The Atomics cells behind locks, semaphores and events: a few Int32 words
 * of a `SharedArrayBuffer` each, so every process that shares the memory
 * (the owner and its "worker" children) takes and releases them itself; a
 * "spawn" child asks the owner, which runs the same code on its behalf.
 * Also the cells this process can touch, so that what a child held when it
 * died is given back (see _held.ts).
 *
 * @module
 */

import { sharedMemory } from "./_util.ts";
import { goneError } from "./_shared.ts";
import { ValueError } from "./errors.ts";
import { waitUntil } from "./_ring.ts";
import { HeldMemory } from "./_held.ts";

// ---------------------------------------------------------------- locks

// A lock's state lives in three Int32 words.
const STATE = 0; // 0 free, 1 held, 2 freed (its object is gone)
const HOLDER = 1; // the holder's ident (as an int32)
const LEVELS = 2; // how many times the holder took it (RLock)
const LOCK_WORDS = 3;

const FREED = 2;

/**
 * Every lock cell this process can touch, to release those a dead child
 * held: a cell made here leaves with its object, one that arrived with a
 * handle leaves with the handle.
 */
export const lockCells: HeldMemory<Int32Array> = new HeldMemory<Int32Array>(false, {
  died: (cell, ident) => {
    if (Atomics.load(cell, STATE) === 1 && Atomics.load(cell, HOLDER) === (ident | 0)) {
      freeCell(cell);
    }
  },
});

/** A new lock cell, unlocked. */
export function newLockCell(): Int32Array {
  const cell = new Int32Array(sharedMemory(LOCK_WORDS * Int32Array.BYTES_PER_ELEMENT));
  lockCells.add(cell);
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

/** Takes the lock for `ident` (again, when `recursive` and it holds it); false when not in time. */
export async function acquireCell(
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

/** Unlocks the lock, whatever its levels, and wakes one waiter. */
export function freeCell(cell: Int32Array): void {
  Atomics.store(cell, HOLDER, 0);
  Atomics.store(cell, LEVELS, 0);
  Atomics.store(cell, STATE, 0);
  Atomics.notify(cell, STATE, 1);
}

/** Releases one level of the lock for `ident` (a `ValueError` if not held, or another's RLock). */
export function releaseCell(cell: Int32Array, recursive: boolean, ident: number): void {
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

/** Whether `ident` holds the lock. */
export function lockHeldBy(cell: Int32Array, ident: number): boolean {
  return Atomics.load(cell, STATE) === 1 && Atomics.load(cell, HOLDER) === (ident | 0);
}

/** Sets how many times the holder took the lock (a Condition restoring its lock). */
export function setLevels(cell: Int32Array, count: number): void {
  cell[LEVELS] = count;
}

/** Releases every level and returns how many there were. */
export function releaseAllLevels(cell: Int32Array): number {
  const levels = cell[LEVELS];
  freeCell(cell);
  return levels;
}

/** The lock's object is gone: waiters (through a handle closed while they waited) wake and fail. */
export function freeLockCell(cell: Int32Array): void {
  lockCells.delete(cell);
  Atomics.store(cell, STATE, FREED);
  Atomics.notify(cell, STATE);
}

// ---------------------------------------------------------------- semaphores

// A semaphore's cell: its value, its bound (-1: none), then SLOTS pairs of
// (process ident, units that process holds), to give back a dead process's
// units.
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

/**
 * Every semaphore cell this process can touch: as a child ends, its units
 * are forgotten, and given back if it died (not on a clean exit).
 */
export const semaphoreCells: HeldMemory<Int32Array> = new HeldMemory<Int32Array>(false, {
  ended: settleUnitsIn,
});

/** A new semaphore cell with `value` units (a bounded one refuses to go above `bound`). */
export function newSemaphoreCell(value: number, bound: number | null): Int32Array {
  const cell = new Int32Array(
    sharedMemory(SEMAPHORE_WORDS * Int32Array.BYTES_PER_ELEMENT),
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

/** Takes one unit for `ident`; false when none came in time. */
export async function takeUnit(
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

/** Gives back `n` units `ident` took (a `ValueError` above a bounded semaphore's bound). */
export function giveUnits(cell: Int32Array, ident: number, n: number): void {
  addUnits(cell, n, true);
  holdUnits(cell, ident, -n);
}

/** The semaphore's value now. */
export function semaphoreValue(cell: Int32Array): number {
  return Atomics.load(cell, VALUE);
}

/** A process ended: forget its units, giving them back if it died (not on a clean exit). */
export function settleUnitsOf(ident: number, died: boolean): void {
  semaphoreCells.forEach((cell) => settleUnitsIn(cell, ident, died));
}

/** {@linkcode settleUnitsOf} in one cell. */
function settleUnitsIn(cell: Int32Array, ident: number, died: boolean): void {
  const id = (ident | 0) || 1;
  for (let i = 0; i < SLOTS; i++) {
    const at = SLOTS_AT + SLOT_WORDS * i;
    if (Atomics.load(cell, at + SLOT_OWNER) !== id) continue;
    const units = Atomics.exchange(cell, at + SLOT_UNITS, 0);
    Atomics.store(cell, at + SLOT_OWNER, 0);
    if (died && units > 0) addUnits(cell, units, false);
  }
}

/** The semaphore's object is gone: waiters wake and fail. */
export function freeSemaphoreCell(cell: Int32Array): void {
  semaphoreCells.delete(cell);
  Atomics.store(cell, BOUND, FREED_BOUND);
  Atomics.notify(cell, VALUE);
}

// ---------------------------------------------------------------- events

// An event's cell: one flag.
const FLAG = 0; // 1 set, 0 clear
const EVENT_WORDS = 1;

/** A new event cell, clear. */
export function newFlagCell(): Int32Array {
  return new Int32Array(sharedMemory(EVENT_WORDS * Int32Array.BYTES_PER_ELEMENT));
}

/** Sets the flag and wakes every waiter. */
export function setFlag(cell: Int32Array): void {
  Atomics.store(cell, FLAG, 1);
  Atomics.notify(cell, FLAG);
}

/** Clears the flag. */
export function clearFlag(cell: Int32Array): void {
  Atomics.store(cell, FLAG, 0);
}

/** Whether the flag is set. */
export function isFlagSet(cell: Int32Array): boolean {
  return Atomics.load(cell, FLAG) === 1;
}

/** Waits until the flag is set (`true`) or `timeout` ms pass (`false`). */
export async function waitFlag(cell: Int32Array, timeout: number | null): Promise<boolean> {
  if (Atomics.load(cell, FLAG) === 1) return true;
  if (timeout !== null && timeout <= 0) return false;
  return await waitUntil(cell, FLAG, timeout, () => {
    checkNotFreed(cell, FLAG, FREED);
    return Atomics.load(cell, FLAG) === 1;
  });
}

/** The event's object is gone: its waiters wake and fail (unless it is set for good). */
export function freeFlagCell(cell: Int32Array): void {
  if (Atomics.load(cell, FLAG) === 1) return; // set for good: its waiters are gone
  Atomics.store(cell, FLAG, FREED);
  Atomics.notify(cell, FLAG);
}
