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
 * @module
 */

import {
  decode,
  encode,
  type EncodeContext,
  REDUCE,
  type Reduced,
  registerReducer,
} from "./_codec.ts";
import {
  addOverflow,
  adoptRing,
  BIG_ITEM,
  count,
  freeRingsHeldBy,
  isFull,
  newRing,
  overflowing,
  ownerGetters,
  ownerPutters,
  pop,
  type Popped,
  publishWaiting,
  push,
  Pushed,
  type Ring,
  sequence,
  taskDone as ringTaskDone,
  unfinished,
  waitForChange,
  waitOnRing,
} from "./_ring.ts";
import { processState } from "./_state.ts";
import { Deque } from "./_deque.ts";
import { onChildDeath } from "./process.ts";
import type { Channel } from "./_node.ts";
import { blocking, type Caller, Ref, type RefState, SharedCore, Waiter } from "./_shared.ts";
import { Empty, Full, ValueError } from "./errors.ts";

/** The options of `put` and `get`: Python's `block` and `timeout` (milliseconds). */
export interface QueueOptions {
  /** Wait when full (put) or empty (get); the default. `false` answers at once. */
  block?: boolean;
  /** Give up after this many milliseconds with `Full`/`Empty`; 0 or less answers at once. */
  timeout?: number | null;
}

const FROM_REF: unique symbol = Symbol("fromRef") as never;

class QueueCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = new Set([
    "put",
    "get",
    "qsize",
    "empty",
    "full",
    "taskDone",
    "join",
    "sync",
    "fetch",
  ]);
  /** The items, in shared memory (see _ring.ts). */
  readonly ring: Ring;
  /** Items that did not fit in the ring, oldest first; all newer than those in it. */
  readonly overflow = new Deque<Uint8Array>();
  /** Items over BIG_ITEM, parked here while the ring carries a pointer. */
  readonly parked = new Map<number, Uint8Array>();
  #nextParked = 1;
  getters: Waiter<Uint8Array>[] = [];
  putters: { waiter: Waiter<void>; item: Uint8Array }[] = [];
  joiners: Waiter<void>[] = [];
  #watching = false;

  constructor(readonly maxsize: number) {
    super();
    this.ring = newRing(maxsize);
  }

  #ident(): number {
    return processState().ident;
  }

  /** Puts bytes in the ring (parking a big item); what push() said. */
  #toRing(item: Uint8Array, fromOverflow: boolean): Pushed {
    if (item.length <= BIG_ITEM) {
      return push(this.ring, { bytes: item }, this.#ident(), fromOverflow);
    }
    const id = this.#nextParked++;
    this.parked.set(id, item);
    const result = push(this.ring, { parked: id }, this.#ident(), fromOverflow);
    if (result !== Pushed.Done) this.parked.delete(id);
    return result;
  }

  /** Accepts an item (ring, or the owner's list); false when the queue is full. */
  #offer(item: Uint8Array): boolean {
    const result = this.#toRing(item, false);
    if (result === Pushed.Full) return false;
    if (result === Pushed.ToOwner) {
      this.overflow.push(item);
      addOverflow(this.ring, 1, this.#ident());
      this.#watch();
    }
    return true;
  }

  /** Takes the oldest item, or null. */
  #take(): Uint8Array | null {
    const popped = pop(this.ring, this.#ident());
    if (popped) return this.#materialize(popped);
    if (this.overflow.length > 0) {
      addOverflow(this.ring, -1, this.#ident());
      return this.overflow.shift()!;
    }
    return null;
  }

  #materialize(popped: Popped): Uint8Array {
    if ("bytes" in popped) return popped.bytes;
    const item = this.parked.get(popped.parked)!;
    this.parked.delete(popped.parked);
    return item;
  }

  /** Moves the owner's list into the ring while it fits. */
  #refill(): void {
    while (this.overflow.length > 0 && this.#toRing(this.overflow.peek()!, true) === Pushed.Done) {
      this.overflow.shift();
    }
  }

  /** Serves waiting getters, putters and joiners in order, from whatever the ring holds now. */
  #serve(): void {
    this.#refill();
    while (this.getters.length > 0) {
      const item = this.#take();
      if (!item) break;
      this.getters.shift()!.resolve(item);
    }
    while (this.putters.length > 0 && this.#offer(this.putters[0].item)) {
      this.putters.shift()!.waiter.resolve();
    }
    if (this.joiners.length > 0 && unfinished(this.ring) <= 0) {
      for (const j of this.joiners.splice(0)) j.resolve();
    }
    this.#refill();
    this.#publish();
  }

  /** Tells workers sharing the ring how many callers wait here (they are served first). */
  #publish(): void {
    publishWaiting(this.ring, this.getters.length, this.putters.length);
  }

  #busy(): boolean {
    return this.getters.length > 0 || this.putters.length > 0 || this.joiners.length > 0 ||
      this.overflow.length > 0;
  }

  /** While anyone waits here (or the list has items), follow the ring's changes made by workers. */
  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    (async () => {
      while (this.#busy()) {
        const seen = sequence(this.ring);
        this.#serve();
        if (!this.#busy()) break;
        await waitForChange(this.ring, seen, null);
      }
      this.#watching = false;
    })();
  }

  put(
    caller: Caller,
    item: Uint8Array,
    block: boolean,
    timeout: number | null,
  ): void | Promise<void> {
    if (this.putters.length === 0 && this.#offer(item)) {
      this.#serve();
      return;
    }
    if (!block) throw new Full(`The queue is full (maxsize ${this.maxsize})`);
    const waiter = new Waiter<void>(caller, timeout, (me) => {
      this.putters = this.putters.filter((p) => p.waiter !== me);
      this.#publish();
      me.reject(new Full(`The queue stayed full (maxsize ${this.maxsize}) for ${timeout} ms`));
    });
    this.putters.push({ waiter, item });
    this.#publish();
    this.#watch();
    return waiter.promise;
  }

  get(caller: Caller, block: boolean, timeout: number | null): Uint8Array | Promise<Uint8Array> {
    if (this.getters.length === 0) {
      const item = this.#take();
      if (item) {
        this.#serve();
        return item;
      }
    }
    if (!block) throw new Empty("The queue is empty");
    const waiter = new Waiter<Uint8Array>(caller, timeout, (me) => {
      this.getters = this.getters.filter((g) => g !== me);
      this.#publish();
      me.reject(new Empty(`The queue stayed empty for ${timeout} ms`));
    });
    this.getters.push(waiter);
    this.#publish();
    this.#watch();
    return waiter.promise;
  }

  /** A parked item a worker found a pointer to. */
  fetch(_caller: Caller, id: number): Uint8Array {
    const item = this.parked.get(id);
    if (!item) throw new ValueError(`No parked item ${id}: it was taken already`);
    this.parked.delete(id);
    return item;
  }

  qsize(): number {
    return count(this.ring);
  }
  empty(): boolean {
    return count(this.ring) === 0;
  }
  full(): boolean {
    return isFull(this.ring);
  }
  /** Resolves once every call made before it on the caller's channel was handled. */
  sync(): void {}

  taskDone(): void {
    if (!ringTaskDone(this.ring, this.#ident())) {
      throw new ValueError("taskDone() called more times than there were items put in the queue");
    }
    this.#serve();
  }

  join(caller: Caller): void | Promise<void> {
    if (unfinished(this.ring) <= 0) return;
    const waiter = new Waiter<void>(caller, null, () => {});
    this.joiners.push(waiter);
    this.#watch();
    return waiter.promise;
  }

  override dropChannel(channel: Channel): void {
    this.getters = this.getters.filter((g) => g.caller.channel !== channel);
    this.putters = this.putters.filter((p) => p.waiter.caller.channel !== channel);
    this.joiners = this.joiners.filter((j) => j.caller.channel !== channel);
    this.#serve();
  }
}

/** A worker's direct access to a queue's shared memory. */
class RingSide {
  /** Puts from this process still on their way through the owner (keeps them in order). */
  viaOwner = 0;
  constructor(readonly ring: Ring, readonly ref: Ref) {}

