/**
 * A {@linkcode ByteStream} between two threads of one OS process whose bytes
 * go through shared memory: one ring per direction in a
 * `SharedArrayBuffer`, a writer that copies into it at once and a reader
 * woken by `Atomics.notify`, with no system call and no structured clone
 * per message. The `MessagePort` transport makes the rings when it connects
 * two threads (see message_port.ts, `rings`); the stream's port still
 * carries what is not bytes: the end of the stream and its close.
 *
 * One ring, as its two threads see it. `WRITTEN` and `READ` count the bytes
 * ever written and read (modulo 2^32, so their difference is what waits);
 * only the writer moves `WRITTEN` and only the reader moves `READ`. A side
 * about to sleep says so (`READER_ASLEEP`, `WRITER_ASLEEP`), checks once
 * more, then waits on the other side's counter; the other side notifies
 * only when the flag is up, so a busy stream costs no wake-up at all.
 * Waits are sliced: a wake-up lost between threads costs one slice.
 *
 * Why: a pipe round trip between the parent and a `"worker"` child went
 * through two sockets of one process, each hop woken by the kernel across
 * vCPUs (41–50 µs for a bare socket ping-pong between two threads here);
 * two threads woken through `Atomics.waitAsync` take 16–20 µs (measured on
 * this machine, Deno 2.9.6 and Bun 1.4.5).
 *
 * @module
 */

import type { ByteStream, TimerHandle, Timers } from "../core/host.ts";
import { DrainWaiters } from "./_drain.ts";

/** The control words at the start of a ring's buffer. */
const WRITTEN = 0;
const READ = 1;
const READER_ASLEEP = 2;
const WRITER_ASLEEP = 3;
const CONTROL_BYTES = 16;

/** Bytes of data in each ring (a power of two). */
export const RING_BYTES = 256 * 1024;

/** Longest single wait (ms): a wake-up lost between threads costs at most this. */
const WAIT_SLICE = 50;

/**
 * How long (ms) after its last data a reader keeps looking at its ring on
 * every turn of the event loop before it sleeps, when the last wait for
 * data was that short too (a ping-pong); a reader whose data comes
 * further apart sleeps at once (polling would take the CPU from threads
 * that compute).
 */
const POLL_MS = 0.2;

type Immediate = (callback: () => void) => unknown;
let immediateFound: Immediate | null | undefined;

/**
 * `setImmediate` where the runtime has it (Deno and Bun; not a browser),
 * looked up when a reader first polls: on Deno the first read of the global
 * loads the Node compatibility layer (~12 ms), which a "spawn" child that
 * never uses a ring must not pay at start-up.
 */
function immediate(): Immediate | null {
  if (immediateFound === undefined) {
    immediateFound = (globalThis as { setImmediate?: Immediate }).setImmediate ?? null;
  }
  return immediateFound;
}

/** Web timers as {@linkcode Timers}, where the host gave none (they cannot be unref'd). */
export const webTimers: Timers = {
  setTimeout(callback, ms) {
    const id = setTimeout(callback, ms);
    return { ref() {}, unref() {}, clear: () => clearTimeout(id) };
  },
  setInterval(callback, ms) {
    const id = setInterval(callback, ms);
    return { ref() {}, unref() {}, clear: () => clearInterval(id) };
  },
};

/** A new ring for one direction of a stream. */
export function newRing(): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + RING_BYTES);
}

/** One ring as one side sees it. */
class RingView {
  readonly control: Int32Array;
  readonly data: Uint8Array;
  readonly mask: number;

  constructor(buffer: SharedArrayBuffer) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.data = new Uint8Array(buffer, CONTROL_BYTES);
    this.mask = this.data.length - 1;
  }
}

/** A side waiting on a word, and whether its wait keeps the program alive. */
interface Waiter {
  control: Int32Array;
  index: number;
  keepAlive: boolean;
}

/** The sides waiting now (see `waitWord`). */
const waiters = new Set<Waiter>();
let sweeper: TimerHandle | null = null;
let sweeperRefed = false;

/**
 * Every slice, wakes every waiting side to look again: Bun's waitAsync on
 * the main thread can miss a notify from a worker. One timer for all the
 * streams of the thread, kept only while some side waits, and keeping the
 * program alive only while one of those does.
 */
function sweep(timers: Timers): void {
  if (waiters.size === 0) {
    sweeper?.clear();
    sweeper = null;
    return;
  }
  let keep = false;
  for (const w of waiters) keep ||= w.keepAlive;
  if (!sweeper) {
    sweeper = timers.setInterval(() => {
      for (const w of waiters) Atomics.notify(w.control, w.index);
      sweep(timers);
    }, WAIT_SLICE);
    sweeperRefed = true;
  }
  if (keep !== sweeperRefed) {
    sweeperRefed = keep;
    if (keep) sweeper.ref();
    else sweeper.unref();
  }
}

/**
 * Waits until `control[index]` is no longer `value`, or the thread's
 * sweeper woke it (at most a slice later).
 */
