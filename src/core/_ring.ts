/**
 * A queue's items in shared memory: a ring of length-prefixed records in a
 * `SharedArrayBuffer`, guarded by a small Atomics mutex, with a change
 * counter to wait on. Every process that shares the memory (the owner and
 * its "worker" children) puts and gets directly; nothing goes through the
 * main thread. Items larger than {@linkcode BIG_ITEM} are parked with the
 * owner and the ring carries a pointer to them, in order.
 *
 * A "worker" that pops a record holds it: the record's bytes stay where
 * they were (pushes stop short of the oldest held record) until the worker
 * releases it, once its program has the item. A worker reported dead (at
 * `kill()`, or when it ended with an error) takes and puts nothing more,
 * and the records it held go back to the front, oldest first; one that
 * ended cleanly had handed its records over. The process that started the
 * worker does this ({@linkcode settleHoldsOf}), on every ring it knows.
 *
 * @module
 */

import { holdAlive, sharedMemory } from "./_util.ts";
import { copyBytes, copyInto } from "./_wire/codec.ts";
import { HeldMemory } from "./_held.ts";

const MUTEX = 0; // 0 free, else its holder's lockMark (one compare-and-swap takes it and names the holder)
const HEAD = 1; // byte offset of the next record to read
const TAIL = 2; // byte offset where the next record is written
const COUNT = 3; // records in the ring
const USED = 4; // bytes in use
const SEQ = 5; // bumped on every change; waiters wait on it
const UNFINISHED = 6; // JoinableQueue: items put and not yet marked done
// word 7 is spare
const MAXSIZE = 8; // most records (0: no limit)
const OVERFLOW = 9; // items waiting in the owner's list (newer than every record in the ring)
const GETTERS = 10; // callers waiting in the owner's get(): they come first
const PUTTERS = 11; // callers waiting in the owner's put(): they come first
const HELD = 12; // holds in use (held or returned), see below
const RETURNED = 13; // records returned by dead holders, waiting to be taken again
const INFLIGHT = 14; // 1 + the hold a pop is filling under the mutex (0: none)
const BARRED_NEXT = 15; // 1 + where the next barred ident goes (0: none barred yet)
const HOLDS = 16; // the holds: HOLD_WORDS words each
/**
 * A hold: a record a "worker" process popped and has not handed to its
 * program yet. Its bytes stay where they were in the ring (nothing is
 * written over them: pushes stop at the oldest held record), so when that
 * process dies the record goes back to the front of the queue where it is.
 */
const HOLD_STATE = 0; // FREE, BACK (its holder died) or its holder's mark (holderMark)
// word 1 of a hold is spare
const HOLD_AT = 2; // where the record starts (its length header)
const HOLD_BYTES = 3; // header + payload
const HOLD_USED = 4; // USED and COUNT before the pop (to finish one its holder died in)
const HOLD_COUNT = 5;
const HOLD_WORDS = 6;
const FREE = 0;
const BACK = -1;

/**
 * What the state of a hold taken by `ident` reads: the ident itself, so
 * that its holder lets go and the death of its holder sends it back each
 * with one compare-and-swap, whichever comes first (no mutex needed).
 */
function holderMark(ident: number): number {
  const mark = ident | 0;
  return mark === FREE ? 1 : mark === BACK ? 2 : mark;
}
/** How many records can be held at once; a worker that finds none free gets through the owner. */
export const MAX_HOLDS = 32;
/**
 * Idents of processes reported dead (the most recent few): a "worker" is
 * reported dead at `kill()` and may run on a moment, but it takes and puts
 * nothing more (what it held went back already).
 */
const BARRED = HOLDS + MAX_HOLDS * HOLD_WORDS;
const MAX_BARRED = 8;
const CONTROL_WORDS = BARRED + MAX_BARRED;

/**
 * Idents this process found barred in some ring. A process is barred ring
 * by ring (the process that started it walks its rings one after the
 * other), so one that found itself barred in one ring lets go of no hold in
 * any ring from then on: a report it put that was dropped in one ring must
 * not see its item released in another (that item would be lost), and what
 * it holds goes back when its starter gets to that ring.
 */
const foundBarred = new Set<number>();