  async put(item: Uint8Array, block: boolean, timeout: number | null): Promise<void> {
    if (this.viaOwner > 0 || item.length > BIG_ITEM || ownerPutters(this.ring)) {
      return await this.#viaOwner(item, block, timeout);
    }
    const ident = processState().ident;
    const first: Pushed = push(this.ring, { bytes: item }, ident);
    if (first === Pushed.Done) return;
    if (first === Pushed.ToOwner) return await this.#viaOwner(item, block, timeout);
    if (!block) throw new Full(`The queue is full (maxsize ${this.ring.control[8]})`);
    let result: Pushed = first;
    await this.#waitUntil(timeout, () => {
      result = push(this.ring, { bytes: item }, ident);
      return result !== Pushed.Full;
    }, () => new Full(`The queue stayed full for ${timeout} ms`));
    if ((result as Pushed) === Pushed.ToOwner) await this.#viaOwner(item, block, timeout);
  }

  async #viaOwner(item: Uint8Array, block: boolean, timeout: number | null): Promise<void> {
    this.viaOwner++;
    try {
      await this.ref.call("put", item, block, timeout);
    } finally {
      this.viaOwner--;
    }
  }

  async get(block: boolean, timeout: number | null): Promise<Uint8Array> {
    const ident = processState().ident;
    // Callers already waiting in the owner come first: join their line.
    if (ownerGetters(this.ring)) return await this.ref.call("get", block, timeout) as Uint8Array;
    let popped = pop(this.ring, ident);
    if (!popped && (!block || overflowing(this.ring))) {
      // Items in the owner's list, or an answer now: ask the owner.
      return await this.ref.call("get", block, timeout) as Uint8Array;
    }
    if (!popped) {
      await this.#waitUntil(
        timeout,
        () => (popped = pop(this.ring, ident)) !== null,
        () => new Empty(`The queue stayed empty for ${timeout} ms`),
      );
    }
    const p = popped as Popped;
    return "bytes" in p ? p.bytes : await this.ref.call("fetch", p.parked) as Uint8Array;
  }

  async #waitUntil(
    timeout: number | null,
    ready: () => boolean,
    timedOut: () => Error,
  ): Promise<void> {
    if (!(await waitOnRing(this.ring, timeout, ready))) throw timedOut();
  }

  taskDone(): void {
    if (!ringTaskDone(this.ring, processState().ident)) {
      throw new ValueError("taskDone() called more times than there were items put in the queue");
    }
  }

  async join(): Promise<void> {
    if (unfinished(this.ring) <= 0) return;
    await this.#waitUntil(null, () => unfinished(this.ring) <= 0, () => new Error("unreachable"));
  }
}