async function waitWord(
  control: Int32Array,
  index: number,
  value: number,
  timers: Timers,
  keepAlive: boolean,
): Promise<void> {
  const waited = Atomics.waitAsync(control, index, value);
  if (!waited.async) return;
  const waiter: Waiter = { control, index, keepAlive };
  waiters.add(waiter);
  sweep(timers);
  try {
    await waited.value;
  } finally {
    waiters.delete(waiter);
  }
}

/** What a ring stream is told on its port by the other side. */
export type RingSignal = "end" | "close";

/** A {@linkcode ByteStream} over two rings, with a way to signal its end. */
export class RingStream implements ByteStream {
  readonly #out: RingView;
  readonly #in: RingView;
  readonly #signal: (message: RingSignal) => void;
  readonly #timers: Timers;
  readonly #onFinish: () => void;
  /** Bytes written to the outgoing ring (this side moves `WRITTEN`). */
  #written = 0;
  /** Bytes read from the incoming ring (this side moves `READ`). */
  #read = 0;
  /** What did not fit in the ring yet, in order. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #writerWaiting = false;
  readonly #drain = new DrainWaiters();
  #onData: ((chunk: Uint8Array) => void) | null = null;
  #paused = false;
  #reading = false;
  /** The other side said it ends: deliver what is in the ring, then close. */
  #peerDone = false;
  /** This side asked to end: the peer answers "close" once it read everything. */
  #endWaiter: (() => void) | null = null;
  #closed = false;
  #refed = true;
  readonly #closeCallbacks: (() => void)[] = [];

  /**
   * `out` is the ring this side writes, `inbound` the one it reads;
   * `signal` tells the other side (over the stream's port); `onFinish`
   * runs once when the stream has closed (to release the port).
   */
  constructor(
    out: SharedArrayBuffer,
    inbound: SharedArrayBuffer,
    signal: (message: RingSignal) => void,
    timers: Timers,
    onFinish: () => void,
  ) {
    this.#out = new RingView(out);
    this.#in = new RingView(inbound);
    this.#signal = signal;
    this.#timers = timers;
    this.#onFinish = onFinish;
  }