/** Whether `ident` was reported dead (call with the mutex). */
function barred(control: Int32Array, ident: number): boolean {
  if (control[BARRED_NEXT] === 0) return false;
  for (let i = BARRED; i < BARRED + MAX_BARRED; i++) {
    if (control[i] === (ident | 0)) {
      foundBarred.add(ident | 0);
      return true;
    }
  }
  return false;
}

/** A record longer than this is parked with the owner (the ring carries a pointer). */
export const BIG_ITEM = 64 * 1024;
/** The ring's size in bytes. */
export const RING_BYTES = 1024 * 1024;
const POINTER = 0xffffffff;

/** The shared memory of one queue. */
export interface Ring {
  readonly control: Int32Array;
  readonly data: Uint8Array;
}

/** What `pop` found: the item's bytes, or the id of an item parked with the owner. */
export type Popped = { bytes: Uint8Array } | { parked: number };

/**
 * Every ring this process can touch (made here or arrived), weakly: what a
 * child that went held in them is settled as it goes (the mutex it died
 * with, then its holds).
 */
const rings = new HeldMemory<Int32Array>(true, {
  died: freeMutexHeldBy,
  ended: settleHoldsIn,
  // A killed worker may run on a moment: from the kill on it takes and puts nothing.
  killed: (control, ident) => settleHoldsIn(control, ident, true),
});

/**
 * Rings of freed queues that no other process ever saw, for the next
 * queues: a megabyte allocated and dropped per queue made in a loop grows
 * the resident size under glibc (whose threshold for mapping big blocks
 * rises once one is freed, so the next ones come zero-filled from the heap).
 */
const spare: Ring[] = [];
const SPARE_RINGS = 4;

/** Keeps the ring of a freed queue for reuse; only for one no other process shares. */
export function recycleRing(ring: Ring): void {
  if (spare.length < SPARE_RINGS) spare.push(ring);
}

/** A new ring for a queue of at most `maxsize` items (0: no limit). */
export function newRing(maxsize: number): Ring {
  const reused = spare.pop();
  if (reused) {
    reused.control.fill(0);
    reused.control[MAXSIZE] = maxsize;
    return reused;
  }
  const control = new Int32Array(
    sharedMemory(CONTROL_WORDS * Int32Array.BYTES_PER_ELEMENT),
  );
  control[MAXSIZE] = maxsize;
  // A growable buffer (that never grows): V8 maps its pages afresh instead of
  // taking a zero-filled megabyte from glibc's heap, which it does once any
  // big block was freed, making the whole ring resident at once (20k queues
  // left to the collector held 6.5 GiB under Deno; 0.2 GiB so). Bun is
  // unaffected either way.
  const buffer = sharedMemory(RING_BYTES, { maxByteLength: RING_BYTES });
  const ring = { control, data: new Uint8Array(buffer, 0, RING_BYTES) };
  rings.add(control);
  return ring;
}

/** Tracks a ring that arrived from another process (for {@linkcode freeRingsHeldBy}). */
export function adoptRing(ring: Ring): Ring {
  rings.add(ring.control);
  return ring;
}

/**
 * Whether `ident` holds the mutex, after giving it a moment to let go: a
 * "worker" reported dead may still run (briefly) and be in its critical
 * section, which is then not to be cut short.
 */
function heldBy(control: Int32Array, ident: number): boolean {
  const mine = () => Atomics.load(control, MUTEX) === lockMark(ident);
  if (!mine()) return false;
  const until = performance.now() + 5;
  while (performance.now() < until) if (!mine()) return false;
  return true;
}

/** Frees the mutex of every ring a dead process held (it died mid-operation). */
export function freeRingsHeldBy(ident: number): void {
  rings.forEach((control) => freeMutexHeldBy(control, ident));
}

/** Frees the mutex of a ring if the dead process `ident` held it. */
function freeMutexHeldBy(control: Int32Array, ident: number): void {
  if (heldBy(control, ident)) {
    const inflight = control[INFLIGHT] - 1;
    if (inflight >= 0) finishPop(control, inflight, ident);
    Atomics.store(control, MUTEX, 0);
  }
}

/**
 * A process died inside {@linkcode pop} for a holder, with the mutex: if
 * HEAD had not moved, nothing was taken (the hold goes); otherwise the pop
 * is finished (the record is held, and goes back with the others).
 */
