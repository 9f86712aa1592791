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

import { decode, encode, REDUCE, type Reduced, registerReducer } from "./_codec.ts";
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
  ]);
  readonly items: Uint8Array[] = [];
  getters: Waiter<Uint8Array>[] = [];
  putters: { waiter: Waiter<void>; item: Uint8Array }[] = [];
  unfinished = 0;
  joiners: Waiter<void>[] = [];

  constructor(readonly maxsize: number) {
    super();
  }

  #isFull(): boolean {
    return this.maxsize > 0 && this.items.length >= this.maxsize;
  }

  #append(item: Uint8Array): void {
    this.unfinished++;
    const getter = this.getters.shift();
    if (getter) getter.resolve(item);
    else this.items.push(item);
  }

  put(
    caller: Caller,
    item: Uint8Array,
    block: boolean,
    timeout: number | null,
  ): void | Promise<void> {
    if (!this.#isFull()) return this.#append(item);
    if (!block) throw new Full(`The queue is full (maxsize ${this.maxsize})`);
    const waiter = new Waiter<void>(caller, timeout, (me) => {
      this.putters = this.putters.filter((p) => p.waiter !== me);
      me.reject(new Full(`The queue stayed full (maxsize ${this.maxsize}) for ${timeout} ms`));
    });
    this.putters.push({ waiter, item });
    return waiter.promise;
  }

  get(caller: Caller, block: boolean, timeout: number | null): Uint8Array | Promise<Uint8Array> {
    const item = this.items.shift();
    if (item) {
      this.#admitPutter();
      return item;
    }
    if (!block) throw new Empty("The queue is empty");
    const waiter = new Waiter<Uint8Array>(caller, timeout, (me) => {
      this.getters = this.getters.filter((g) => g !== me);
      me.reject(new Empty(`The queue stayed empty for ${timeout} ms`));
    });
    this.getters.push(waiter);
    return waiter.promise;
  }

  #admitPutter(): void {
    while (!this.#isFull() && this.putters.length > 0) {
      const { waiter, item } = this.putters.shift()!;
      this.#append(item);
      waiter.resolve();
    }
  }

  qsize(): number {
    return this.items.length;
  }
  empty(): boolean {
    return this.items.length === 0;
  }
  full(): boolean {
    return this.#isFull();
  }
  /** Resolves once every call made before it on the caller's channel was handled. */
  sync(): void {}

  taskDone(): void {
    if (this.unfinished <= 0) {
      throw new ValueError("taskDone() called more times than there were items put in the queue");
    }
    if (--this.unfinished === 0) { for (const j of this.joiners.splice(0)) j.resolve(); }
  }

  join(caller: Caller): void | Promise<void> {
    if (this.unfinished === 0) return;
    const waiter = new Waiter<void>(caller, null, () => {});
    this.joiners.push(waiter);
    return waiter.promise;
  }

  override dropChannel(channel: Channel): void {
    this.getters = this.getters.filter((g) => g.caller.channel !== channel);
    this.putters = this.putters.filter((p) => p.waiter.caller.channel !== channel);
    this.joiners = this.joiners.filter((j) => j.caller.channel !== channel);
    this.#admitPutter();
  }
}

interface QueueState {
  ref: RefState;
  maxsize: number;
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
  readonly #maxsize: number;
  #closed = false;

  /** Makes a queue holding at most `maxsize` items (0 or less: no limit). */
  constructor(maxsize = 0, ...internal: unknown[]) {
    if ((maxsize as unknown) === FROM_REF) {
      const s = internal[0] as { ref: Ref; maxsize: number };
      this._ref = s.ref;
      this.#maxsize = s.maxsize;
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
    return decode(await this._ref.call("get", block, timeout) as Uint8Array) as T;
  }

  /** `get({ block: false })`. */
  getNowait(): Promise<T> {
    return this.get({ block: false });
  }

  /** How many items are in the queue now. */
  qsize(): Promise<number> {
    return this._ref.call("qsize") as Promise<number>;
  }
  /** Whether the queue is empty now. */
  empty(): Promise<boolean> {
    return this._ref.call("empty") as Promise<boolean>;
  }
  /** Whether the queue is full now. */
  full(): Promise<boolean> {
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
  [REDUCE](): Reduced {
    const type = this instanceof JoinableQueue
      ? "JoinableQueue"
      : this instanceof SimpleQueue
      ? "SimpleQueue"
      : "Queue";
    return { type, state: { ref: this._ref.state(), maxsize: this.#maxsize } satisfies QueueState };
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
    return this._ref.call("taskDone") as Promise<void>;
  }
  /** Waits until every item put has been marked done. */
  join(): Promise<void> {
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
    });
  };
}

registerReducer("Queue", rebuild(Queue));
registerReducer("JoinableQueue", rebuild(JoinableQueue));
registerReducer(
  "SimpleQueue",
  (s) => new SimpleQueue(FROM_REF, { ref: Ref.fromState((s as QueueState).ref), maxsize: 0 }),
);

/** @internal An owner-side queue core, for a manager's server. */
export function _queueCore(maxsize = 0): SharedCore {
  return new QueueCore(maxsize > 0 ? Math.floor(maxsize) : 0);
}