  /** What the other side said on the port. */
  signalled(message: RingSignal): void {
    if (this.#closed) return;
    if (message === "close") {
      // The peer closed (or answered our end): what it wrote is still read.
      const waiter = this.#endWaiter;
      this.#endWaiter = null;
      if (waiter) return waiter();
    }
    this.#peerGone();
  }

  /** The peer ended, closed or its thread died: stop writing, read what is left, then close. */
  #peerGone(): void {
    if (this.#peerDone) return;
    this.#peerDone = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#drain.wake(0, true);
    this.#wakeReader();
  }

  /** The peer's thread ended without a word (the hub says so). */
  peerLost(): void {
    if (this.#closed) return;
    const waiter = this.#endWaiter;
    this.#endWaiter = null;
    waiter?.();
    this.#peerGone();
  }

  // ------------------------------------------------------------ writing

  write(data: Uint8Array): void {
    if (this.#closed || this.#peerDone || data.byteLength === 0) return;
    this.#pending.push(data);
    this.#pendingBytes += data.byteLength;
    // What is written in one turn goes into the ring together, at its end:
    // the reader is woken once for a burst of small messages.
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  #flushQueued = false;

  #flush = (): void => {
    this.#flushQueued = false;
    // A writer waiting for room looks again (there may be room for this).
    if (this.#writerWaiting) Atomics.notify(this.#out.control, READ);
    else this.#waitForRoom();
  };

  /** Copies what fits of `data` into the ring; returns how many bytes went. */
  #put(data: Uint8Array): number {
    const ring = this.#out;
    const size = ring.data.length;
    const used = (this.#written - Atomics.load(ring.control, READ)) | 0;
    const n = Math.min(size - used, data.byteLength);
    if (n <= 0) return 0;
    const at = this.#written & ring.mask;
    const first = Math.min(n, size - at);
    ring.data.set(data.subarray(0, first), at);
    if (first < n) ring.data.set(data.subarray(first, n), 0);
    this.#written = (this.#written + n) | 0;
    return n;
  }

  /** Publishes what `#put` copied, waking the reader if it sleeps. */
  #publish(): void {
    const control = this.#out.control;
    if (Atomics.load(control, WRITTEN) === this.#written) return;
    Atomics.store(control, WRITTEN, this.#written);
    if (Atomics.load(control, READER_ASLEEP) !== 0) Atomics.notify(control, WRITTEN);
  }

  /** Moves pending bytes into the ring as the reader frees room. */
  async #waitForRoom(): Promise<void> {
    if (this.#writerWaiting) return;
    this.#writerWaiting = true;
    const control = this.#out.control;
    try {
      while (!this.#closed && !this.#peerDone) {
        while (this.#pending.length > 0) {
          const head = this.#pending[0];
          const n = this.#put(head);
          this.#pendingBytes -= n;
          if (n < head.byteLength) {
            this.#pending[0] = head.subarray(n);
            break;
          }
          this.#pending.shift();
        }
        this.#publish();
        this.#drain.wake(this.buffered, false);
        if (this.#pending.length === 0 && this.#drain.waiting === 0) return;
        Atomics.store(control, WRITER_ASLEEP, 1);
        const seen = Atomics.load(control, READ);
        const room = this.#pending.length > 0
          ? ((this.#written - seen) | 0) < this.#out.data.length
          : this.buffered <= 0;
        if (!room) await waitWord(control, READ, seen, this.#timers, this.#refed);
        Atomics.store(control, WRITER_ASLEEP, 0);
      }
    } finally {
      this.#writerWaiting = false;
    }
  }

  get buffered(): number {
    if (this.#closed || this.#peerDone) return 0;
    const inRing = (this.#written - Atomics.load(this.#out.control, READ)) | 0;
    return this.#pendingBytes + inRing;
  }

  drained(limit: number): Promise<void> {
    const wait = this.#drain.wait(limit, this.buffered, this.#closed || this.#peerDone);
    if (this.#drain.waiting > 0) this.#waitForRoom();
    return wait;
  }

  // ------------------------------------------------------------ reading

  onData(callback: (chunk: Uint8Array) => void): void {
    this.#onData = callback;
    this.#readLoop();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#readLoop();
  }

  /** Wakes this side's reader, waiting on its own ring. */
  #wakeReader(): void {
    if (this.#reading) Atomics.notify(this.#in.control, WRITTEN);
    else this.#readLoop();
  }

  /** Takes everything the peer wrote that is not read yet. */
  #take(): Uint8Array | null {
    const ring = this.#in;
    const written = Atomics.load(ring.control, WRITTEN);
    const n = (written - this.#read) | 0;
    if (n === 0) return null;
    const size = ring.data.length;
    const at = this.#read & ring.mask;
    const first = Math.min(n, size - at);
    const chunk = new Uint8Array(n);
    chunk.set(ring.data.subarray(at, at + first));
    if (first < n) chunk.set(ring.data.subarray(0, n - first), first);
    this.#read = written;
    Atomics.store(ring.control, READ, written);
    if (Atomics.load(ring.control, WRITER_ASLEEP) !== 0) Atomics.notify(ring.control, READ);
    return chunk;
  }

  async #readLoop(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    const control = this.#in.control;
    let lastData = performance.now();
    /** When the ring was last found empty (-1: it has data since), and how long the last wait was. */
    let idleSince = -1;
    let lastGap = 0;
    try {
      while (!this.#closed && !this.#paused && this.#onData) {
        const chunk = this.#take();
        if (chunk) {
          lastData = performance.now();
          if (idleSince >= 0) lastGap = lastData - idleSince;
          idleSince = -1;
          this.#onData(chunk);
          // Let what the chunk started (a reply, a read) run before reading on.
          await null;
          continue;
        }
        if (this.#peerDone) {
          // Everything the peer wrote was read: the stream ends here.
          if (this.#endWaiter === null) this.#signal("close");
          this.#fireClose();
          return;
        }
        if (idleSince < 0) idleSince = performance.now();
        const poll = immediate();
        if (poll && lastGap < POLL_MS && performance.now() - lastData < POLL_MS) {
          // Soon after data, look again at the next turn instead of sleeping:
          // a writer then has no sleeper to wake (a notify costs ~14 µs).
          await new Promise<void>((resolve) => poll(resolve));
          continue;
        }
        // Say so, then look once more: a writer that wrote meanwhile sees the flag.
        Atomics.store(control, READER_ASLEEP, 1);
        const seen = Atomics.load(control, WRITTEN);
        if (seen === this.#read) await waitWord(control, WRITTEN, seen, this.#timers, this.#refed);
        Atomics.store(control, READER_ASLEEP, 0);
      }
    } finally {
      this.#reading = false;
    }
  }

  // ------------------------------------------------------------ closing

  onClose(callback: () => void): void {
    if (this.#closed) queueMicrotask(callback);
    else this.#closeCallbacks.push(callback);
  }

  /**
   * Writes what is pending, says "end", and waits for the peer's "close"
   * (sent once its reader took everything before the end), or for the peer
   * to be found gone, as a socket's end waits while the peer's buffers are full.
   */
  async end(): Promise<void> {
    if (this.#closed) return;
    if (!this.#peerDone) {
      while (!this.#closed && !this.#peerDone && this.buffered > 0) {
        await this.drained(0);
      }
      if (!this.#closed && !this.#peerDone) {
        const closed = new Promise<void>((resolve) => (this.#endWaiter = resolve));
        this.#signal("end");
        await closed;
      }
    }
    this.#fireClose();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#signal("close");
    this.#fireClose();
  }

  ref(): void {
    this.#refed = true;
  }

  unref(): void {
    this.#refed = false;
  }

  #fireClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#drain.wake(0, true);
    const waiter = this.#endWaiter;
    this.#endWaiter = null;
    waiter?.();
    // Wake a reader or writer still waiting on the rings, so their loops end.
    Atomics.notify(this.#in.control, WRITTEN);
    Atomics.notify(this.#out.control, READ);
    this.#onFinish();
    for (const cb of this.#closeCallbacks.splice(0)) cb();
  }
}
