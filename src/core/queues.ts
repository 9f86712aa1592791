/**
 * `Queue`, `JoinableQueue` and `SimpleQueue`, as in Python's
 * `multiprocessing.queues`: multi-producer, multi-consumer, FIFO per
 * producer. A queue lives in the process that made it; other processes put
 * and get through the authenticated channel. An unbounded `put` from
 * another process does not wait for a round trip (calls from one process
 * stay in order), and a child flushes what it put before it exits, so
 * `join()` on a producer never loses data. An item that cannot be copied
 * fails the `put` itself with a `TypeError` (CPython drops it silently in a
 * background thread).
 *
 * Lending: a `get` from another process (not a worker sharing the ring) is
 * a round trip to the owner, so a process that gets quickly is answered
 * with a few more items than it asked for, which it keeps for its next
 * gets; the owner keeps their bytes until it hears they were consumed.
 * The rules that keep this invisible (no item lost or got twice, FIFO per
 * producer as each consumer sees it, sizes and maxsize unchanged):
 *
 * - Only items already in the queue are lent, only to a getter no one
 *   waits behind, to one process at a time (the holder), and only about a
 *   millisecond's worth of that process's own work (see `Borrower`).
 * - Lent items stay counted in `qsize()`, `empty()`, `full()` and against
 *   `maxsize` until consumed.
 * - While items are lent, nobody else takes an item: lent items are older
 *   than any other, and one that came back and went to a process that had
 *   already got newer items would break FIFO order. A getter that finds
 *   items lent makes the owner recall them: the holder gives back what it
 *   has not handed out yet, so a holder that got one item and then waits
 *   for something else never starves the others.
 * - The holder acknowledges each lent item it hands out (see below); it
 *   gives back what it holds when recalled and when a handle is closed.
 *   Whatever a holder still held when it ended (cleanly or killed) goes
 *   back to the front of the queue, in order.
 *
 * A consumer that dies: an item leaves the queue only when the consumer's
 * program has it. The owner keeps each item it answered to another
 * process's `get` (and each item it lent there) until that process
 * acknowledges it. The process acknowledges an item as its `get()` returns
 * it: the acknowledgement goes out in the same write as the next message
 * that process sends the owner (a `put`, the next `get`, ...), or alone
 * once it yields to its event loop. If the process ends first (killed
 * while the answer was on its way, or before it got to an item lent to
 * it), its unacknowledged items go back to the front of the queue, in
 * order, and the next `get` answers them. So:
 *
 * - No item is lost between the queue and `get()` returning it, whatever
 *   kills the consumer (SIGKILL, a crash, `process.exit()`).
 * - A consumer killed after `get()` returned an item: the item is its
 *   own, except when it was killed before that acknowledgement left it
 *   (since `get()` returned the item, the process had sent the owner
 *   nothing, called no other `get()` on that queue and not yielded to its
 *   event loop); then another consumer gets the item again. That is at
 *   most one item per killed consumer, the last one its `get()` returned
 *   (more only if several of its `get()` calls returned at once, in one
 *   turn of its event loop): an item can be got twice, never lost. A
 *   consumer that reports what it got to an object the queue's owner also
 *   owns (a result queue, a `Value`, a `dict` of the same manager) sends
 *   the report and the acknowledgement in one write, so the owner hears
 *   both or neither: every item is reported exactly once.
 * - An item that came back is older than those other consumers got
 *   meanwhile: it is the one exception to FIFO order per producer as each
 *   consumer sees it.
 * - Under `"worker"`, a worker that shares the queue's memory takes an
 *   item from it itself, with no round trip: the record stays in the ring,
 *   held by that worker, until its program has the item (the worker gets
 *   again, puts, or yields to its event loop; an item over 64 KiB, parked
 *   with the owner, stays there as long). A worker killed or terminated
 *   before that takes and puts nothing more from the moment `kill()` /
 *   `terminate()` is called, and the record goes back to the front of the
 *   queue. So the rules above hold under `"worker"` too: nothing lost, and
 *   at most the last item a killed worker's `get()` returned got again by
 *   another consumer (only if it was killed before it got again, put or
 *   yielded since; a report it put on a queue whose memory it shares
 *   lands with its hold gone, but for a few instructions between them).
 *
 * @module
 */

import {
  decode,
  encode,
  type EncodeContext,
  REDUCE,
  type Reduced,
  registerReducer,
} from "./_wire/codec.ts";
import { adoptRing, count, isFull, ownerGetters, type Ring } from "./_ring.ts";
import {
  blocking,
  closedHandleError,
  Ref,
  type RefState,
  releaseWhenCollected,
  type SharedCore,
} from "./_shared.ts";
import { OSError, ValueError } from "./errors.ts";
import { Handoff } from "./_handoff.ts";
import { QueueCore, type QueueRef } from "./_queue_owner.ts";
import { type Borrower, borrowerOf, releaseBorrower } from "./_queue_borrower.ts";
import { RingSide } from "./_queue_ring_side.ts";