function finishPop(control: Int32Array, h: number, ident: number): void {
  const base = HOLDS + h * HOLD_WORDS;
  control[INFLIGHT] = 0;
  if (control[base + HOLD_STATE] !== holderMark(ident)) return;
  if (control[HEAD] === control[base + HOLD_AT]) {
    // Nothing was taken yet.
    control[USED] = control[base + HOLD_USED];
    control[COUNT] = control[base + HOLD_COUNT];
    Atomics.store(control, base + HOLD_STATE, FREE);
    Atomics.sub(control, HELD, 1);
    return;
  }
  control[USED] = control[base + HOLD_USED] - control[base + HOLD_BYTES];
  control[COUNT] = control[base + HOLD_COUNT] - 1;
}

/**
 * What the mutex word reads while `ident` holds it: never 0 (free). The
 * process that started the others locks as 0, which reads -2 (no child's
 * ident is 0). Taking the mutex and naming its holder is one
 * compare-and-swap, so a process stopped at any instruction (a "worker"
 * terminated) leaves a mutex either free or named, which its starter frees.
 */
function lockMark(ident: number): number {
  const mark = ident | 0;
  return mark === 0 ? -2 : mark;
}

function lock(control: Int32Array, ident: number): void {
  const mark = lockMark(ident);
  // Critical sections copy at most BIG_ITEM bytes: spinning is cheap.
  while (Atomics.compareExchange(control, MUTEX, 0, mark) !== 0) {
    // spin
  }
}

function unlock(control: Int32Array, changed: boolean): void {
  Atomics.store(control, MUTEX, 0);
  if (changed) {
    Atomics.add(control, SEQ, 1);
    Atomics.notify(control, SEQ);
  }
}

function write(data: Uint8Array, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (at + n <= data.length) copyInto(data, at, bytes, 0, n);
  else {
    const first = data.length - at;
    data.set(bytes.subarray(0, first), at);
    data.set(bytes.subarray(first), 0);
  }
  return (at + n) % data.length;
}

/** Writes a big-endian u32 at `at` (wrapping); returns where it ends. */
function writeU32(data: Uint8Array, at: number, value: number): number {
  const len = data.length;
  data[at] = value >>> 24;
  data[(at + 1) % len] = value >>> 16;
  data[(at + 2) % len] = value >>> 8;
  data[(at + 3) % len] = value;
  return (at + 4) % len;
}

/** Reads a big-endian u32 at `at` (wrapping). */
function readU32(data: Uint8Array, at: number): number {
  const len = data.length;
  return ((data[at] << 24) | (data[(at + 1) % len] << 16) | (data[(at + 2) % len] << 8) |
    data[(at + 3) % len]) >>> 0;
}

function read(data: Uint8Array, at: number, n: number): [Uint8Array, number] {
  let out: Uint8Array;
  if (at + n <= data.length) out = copyBytes(data, at, n);
  else {
    out = new Uint8Array(n);
    const first = data.length - at;
    out.set(data.subarray(at, data.length));
    out.set(data.subarray(0, n - first), first);
  }
  return [out, (at + n) % data.length];
}

function u32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  writeU32(b, 0, value);
  return b;
}

/** How many items the queue holds now: in the ring and in the owner's list. */
export function count(ring: Ring): number {
  return Atomics.load(ring.control, COUNT) + Atomics.load(ring.control, OVERFLOW);
}

/** The most items the queue holds (0: no limit). */
export function maxsizeOf(ring: Ring): number {
  return ring.control[MAXSIZE];
}

/** Whether the queue is at its maxsize. */
export function isFull(ring: Ring): boolean {
  const max = maxsizeOf(ring);
  return max > 0 && count(ring) >= max;
}

/** Items waiting in the owner's list: while any do, new items go there too (FIFO). */
export function overflowing(ring: Ring): boolean {
  return Atomics.load(ring.control, OVERFLOW) > 0;
}

/** The owner's list grew or shrank by `delta` items (and, growing, so did the unfinished count). */
export function addOverflow(ring: Ring, delta: number, ident: number): void {
  lock(ring.control, ident);
  ring.control[OVERFLOW] += delta;
  if (delta > 0) ring.control[UNFINISHED] += delta;
  unlock(ring.control, true);
}

