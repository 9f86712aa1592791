/**
 * A queue's items in shared memory: a ring of length-prefixed records in a
 * `SharedArrayBuffer`, guarded by a small Atomics mutex, with a change
 * counter to wait on. Every process that shares the memory (the owner and
 * its "worker" children) puts and gets directly; nothing goes through the
 * main thread. Items larger than {@linkcode BIG_ITEM} are parked with the
 * owner and the ring carries a pointer to them, in order.
 *
 * @module
 */

import { holdAlive } from "./_util.ts";
import { copyBytes, copyInto } from "./_codec.ts";

const MUTEX = 0; // 0 free, 1 held
const HEAD = 1; // byte offset of the next record to read
const TAIL = 2; // byte offset where the next record is written
const COUNT = 3; // records in the ring
const USED = 4; // bytes in use
const SEQ = 5; // bumped on every change; waiters wait on it
const UNFINISHED = 6; // JoinableQueue: items put and not yet marked done
const HOLDER = 7; // ident of the mutex holder, to free it if that process dies
const MAXSIZE = 8; // most records (0: no limit)
const OVERFLOW = 9; // items waiting in the owner's list (newer than every record in the ring)
const GETTERS = 10; // callers waiting in the owner's get(): they come first
const PUTTERS = 11; // callers waiting in the owner's put(): they come first
const CONTROL_WORDS = 12;

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

const rings = new Set<WeakRef<Int32Array>>();
/** The size at which `rings` is next swept of collected rings (queues made in a loop). */
let sweepAt = 1024;

function trackRing(control: Int32Array): void {
  if (rings.size >= sweepAt) {
    for (const ref of rings) if (!ref.deref()) rings.delete(ref);
    sweepAt = Math.max(1024, 2 * rings.size);
  }
  rings.add(new WeakRef(control));
}

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
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  control[MAXSIZE] = maxsize;
  // A growable buffer (that never grows): V8 maps its pages afresh instead of
  // taking a zero-filled megabyte from glibc's heap, which it does once any
  // big block was freed, making the whole ring resident at once (20k queues
  // left to the collector held 6.5 GiB under Deno; 0.2 GiB so). Bun is
  // unaffected either way.
  const buffer = new SharedArrayBuffer(RING_BYTES, { maxByteLength: RING_BYTES });
  const ring = { control, data: new Uint8Array(buffer, 0, RING_BYTES) };
  trackRing(control);
  return ring;
}

/** Tracks a ring that arrived from another process (for {@linkcode freeRingsHeldBy}). */
export function adoptRing(ring: Ring): Ring {
  trackRing(ring.control);
  return ring;
}

/** Frees the mutex of every ring a dead process held (it died mid-operation). */
export function freeRingsHeldBy(ident: number): void {
  for (const ref of rings) {
    const control = ref.deref();
    if (!control) {
      rings.delete(ref);
      continue;
    }
    if (Atomics.load(control, MUTEX) === 1 && Atomics.load(control, HOLDER) === (ident | 0)) {
      Atomics.store(control, HOLDER, 0);
      Atomics.store(control, MUTEX, 0);
    }
  }
}

function lock(control: Int32Array, ident: number): void {
  // Critical sections copy at most BIG_ITEM bytes: spinning is cheap.
  while (Atomics.compareExchange(control, MUTEX, 0, 1) !== 0) {
    // spin
  }
  control[HOLDER] = ident | 0;
}

function unlock(control: Int32Array, changed: boolean): void {
  control[HOLDER] = 0;
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

/** Whether the queue is at its maxsize. */
export function isFull(ring: Ring): boolean {
  const max = ring.control[MAXSIZE];
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
 */
export function push(
  ring: Ring,
  item: { bytes: Uint8Array } | { parked: number },
  ident: number,
  fromOverflow = false,
): Pushed {
  const { control, data } = ring;
  const payload = "bytes" in item ? item.bytes : u32(item.parked);
  const need = 4 + payload.length;
  lock(control, ident);
  const max = control[MAXSIZE];
  const held = control[COUNT] + control[OVERFLOW];
  if (!fromOverflow && max > 0 && held >= max) {
    unlock(control, false);
    return Pushed.Full;
  }
  // A new item must not overtake those waiting in the owner's list.
  if ((!fromOverflow && control[OVERFLOW] > 0) || control[USED] + need > data.length) {
    unlock(control, false);
    return Pushed.ToOwner;
  }
  let tail = writeU32(data, control[TAIL], "bytes" in item ? payload.length : POINTER);
  tail = write(data, tail, payload);
  control[TAIL] = tail;
  control[USED] += need;
  control[COUNT]++;
  if (fromOverflow) control[OVERFLOW]--;
  else control[UNFINISHED]++;
  unlock(control, true);
  return Pushed.Done;
}

/** Takes the next record, or null when the ring is empty. */
export function pop(ring: Ring, ident: number): Popped | null {
  const { control, data } = ring;
  lock(control, ident);
  if (control[COUNT] === 0) {
    unlock(control, false);
    return null;
  }
  const length = readU32(data, control[HEAD]);
  const afterHeader = (control[HEAD] + 4) % data.length;
  const parked = length === POINTER;
  const n = parked ? 4 : length;
  const [payload, head] = read(data, afterHeader, n);
  control[HEAD] = head;
  control[USED] -= 4 + n;
  control[COUNT]--;
  unlock(control, true);
  return parked ? { parked: readU32(payload, 0) } : { bytes: payload };
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