/** The options of `put` and `get`: Python's `block` and `timeout` (milliseconds). */
export interface QueueOptions {
  /** Wait when full (put) or empty (get); the default. `false` answers at once. */
  block?: boolean;
  /** Give up after this many milliseconds with `Full`/`Empty`; 0 or less answers at once. */
  timeout?: number | null;
}

/** A queue that crossed from another process: its reference, bound and (in a worker) its memory. */
const received = new Handoff<{ ref: QueueRef; maxsize: number; ring: Ring | null }>();

interface QueueState {
  ref: RefState;
  maxsize: number;
  /** The shared memory, for a worker that shares it (null elsewhere). */
  ring?: Ring | null;
}

/**
 * A process-safe FIFO queue (Python's `multiprocessing.Queue`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Empty, Queue } from "@procs/multiprocessing";
 * const q = new Queue<number>(2);
 * await q.put(1);
 * await q.putNowait(2);
 * assert.equal(await q.full(), true);
 * assert.equal(await q.qsize(), 2);
 * assert.equal(await q.get(), 1);
 * await q.get();
 * await assert.rejects(() => q.getNowait(), Empty);
 * ```
 */
export class Queue<T = unknown> implements Disposable {
  /** @internal */
  readonly _ref: QueueRef;
  /** @internal Direct access to the shared memory, in a worker that shares it. */
  readonly _side: RingSide | null = null;
  readonly #maxsize: number;
  #closed = false;
  /** After `close()` of a handle owned elsewhere: when its puts reached the owner (or why not). */
  #flushed: Promise<unknown> | null = null;
  /** This process's gets on a queue owned elsewhere (not through shared memory). */
  #borrower: Borrower | null = null;
  /** `cancelJoinThread()` was called: `joinThread()` does not wait. */
  #joinCancelled = false;