/** The change counter, to wait on with {@linkcode waitForChange}. */
export function sequence(ring: Ring): number {
  return Atomics.load(ring.control, SEQ);
}

/**
 * What {@linkcode push} did: the item is in the ring (`Done`); the queue is
 * at its maxsize (`Full`); or there is no room in the ring, or older items
 * wait in the owner's list, so the owner must take it (`ToOwner`).
 */
export const Pushed = { Done: 0, Full: 1, ToOwner: 2 } as const;
/** One of {@linkcode Pushed}. */
export type Pushed = (typeof Pushed)[keyof typeof Pushed];

/**
 * Appends an item (its bytes, or a pointer to an item parked with the
 * owner). `fromOverflow`: the owner moving the head of its list in.
 * `commit`: called with the mutex just before the item lands; false drops
 * the item (a put that reports items got lets go of their holds in it, so
 * a kill leaves the report and the holds both or neither).
 */
export function push(
  ring: Ring,
  item: { bytes: Uint8Array } | { parked: number },
  ident: number,
  fromOverflow = false,
  commit?: () => boolean,
): Pushed {
  const { control, data } = ring;
  const payload = "bytes" in item ? item.bytes : u32(item.parked);
  const need = 4 + payload.length;
  lock(control, ident);
  if (barred(control, ident)) {
    // Reported dead: its item never lands (as if it had died before this put).
    unlock(control, false);
    return Pushed.Done;
  }
  const max = control[MAXSIZE];
  const held = control[COUNT] + control[OVERFLOW];
  if (!fromOverflow && max > 0 && held >= max) {
    unlock(control, false);
    return Pushed.Full;
  }
  // A new item must not overtake those waiting in the owner's list.
  if (
    (!fromOverflow && control[OVERFLOW] > 0) ||
    control[USED] + reserved(control, data.length) + need > data.length
  ) {
    unlock(control, false);
    return Pushed.ToOwner;
  }
  let tail = writeU32(data, control[TAIL], "bytes" in item ? payload.length : POINTER);
  tail = write(data, tail, payload);
  if (commit && !commit()) {
    // Its holds went back (it was reported dead): the item never lands.
    unlock(control, false);
    return Pushed.Done;
  }
  control[TAIL] = tail;
  control[USED] += need;
  control[COUNT]++;
  if (fromOverflow) control[OVERFLOW]--;
  else control[UNFINISHED]++;
  unlock(control, true);
  return Pushed.Done;
}

/**
 * What {@linkcode pop} found: the item's bytes or the id of an item parked
 * with the owner, and `hold`: when popped for a holder, the hold that keeps
 * the record until {@linkcode release} (or until the holder dies).
 */
export type Taken = Popped & { hold: number };

/**
 * Takes the next record (one returned by a dead holder first), or null
 * when the ring is empty. With `hold`, the record stays in the ring, held
 * by `ident` until {@linkcode release}: if `ident` dies first it goes back
 * to the front ({@linkcode settleHoldsOf}). `undefined`: every hold is in
 * use (take the item another way).
 */
export function pop(ring: Ring, ident: number, hold = false): Taken | null | undefined {
  const { control, data } = ring;
  lock(control, ident);
  if (control[COUNT] === 0 || barred(control, ident)) {
    unlock(control, false);
    return null;
  }
  const back = control[RETURNED] > 0 ? oldestHold(control, BACK) : -1;
  if (back >= 0) {
    const h = back;
    const at = control[HOLDS + h * HOLD_WORDS + HOLD_AT];
    const popped = readRecord(data, at);
    control[COUNT]--;
    control[RETURNED]--;
    const base = HOLDS + h * HOLD_WORDS;
    if (hold) Atomics.store(control, base + HOLD_STATE, holderMark(ident));
    else {
      Atomics.store(control, base + HOLD_STATE, FREE);
      Atomics.sub(control, HELD, 1);
    }
    unlock(control, true);
    return { ...popped[0], hold: hold ? h : -1 };
  }
  const at = control[HEAD];
  const length = readU32(data, at);
  const bytes = 4 + (length === POINTER ? 4 : length);
  let h = -1;
  if (hold) {
    h = freeHold(control);
    if (h < 0) {
      unlock(control, false);
      return undefined;
    }
    // Written before the ring changes, so the death of this process at any
    // point below leaves enough to finish or undo the pop (finishPop).
    const base = HOLDS + h * HOLD_WORDS;
    control[base + HOLD_AT] = at;
    control[base + HOLD_BYTES] = bytes;
    control[base + HOLD_USED] = control[USED];
    control[base + HOLD_COUNT] = control[COUNT];
    control[INFLIGHT] = h + 1;
    Atomics.add(control, HELD, 1); // first: one too many costs a scan, one too few a record
    Atomics.store(control, base + HOLD_STATE, holderMark(ident));
  }
  const [popped] = readRecord(data, at);
  control[HEAD] = (at + bytes) % data.length;
  control[USED] -= bytes;
  control[COUNT]--;
  control[INFLIGHT] = 0;
  unlock(control, true);
  return { ...popped, hold: h };
}