onChildDeath(freeRingsHeldBy);

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
 * import { Empty, Queue } from "@procs/multiprocessing";
 * const q = new Queue<number>(2);
 * await q.put(1);
 * await q.putNowait(2);
 * console.assert(await q.full() && await q.qsize() === 2);
 * console.assert(await q.get() === 1);
 * await q.get();
 * await q.getNowait().catch((e) => console.assert(e instanceof Empty));
 * ```
 */
export class Queue<T = unknown> implements Disposable {
  /** @internal */
  readonly _ref: Ref;
  /** @internal Direct access to the shared memory, in a worker that shares it. */
  readonly _side: RingSide | null = null;
  readonly #maxsize: number;
  #closed = false;

  /** Makes a queue holding at most `maxsize` items (0 or less: no limit). */
  constructor(maxsize = 0, ...internal: unknown[]) {
    if ((maxsize as unknown) === FROM_REF) {
      const s = internal[0] as { ref: Ref; maxsize: number; ring?: Ring | null };
      this._ref = s.ref;
      this.#maxsize = s.maxsize;
      if (s.ring && !s.ref.core) this._side = new RingSide(adoptRing(s.ring), s.ref);
      return;
    }
    if (typeof maxsize !== "number" || Number.isNaN(maxsize)) {
      throw new TypeError(`maxsize must be a number: received ${String(maxsize)}`);
    }
    this.#maxsize = maxsize > 0 ? Math.floor(maxsize) : 0;
    this._ref = Ref.local(new QueueCore(this.#maxsize));
  }

  /** The most items the queue holds (0: no limit). */
  get maxsize(): number {
    return this.#maxsize;
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new ValueError(
        "Queue is closed: this handle was closed with close(); use another handle",
      );
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
      return this._ref.call("put", item, block, timeout) as Promise<void>;
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
    return decode(await this._ref.call("get", block, timeout) as Uint8Array) as T;
  }

  /** `get({ block: false })`. */
  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /** How many items are in the queue now. */
  qsize(): Promise<number> {
    if (this._side) return Promise.resolve(count(this._side.ring));
    return this._ref.call("qsize") as Promise<number>;
  }
  /** Whether the queue is empty now. */
  empty(): Promise<boolean> {
    if (this._side) return Promise.resolve(count(this._side.ring) === 0);
    return this._ref.call("empty") as Promise<boolean>;
  }
  /** Whether the queue is full now. */
  full(): Promise<boolean> {
    if (this._side) return Promise.resolve(isFull(this._side.ring));
    return this._ref.call("full") as Promise<boolean>;
  }

  /** Closes this handle: later `put`/`get` through it fail; items already put are still delivered. */
  close(): void {
    this.#closed = true;
  }

  /** After `close()`: resolves once everything this handle put has reached the queue. */
  async joinThread(): Promise<void> {
    if (!this.#closed) throw new ValueError("joinThread() can only be called after close()");
    await this._ref.call("sync");
  }

  /**
   * Python lets a process exit without flushing its queue buffer; here a
   * process always delivers what it put before exiting, so this only
   * records the wish (kept for compatibility).
   */
  cancelJoinThread(): void {}

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
    const ring = context.shareMemory
      ? (this._side?.ring ?? (this._ref.core as QueueCore | null)?.ring ?? null)
      : null;
    return {
      type,
      state: { ref: this._ref.state(), maxsize: this.#maxsize, ring } satisfies QueueState,
    };
  }
}

/**
 * A queue that counts unfinished items: consumers call `taskDone()` for
 * each item they processed and `join()` waits until every item was.
 *
 * @example
 * ```ts
 * import { JoinableQueue } from "@procs/multiprocessing";
 * const q = new JoinableQueue<string>();
 * await q.put("job");
 * await q.get();
 * await q.taskDone();
 * await q.join();
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
    return this._ref.call("taskDone") as Promise<void>;
  }
  /** Waits until every item put has been marked done. */
  join(): Promise<void> {
    if (this._side) return this._side.join();
    return this._ref.call("join") as Promise<void>;
  }
}

/**
 * The simplest queue: `put`, `get`, `empty`, `close`; unbounded.
 *
 * @example
 * ```ts
 * import { SimpleQueue } from "@procs/multiprocessing";
 * const q = new SimpleQueue<number>();
 * await q.put(1);
 * console.assert(await q.get() === 1 && await q.empty());
 * ```
 */
export class SimpleQueue<T = unknown> extends Queue<T> {
  /** Makes an unbounded queue. */
  constructor(...internal: unknown[]) {
    super(...((internal[0] === FROM_REF ? [FROM_REF, internal[1]] : [0]) as [number]));
  }
}

function rebuild(cls: new (...a: never[]) => Queue) {
  return (s: unknown) => {
    const st = s as QueueState;
    return new (cls as unknown as new (...a: unknown[]) => Queue)(FROM_REF, {
      ref: Ref.fromState(st.ref),
      maxsize: st.maxsize,
      ring: st.ring ?? null,
    });
  };
}

registerReducer("Queue", rebuild(Queue));
registerReducer("JoinableQueue", rebuild(JoinableQueue));
registerReducer(
  "SimpleQueue",
  (s) =>
    new SimpleQueue(FROM_REF, {
      ref: Ref.fromState((s as QueueState).ref),
      maxsize: 0,
      ring: (s as QueueState).ring ?? null,
    }),
);

/** @internal An owner-side queue core, for a manager's server. */
export function _queueCore(maxsize = 0): SharedCore {
  return new QueueCore(maxsize > 0 ? Math.floor(maxsize) : 0);
}