  /** Makes a queue holding at most `maxsize` items (0 or less: no limit). */
  constructor(maxsize = 0) {
    const s = received.take();
    if (s) {
      this._ref = s.ref;
      this.#maxsize = s.maxsize;
      if (s.ring && !s.ref.core) this._side = new RingSide(adoptRing(s.ring), s.ref);
      releaseWhenCollected(this, this._ref);
      return;
    }
    if (typeof maxsize !== "number" || Number.isNaN(maxsize)) {
      throw new TypeError(`maxsize must be a number: received ${String(maxsize)}`);
    }
    this.#maxsize = maxsize > 0 ? Math.floor(maxsize) : 0;
    this._ref = Ref.local(new QueueCore(this.#maxsize));
    releaseWhenCollected(this, this._ref);
  }

  /** The most items the queue holds (0: no limit). */
  get maxsize(): number {
    return this.#maxsize;
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw closedHandleError("Queue");
    }
  }

  /**
   * Puts `obj` (a copy, with structured-clone semantics). When the queue is
   * full, waits (or rejects with `Full` when not blocking or on timeout).
   */
  put(obj: T, options?: QueueOptions): Promise<void> {
    try {
      this.#checkOpen();
      const { block, timeout } = blocking(options);
      const item = encode(obj, {}, "obj");
      if (this._side) return this._side.put(item, block, timeout);
      if (this.#maxsize === 0 && !this._ref.core) {
        this._ref.send("put", item, block, timeout);
        return Promise.resolve();
      }
      return this._ref.call("put", item, block, timeout);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `put(obj, { block: false })`. */
  putNowait(obj: T): Promise<void> {
    return this.put(obj, { block: false });
  }

  /** Removes and returns the next item; waits while empty (or rejects with `Empty`). */
  async get(options?: QueueOptions): Promise<T> {
    this.#checkOpen();
    const { block, timeout } = blocking(options);
    if (this._side) return decode(await this._side.get(block, timeout)) as T;
    if (this._ref.core) {
      return decode(await this._ref.call("get", block, timeout) as Uint8Array) as T;
    }
    return decode(await (this.#borrower ??= borrowerOf(this._ref)).get(block, timeout)) as T;
  }

  /** `get({ block: false })`. */
  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /**
   * The ring alone, when it holds the whole queue: not while the owner
   * waits for items or holds some outside it (given back or lent).
   */
  #ringAlone(): Ring | null {
    const ring = this._side?.ring;
    return ring && !ownerGetters(ring) ? ring : null;
  }

  /** How many items are in the queue now. */
  qsize(): Promise<number> {
    const ring = this.#ringAlone();
    if (ring) return Promise.resolve(count(ring));
    return this._ref.call("qsize");
  }
  /** Whether the queue is empty now; on a closed handle, an `OSError` (as in Python). */
  empty(): Promise<boolean> {
    if (this.#closed) {
      return Promise.reject(closedHandleError("Queue", OSError));
    }
    const ring = this.#ringAlone();
    if (ring) return Promise.resolve(count(ring) === 0);
    return this._ref.call("empty");
  }
  /** Whether the queue is full now. */
  full(): Promise<boolean> {
    const ring = this.#ringAlone();
    if (ring) return Promise.resolve(isFull(ring));
    return this._ref.call("full");
  }

  /**
   * Closes this handle: later `put`/`get` through it fail; items already
   * put are still delivered, and items lent to this process go back. The
   * queue (and its 1 MiB of shared memory) is freed in the process that made
   * it once no process holds a handle to it; a handle that is never closed
   * goes when it is garbage-collected.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this._side && !this._ref.core) releaseBorrower(this._ref.id);
    // Asked before the hold goes (it may be the last): the owner answers once this handle's puts are in.
    if (!this._ref.core) this.#flushed = this._ref.call("sync").then(() => null, (e) => e);
    this._ref.release();
  }

  /**
   * After `close()`: resolves once everything this handle put has reached
   * the queue (at once after {@linkcode Queue.cancelJoinThread}).
   */
  async joinThread(): Promise<void> {
    if (!this.#closed) throw new ValueError("joinThread() can only be called after close()");
    if (this.#joinCancelled) return;
    const error = await this.#flushed;
    if (error) throw error;
  }

  /**
   * As in Python, a later {@linkcode Queue.joinThread} returns without
   * waiting for this handle's puts to reach the queue.
   *
   * Python needs this so that a process can exit while its queue's feeder
   * thread is blocked writing items nobody reads (they are lost). Here no
   * put waits for a reader: an item is handed to the queue's owner, which
   * holds it however long nobody reads, so a process's exit never blocks on
   * its queue and nothing put is lost; this changes `joinThread()` only.
   */
  cancelJoinThread(): void {
    this.#joinCancelled = true;
  }

  /** Closes this handle (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    const type = this instanceof JoinableQueue
      ? "JoinableQueue"
      : this instanceof SimpleQueue
      ? "SimpleQueue"
      : "Queue";
    // A worker that shares memory gets the ring itself; others reach the owner.
    const core = this._ref.core as QueueCore | null;
    const ring = context.shareMemory ? (this._side?.ring ?? core?.ring ?? null) : null;
    if (ring && core) core.shareRing();
    return {
      type,
      state: { ref: this._ref.cross(context), maxsize: this.#maxsize, ring } satisfies QueueState,
    };
  }
}

/**
 * A queue that counts unfinished items: consumers call `taskDone()` for
 * each item they processed and `join()` waits until every item was.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JoinableQueue, ValueError } from "@procs/multiprocessing";
 * const q = new JoinableQueue<string>();
 * await q.put("job");
 * assert.equal(await q.get(), "job");
 * await q.taskDone();
 * await q.join(); // every item put has been marked done
 * await assert.rejects(() => q.taskDone(), ValueError); // one call too many
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /** Marks one item as processed; one call too many is a `ValueError`. */
  taskDone(): Promise<void> {
    if (this._side) {
      try {
        this._side.taskDone();
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this._ref.call("taskDone");
  }
  /** Waits until every item put has been marked done. */
  join(): Promise<void> {
    if (this._side) return this._side.join();
    return this._ref.call("join");
  }
}

/**
 * The simplest queue: `put`, `get`, `empty`, `close`; unbounded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimpleQueue } from "@procs/multiprocessing";
 * const q = new SimpleQueue<number>();
 * await q.put(1);
 * assert.equal(await q.get(), 1);
 * assert.equal(await q.empty(), true);
 * ```
 */
export class SimpleQueue<T = unknown> extends Queue<T> {
  /** Makes an unbounded queue. */
  constructor() {
    super(0);
  }
}

function rebuild(cls: new () => Queue) {
  return (s: unknown) => {
    const st = s as QueueState;
    const state = {
      ref: Ref.fromState<QueueCore>(st.ref),
      maxsize: st.maxsize,
      ring: st.ring ?? null,
    };
    return received.build(state, () => new cls());
  };
}

registerReducer("Queue", rebuild(Queue));
registerReducer("JoinableQueue", rebuild(JoinableQueue));
registerReducer("SimpleQueue", rebuild(SimpleQueue));

/** @internal An owner-side queue core, for a manager's server. */
export function _queueCore(maxsize = 0): SharedCore {
  return new QueueCore(maxsize > 0 ? Math.floor(maxsize) : 0);
}