/** The record at `at`: its item, and its size with the header. */
function readRecord(data: Uint8Array, at: number): [Popped, number] {
  const length = readU32(data, at);
  const parked = length === POINTER;
  const n = parked ? 4 : length;
  const [payload] = read(data, (at + 4) % data.length, n);
  return [parked ? { parked: readU32(payload, 0) } : { bytes: payload }, 4 + n];
}

/** A free hold, or -1. */
function freeHold(control: Int32Array): number {
  for (let h = 0; h < MAX_HOLDS; h++) {
    if (control[HOLDS + h * HOLD_WORDS + HOLD_STATE] === FREE) return h;
  }
  return -1;
}

/** How far behind HEAD a held record starts (bytes). */
function behindHead(control: Int32Array, length: number, h: number): number {
  return (control[HEAD] - control[HOLDS + h * HOLD_WORDS + HOLD_AT] + length) % length;
}

/** The hold in `state` whose record is oldest (furthest behind HEAD). */
function oldestHold(control: Int32Array, state: number): number {
  let best = -1;
  let far = -1;
  for (let h = 0; h < MAX_HOLDS; h++) {
    if (control[HOLDS + h * HOLD_WORDS + HOLD_STATE] !== state) continue;
    const d = behindHead(control, RING_BYTES, h);
    if (d > far) (far = d), (best = h);
  }
  return best;
}

/** Bytes behind HEAD that held or returned records keep from being written over. */
function reserved(control: Int32Array, length: number): number {
  if (control[HELD] === 0) return 0;
  let far = 0;
  for (let h = 0; h < MAX_HOLDS; h++) {
    if (control[HOLDS + h * HOLD_WORDS + HOLD_STATE] === FREE) continue;
    far = Math.max(far, behindHead(control, length, h));
  }
  return far;
}

/**
 * The holder handed the record of `hold` to its program: the record is
 * gone from the queue for good. Only the holder (`ident`) calls it. False
 * when its holder was reported dead first (the record went back).
 */
export function release(ring: Ring, hold: number, ident: number): boolean {
  const { control } = ring;
  // Found barred elsewhere: this hold goes back too, once its ring hears of it.
  if (foundBarred.has(ident | 0)) return false;
  const mark = holderMark(ident);
  // Not when its holder was reported dead first: the record went back (and may be another's).
  if (
    Atomics.compareExchange(control, HOLDS + hold * HOLD_WORDS + HOLD_STATE, mark, FREE) !== mark
  ) {
    return false;
  }
  Atomics.sub(control, HELD, 1);
  // Room behind HEAD came free: wake putters only when room may be short.
  if (Atomics.load(control, USED) > ring.data.length / 2) {
    Atomics.add(control, SEQ, 1);
    Atomics.notify(control, SEQ);
  }
  return true;
}

/**
 * A process ended: the records it held go back to the front of the queue
 * (`died`), or are gone for good (it ended cleanly: its program had them).
 * Run after {@linkcode freeRingsHeldBy}, in the process that started it.
 */
export function settleHoldsOf(ident: number, died: boolean): void {
  rings.forEach((control) => settleHoldsIn(control, ident, died));
}

/** {@linkcode settleHoldsOf} in one ring. */
function settleHoldsIn(control: Int32Array, ident: number, died: boolean): void {
  if (!died && Atomics.load(control, HELD) === 0) return;
  let back = 0;
  lock(control, 0);
  if (died && !barred(control, ident)) {
    // From now on it takes and puts nothing, should it still run a moment.
    const next = control[BARRED_NEXT] % MAX_BARRED;
    control[BARRED + next] = ident | 0;
    control[BARRED_NEXT] = next + 1;
  }
  for (let h = 0; h < MAX_HOLDS; h++) {
    const base = HOLDS + h * HOLD_WORDS;
    const mark = holderMark(ident);
    if (Atomics.compareExchange(control, base + HOLD_STATE, mark, died ? BACK : FREE) !== mark) {
      continue; // not its hold, or it let go first
    }
    if (died) {
      control[RETURNED]++;
      control[COUNT]++;
      back++;
    } else Atomics.sub(control, HELD, 1);
  }
  unlock(control, back > 0);
}

/** The owner publishes how many of its callers wait to get and to put (they are served first). */
export function publishWaiting(ring: Ring, getters: number, putters: number): void {
  Atomics.store(ring.control, GETTERS, getters);
  Atomics.store(ring.control, PUTTERS, putters);
}

/** Whether callers wait in the owner's get() (a worker must not take items before them). */
export function ownerGetters(ring: Ring): boolean {
  return Atomics.load(ring.control, GETTERS) > 0;
}

/** Whether callers wait in the owner's put() (a worker must not put before them). */
export function ownerPutters(ring: Ring): boolean {
  return Atomics.load(ring.control, PUTTERS) > 0;
}

/** JoinableQueue: marks one item done; false if none was unfinished. */
export function taskDone(ring: Ring, ident: number): boolean {
  const { control } = ring;
  lock(control, ident);
  if (control[UNFINISHED] <= 0) {
    unlock(control, false);
    return false;
  }
  control[UNFINISHED]--;
  unlock(control, true);
  return true;
}

/** JoinableQueue: items put and not yet marked done. */
export function unfinished(ring: Ring): number {
  return Atomics.load(ring.control, UNFINISHED);
}

/**
 * Longest single wait (ms): callers loop on their condition, so a wake-up
 * lost between threads costs at most this.
 */
export const WAIT_SLICE = 50;

/**
 * Waits until `ready()` holds, re-checking each time `cells[index]` changes
 * (and at least every {@linkcode WAIT_SLICE} ms, against lost wake-ups), or
 * until `timeout` ms pass (null: no limit); resolves with whether it held.
 * Keeps the program alive meanwhile: `Atomics.waitAsync` alone does not on Deno.
 */
export async function waitUntil(
  cells: Int32Array,
  index: number,
  timeout: number | null,
  ready: () => boolean,
): Promise<boolean> {
  const deadline = timeout === null ? Infinity : performance.now() + timeout;
  const release = holdAlive();
  try {
    for (;;) {
      const seen = Atomics.load(cells, index);
      if (ready()) return true;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      await waitOnWord(cells, index, seen, Math.min(remaining, WAIT_SLICE));
    }
  } finally {
    release();
  }
}

/** {@linkcode waitUntil} on a ring's change counter. */
export function waitOnRing(
  ring: Ring,
  timeout: number | null,
  ready: () => boolean,
): Promise<boolean> {
  return waitUntil(ring.control, SEQ, timeout, ready);
}

/** Resolves when the ring changed since `seen`, or after `ms` (null: no limit), or a slice. */
export async function waitForChange(ring: Ring, seen: number, ms: number | null): Promise<void> {
  const slice = ms === null ? WAIT_SLICE : Math.max(0, Math.min(ms, WAIT_SLICE));
  await waitOnWord(ring.control, SEQ, seen, slice);
}

/**
 * `Atomics.waitAsync` raced against a timer: Bun's waitAsync on the main
 * thread can miss both a notify from a worker and its own timeout.
 */
export async function waitOnWord(
  cells: Int32Array,
  index: number,
  value: number,
  ms: number,
): Promise<void> {
  const waited = Atomics.waitAsync(cells, index, value, ms);
  if (!waited.async) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    waited.value,
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms + 1))),
  ]);
  clearTimeout(timer);
}
