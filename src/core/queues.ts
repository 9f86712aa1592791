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
} from "./_codec.ts";
import {
  addOverflow,
  adoptRing,
  BIG_ITEM,
  count,
  freeRingsHeldBy,
  isFull,
  maxsizeOf,
  newRing,
  overflowing,
  ownerGetters,
  ownerPutters,
  pop,
  type Popped,
  publishWaiting,
  push,
  Pushed,
  recycleRing,
  release,
  type Ring,
  sequence,
  settleHoldsOf,
  type Taken,
  taskDone as ringTaskDone,
  unfinished,
  waitForChange,
  waitOnRing,
} from "./_ring.ts";
import { processState } from "./_state.ts";
import { Deque } from "./_deque.ts";
import { onChildDeath, onChildExit, onChildKill } from "./process.ts";
import { type Channel, localNode, onMessage } from "./_node.ts";
import {
  blocking,
  type Caller,
  closedHandleError,
  expose,
  MAX_TIMER,
  Ref,
  type RefState,
  releaseWhenCollected,
  SharedCore,
  Waiter,
} from "./_shared.ts";
import { Empty, Full, OSError, ValueError } from "./errors.ts";
import { Handoff } from "./_handoff.ts";

/** The options of `put` and `get`: Python's `block` and `timeout` (milliseconds). */
export interface QueueOptions {
  /** Wait when full (put) or empty (get); the default. `false` answers at once. */
  block?: boolean;
  /** Give up after this many milliseconds with `Full`/`Empty`; 0 or less answers at once. */
  timeout?: number | null;
}

/** A queue that crossed from another process: its reference, bound and (in a worker) its memory. */
const received = new Handoff<{ ref: QueueRef; maxsize: number; ring: Ring | null }>();

/** The most items one answer to a borrower carries: the one asked for and those lent. */
const LEND_MAX = 32;
/** Lending stops at about this many bytes: big items are not worth holding back from others. */
const LEND_BYTES = 64 * 1024;

/** A caller waiting in `get`, or a borrower's `getMany` (which may be lent more items). */
interface Getter {
  readonly caller: Caller;
  /** The borrower's key (null: a plain get). */
  readonly key: string | null;
  /** Answers with the oldest item. */
  readonly serve: (first: Uint8Array) => void;
  /** Fails the get (the queue was freed). */
  readonly fail: (error: unknown) => void;
}

/** A reference to a queue's owner-side state. */
type QueueRef = Ref<QueueCore>;

class QueueCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<QueueCore>(
    "put",
    "get",
    "getMany",
    "ack",
    "giveBack",
    "qsize",
    "empty",
    "full",
    "taskDone",
    "join",
    "sync",
    "fetch",
    "dropParked",
  );
  /** The items, in shared memory (see _ring.ts). */
  readonly ring: Ring;
  /** Items that did not fit in the ring, oldest first; all newer than those in it. */
  readonly overflow: Deque<Uint8Array> = new Deque<Uint8Array>();
  /** Items over BIG_ITEM, parked here while the ring carries a pointer. */
  readonly parked: Map<number, Uint8Array> = new Map();
  #nextParked = 1;
  getters: Getter[] = [];
  putters: { waiter: Waiter<void>; item: Uint8Array }[] = [];
  joiners: Waiter<void>[] = [];
  #watching = false;
  /** Items given back by a borrower, oldest first: older than any in the ring, so taken first. */
  #front: Uint8Array[] = [];
  /** The one channel holding lent items (see the module doc), and the key its borrower gave. */
  #holder: Channel | null = null;
  #holderKey = "";
  /** The items lent to the holder and not yet consumed or given back, in the order lent. */
  #lent: Uint8Array[] = [];
  /** Whether the holder was asked to give its items back (once per holding). */
  #recalled = false;
  /** The ring was handed to a worker: no more lending (workers take from the ring directly). */
  #shared = false;
  /**
   * Per channel, the items answered to that process's gets (the first item
   * of each answer; lent ones are in #lent) that it has not acknowledged
   * yet, oldest first: they go back to the front if it ends first.
   */
  readonly #unacked = new Map<Channel, Uint8Array[]>();

  constructor(readonly maxsize: number) {
    super();
    this.ring = newRing(maxsize);
  }

  #ident(): number {
    return processState().ident;
  }

  /** How many items the queue holds: in the ring, in the owner's lists, and lent. */
  #held(): number {
    return count(this.ring) + this.#front.length + this.#lent.length;
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
    // The ring counts only its own items and the list; items given back or lent count too.
    if (this.maxsize > 0 && this.#held() >= this.maxsize) return false;
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
    if (this.#front.length > 0) return this.#front.shift()!;
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

  /**
   * Whether a getter must wait because items are lent to another process:
   * they are older than any other item. Only a borrower on the holder's own
   * channel may go on (what it gets next comes after what it holds).
   */
  #blocked(channel: Channel | null, key: string | null): boolean {
    return this.#holder !== null && !(key !== null && channel === this.#holder);
  }

  /** Asks the holder to give back what it has not handed out yet (a getter waits for it). */
  #recall(): void {
    if (this.#holder === null || this.#recalled) return;
    this.#recalled = true;
    this.#holder.send(["queue.recall", this.#holderKey]);
  }

  /**
   * The answer to a getter: `first`, and for a borrower no one waits behind
   * (on a ring no worker shares), up to `max` items in all that are already
   * here, lent to its channel.
   */
  #answer(
    channel: Channel | null,
    first: Uint8Array,
    max: number,
    key: string | null,
  ): Uint8Array[] {
    const items = [first];
    if (channel === null) return items;
    if (channel.closed) {
      // Its process is gone (its getters were dropped; this answer would be too): keep the item.
      this.#front.unshift(first);
      return items;
    }
    const unacked = this.#unacked.get(channel);
    if (unacked) unacked.push(first);
    else this.#unacked.set(channel, [first]);
    if (key === null || this.#shared || this.getters.length > 0) return items;
    let bytes = first.length;
    while (items.length < Math.min(max, LEND_MAX) && bytes < LEND_BYTES) {
      const item = this.#take();
      if (!item) break;
      if (bytes + item.length > LEND_BYTES) {
        this.#front.unshift(item); // it was the oldest: it stays so
        break;
      }
      bytes += item.length;
      items.push(item);
    }
    if (items.length > 1) {
      this.#holder = channel;
      this.#holderKey = key;
      for (let i = 1; i < items.length; i++) this.#lent.push(items[i]);
    }
    return items;
  }

  /**
   * The holder consumed (`back` false) or gave back (`back` true) its `n`
   * oldest lent items; `older` (items it never acknowledged, when it ended)
   * go back in front of them.
   */
  #settleLent(n: number, back: boolean, older: Uint8Array[] = []): void {
    const done = this.#lent.splice(0, Math.max(0, Math.min(Math.floor(n), this.#lent.length)));
    // Given back: older than anything left, so at the front, in their order.
    if (back) this.#front.unshift(...older, ...done);
    if (this.#lent.length === 0) {
      this.#holder = null;
      this.#recalled = false;
    }
    // While the holder still holds items, only puts waiting for room can go on.
    if (back || this.#holder === null || this.putters.length > 0) this.#serve();
  }

  /** Serves waiting getters, putters and joiners in order, from whatever the ring holds now. */
  #serve(): void {
    this.#refill();
    while (this.getters.length > 0) {
      const next = this.getters[0];
      if (this.#blocked(next.caller.channel, next.key)) {
        this.#recall();
        break;
      }
      const item = this.#take();
      if (!item) break;
      this.getters.shift();
      next.serve(item);
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

  /**
   * Tells workers sharing the ring how many callers wait here (they are
   * served first). Items given back or lent come before the ring's: while
   * any exist, workers must get through the owner too, and put through it
   * when there is a maxsize (the ring cannot count them).
   */
  #publish(): void {
    const outside = this.#front.length + this.#lent.length > 0 ? 1 : 0;
    publishWaiting(
      this.ring,
      this.getters.length + outside,
      this.putters.length + (this.maxsize > 0 ? outside : 0),
    );
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

  /** The ring is being handed to a worker, which takes items from it directly: stop lending. */
  shareRing(): void {
    this.#shared = true;
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
    return this.#get(caller, block, timeout, null, (first) => first);
  }

  /**
   * A borrower's get: the item `get` would answer, then maybe more, lent
   * (see `#answer`). `key` names the borrower in a recall.
   */
  getMany(
    caller: Caller,
    block: boolean,
    timeout: number | null,
    max: number,
    key: string,
  ): Uint8Array[] | Promise<Uint8Array[]> {
    return this.#get(
      caller,
      block,
      timeout,
      key,
      (first) => this.#answer(caller.channel, first, max, key),
    );
  }

  /** Answers with the oldest item it may take now, or waits in line for one. */
  #get<T>(
    caller: Caller,
    block: boolean,
    timeout: number | null,
    key: string | null,
    answer: (first: Uint8Array) => T,
  ): T | Promise<T> {
    if (this.getters.length === 0 && !this.#blocked(caller.channel, key)) {
      const item = this.#take();
      if (item) {
        const result = answer(item);
        this.#serve();
        return result;
      }
    }
    return this.#park(caller, block, timeout, key, answer);
  }

  /** A getter that found no item it may take: waits in line (or `Empty` when not blocking). */
  #park<T>(
    caller: Caller,
    block: boolean,
    timeout: number | null,
    key: string | null,
    answer: (first: Uint8Array) => T,
  ): Promise<T> {
    // Even a get that does not wait recalls: a caller polling must not wait forever.
    if (this.#blocked(caller.channel, key)) this.#recall();
    if (!block) throw new Empty("The queue is empty");
    const getter: Getter = {
      caller,
      key,
      serve: (first) => waiter.resolve(answer(first)),
      fail: (error) => waiter.reject(error),
    };
    const waiter = new Waiter<T>(caller, timeout, (me) => {
      this.getters = this.getters.filter((g) => g !== getter);
      this.#publish();
      me.reject(new Empty(`The queue stayed empty for ${timeout} ms`));
    });
    this.getters.push(getter);
    this.#publish();
    this.#watch();
    return waiter.promise;
  }

  /**
   * Another process handed to its program the `got` oldest items answered
   * to its gets and not acknowledged yet, and the `lent` oldest items lent
   * to it: they are its own now.
   */
  ack(caller: Caller, got: number, lent: number): void {
    const channel = caller.channel;
    if (channel === null) return;
    const unacked = this.#unacked.get(channel);
    if (unacked && got > 0) {
      unacked.splice(0, Math.floor(got));
      if (unacked.length === 0) this.#unacked.delete(channel);
    }
    if (lent > 0 && channel === this.#holder) this.#settleLent(lent, false);
  }

  /** The holder gives back its `n` oldest lent items (all it had not handed out). */
  giveBack(caller: Caller, n: number): void {
    if (caller.channel !== null && caller.channel === this.#holder) this.#settleLent(n, true);
  }

  /**
   * A parked item a worker found a pointer to. It stays here until that
   * worker handed it to its program (`dropParked`): if the worker dies
   * first, the pointer goes back to the front of the ring.
   */
  fetch(_caller: Caller, id: number): Uint8Array {
    const item = this.parked.get(id);
    if (!item) throw new ValueError(`No parked item ${id}: it was taken already`);
    return item;
  }

  /** A worker handed the parked item `id` to its program: it is gone for good. */
  dropParked(_caller: Caller, id: number): void {
    this.parked.delete(id);
  }

  qsize(): number {
    return this.#held();
  }
  empty(): boolean {
    return this.#held() === 0;
  }
  full(): boolean {
    return this.maxsize > 0 && this.#held() >= this.maxsize;
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

  /** Nothing holds the queue any more: its waiters fail, its items and memory go. */
  override free(gone: OSError): void {
    for (const g of this.getters.splice(0)) g.fail(gone);
    for (const p of this.putters.splice(0)) p.waiter.reject(gone);
    for (const j of this.joiners.splice(0)) j.reject(gone);
    this.overflow.drain();
    this.parked.clear();
    if (!this.#shared) recycleRing(this.ring); // no worker has it: the next queue may use it
  }

  override dropChannel(channel: Channel): void {
    this.getters = this.getters.filter((g) => g.caller.channel !== channel);
    this.putters = this.putters.filter((p) => p.waiter.caller.channel !== channel);
    this.joiners = this.joiners.filter((j) => j.caller.channel !== channel);
    // What a process that ended had not handed to its program goes back to
    // the front, in order: the answers to its gets (older than anything
    // else in the queue), then the items lent to it.
    const unacked = this.#unacked.get(channel) ?? [];
    this.#unacked.delete(channel);
    if (channel === this.#holder) this.#settleLent(this.#lent.length, true, unacked);
    else {
      this.#front.unshift(...unacked);
      this.#serve();
    }
  }
}

/** A record this process popped from a ring and holds until its program has it. */
interface Hold {
  readonly ring: Ring;
  readonly hold: number;
  readonly ref: QueueRef;
  /** The id of the item parked with the owner the record pointed to (-1: none). */
  readonly parked: number;
}

/** This process's holds, released together (see `releaseHolds`). */
const holds: Hold[] = [];
let holdTimer: ReturnType<typeof setTimeout> | null = null;
const onHoldTimer = (): void => {
  holdTimer = null;
  releaseHolds();
};

/**
 * A record a get popped from shared memory stays in the ring, held, until
 * the program has the item for good: until this process gets again, puts,
 * or yields to its event loop. If it dies first (terminated while the item
 * was on its way to the program), the process that started it puts the
 * record back at the front of the queue.
 */
function keepHold(ring: Ring, hold: number, ref: QueueRef, parked: number): void {
  holds.push({ ring, hold, ref, parked });
  holdTimer ??= setTimeout(onHoldTimer, 0);
}

/**
 * The program has what this process's gets returned: the records are gone
 * for good. False when this process was reported dead first (the records
 * went back to the front).
 */
function releaseHolds(): boolean {
  if (holds.length === 0) return true;
  const ident = processState().ident;
  let mine = true;
  for (const h of holds.splice(0)) {
    if (!release(h.ring, h.hold, ident)) mine = false;
    else if (h.parked >= 0) h.ref.send("dropParked", h.parked);
  }
  return mine;
}

/** A put that lets go of the holds as its item lands: a kill leaves both or neither. */
const commitHolds = (): boolean => releaseHolds();

/** A worker's direct access to a queue's shared memory. */
class RingSide {
  /** Puts from this process still on their way through the owner (keeps them in order). */
  viaOwner = 0;
  constructor(readonly ring: Ring, readonly ref: QueueRef) {}

  async put(item: Uint8Array, block: boolean, timeout: number | null): Promise<void> {
    if (this.viaOwner > 0 || item.length > BIG_ITEM || ownerPutters(this.ring)) {
      return await this.#viaOwner(item, block, timeout);
    }
    const ident = processState().ident;
    // A report of what this process's gets returned lands as their holds go.
    const first: Pushed = push(
      this.ring,
      { bytes: item },
      ident,
      false,
      holds.length > 0 ? commitHolds : undefined,
    );
    if (first === Pushed.Done) return;
    if (first === Pushed.ToOwner) return await this.#viaOwner(item, block, timeout);
    if (!block) throw new Full(`The queue is full (maxsize ${maxsizeOf(this.ring)})`);
    let result: Pushed = first;
    await this.#waitUntil(timeout, () => {
      result = push(
        this.ring,
        { bytes: item },
        ident,
        false,
        holds.length > 0 ? commitHolds : undefined,
      );
      return result !== Pushed.Full;
    }, () => new Full(`The queue stayed full for ${timeout} ms`));
    if ((result as Pushed) === Pushed.ToOwner) await this.#viaOwner(item, block, timeout);
  }

  async #viaOwner(item: Uint8Array, block: boolean, timeout: number | null): Promise<void> {
    this.viaOwner++;
    try {
      await this.ref.call("put", item, block, timeout);
      releaseHolds();
    } finally {
      this.viaOwner--;
    }
  }

  async get(block: boolean, timeout: number | null): Promise<Uint8Array> {
    // What earlier gets returned is the program's now, for good.
    releaseHolds();
    const ident = processState().ident;
    // Callers already waiting in the owner come first: join their line (as a
    // borrower: the owner keeps the item until this process acknowledges it).
    if (ownerGetters(this.ring)) return await borrowerOf(this.ref).get(block, timeout);
    let popped = pop(this.ring, ident, true);
    if (popped === null && block && !overflowing(this.ring)) {
      await this.#waitUntil(
        timeout,
        () => (popped = pop(this.ring, ident, true)) !== null,
        () => new Empty(`The queue stayed empty for ${timeout} ms`),
      );
    }
    // Items in the owner's list, an answer now, or every hold in use: ask the owner.
    if (!popped) return await borrowerOf(this.ref).get(block, timeout);
    const p = popped as Taken;
    if ("bytes" in p) {
      keepHold(this.ring, p.hold, this.ref, -1);
      return p.bytes;
    }
    // Held until handed over: if this process dies meanwhile, the pointer goes back.
    const bytes = await this.ref.call("fetch", p.parked) as Uint8Array;
    keepHold(this.ring, p.hold, this.ref, p.parked);
    return bytes;
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

/**
 * How long a borrower may sit on lent items: about this much of its own
 * work, in ms. A process that spends longer on each item than this is lent
 * nothing, so a pool of slow tasks is shared exactly as without lending.
 */
const LEND_BUDGET_MS = 1;

/** A `get` waiting in a borrowing process. */
interface LocalGet {
  readonly resolve: (item: Uint8Array) => void;
  readonly reject: (error: unknown) => void;
  readonly block: boolean;
  readonly timeout: number | null;
  readonly since: number;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The gets of one process on a queue another process owns, which it does
 * not reach through shared memory: one per queue and process, shared by
 * every handle of that queue there. It keeps the items the owner lent, in
 * order, hands them out first, and acknowledges each item it hands out
 * (answers and lent items, see `#handed`), so at any time the owner's
 * record of what it sent here and is not acknowledged is exactly what this
 * buffer holds, what was handed out since the last acknowledgement, and
 * what is on its way. At most one request is at the owner at a time: gets made
 * meanwhile wait here in order and are served from what its answer brings
 * (an answer's items are newer than any already here, so no get can
 * overtake older items this process holds).
 */
class Borrower {
  /** Lent items not handed out yet, oldest first. */
  readonly #buffer = new Deque<Uint8Array>();
  /** Gets waiting here, oldest first; the first one's request is at the owner. */
  readonly #waiting: LocalGet[] = [];
  /** The get whose request is at the owner. */
  #asking: LocalGet | null = null;
  /** The handle was closed while a request was out: give back what its answer lends. */
  #giveBackAnswer = false;
  /** How long the program works on an item between two gets (ms, smoothed), or Infinity. */
  #pace = Infinity;
  #handedAt: number | null = null;
  /** The channel to the owner, once open. */
  #channel: Channel | null = null;
  /** Items handed to the program and not acknowledged yet: answers to gets, and lent ones. */
  #gotUnacked = 0;
  #lentUnacked = 0;
  /** Whether items were handed out since the last acknowledgement. */
  #ackPending = false;
  /** Sends the acknowledgement if nothing else went to the owner first (armed at most once). */
  #ackTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #onAckTimer = (): void => {
    this.#ackTimer = null;
    this.#sendAck();
  };
  readonly #sendAckNow = (): void => this.#sendAck();

  constructor(readonly key: string, readonly ref: QueueRef) {
    localNode().channelTo(ref.state().address).then(
      (channel) => {
        this.#channel = channel;
        // The owner took back everything not acknowledged when this channel closed: drop it here too.
        channel.onClose(() => {
          this.#buffer.drain();
          this.#gotUnacked = this.#lentUnacked = 0;
          this.#ackPending = false;
        });
      },
      () => {},
    );
  }

  /**
   * Items are being handed to the program (`got` answers to gets, `lent`
   * from the buffer): they stay the owner's until it hears of it. The
   * acknowledgement rides with the next message this process sends the
   * owner, in the same write (a consumer that reports what it got to an
   * object the owner also owns sends both or neither), or goes alone once
   * this process yields to its event loop or calls `get` again.
   */
  #handed(got: number, lent: number): void {
    this.#gotUnacked += got;
    this.#lentUnacked += lent;
    if (this.#ackPending) return;
    this.#ackPending = true;
    this.#channel?.beforeNextSend(this.#sendAckNow);
    // One timer for every acknowledgement due in this turn of the event loop.
    this.#ackTimer ??= setTimeout(this.#onAckTimer, 0);
  }

  /** Sends what was handed out since the last acknowledgement. */
  #sendAck(): void {
    if (!this.#ackPending) return;
    this.#ackPending = false;
    const got = this.#gotUnacked;
    const lent = this.#lentUnacked;
    this.#gotUnacked = this.#lentUnacked = 0;
    if (got > 0 || lent > 0) this.ref.send("ack", got, lent);
  }

  /** The next item: one lent earlier, or from the owner (with `block` and `timeout` as `get`). */
  get(block: boolean, timeout: number | null): Promise<Uint8Array> {
    this.#notePace();
    if (this.#waiting.length === 0 && this.#buffer.length > 0) {
      // What earlier gets returned is acknowledged now at the latest, so a
      // process killed later owes the owner at most the item this get
      // returns. (A get that asks the owner sends it in the same write.)
      this.#sendAck();
      const item = this.#buffer.shift()!;
      this.#handed(0, 1);
      this.#handedAt = performance.now();
      return Promise.resolve(item);
    }
    // This process already waits at the owner: for a get that does not wait, the queue is empty.
    if (!block && this.#asking?.block) return Promise.reject(new Empty("The queue is empty"));
    return new Promise((resolve, reject) => {
      const get: LocalGet = { resolve, reject, block, timeout, since: performance.now() };
      if (timeout !== null && timeout <= MAX_TIMER) {
        get.timer = setTimeout(() => this.#expire(get), Math.max(0, timeout));
      }
      this.#waiting.push(get);
      this.#pump();
    });
  }

  /** Gives back what this process holds, and what the answer on its way lends (a handle closed). */
  release(): void {
    if (this.#asking) this.#giveBackAnswer = true;
    else this.#giveBack();
  }

  /** Serves waiting gets from the buffer, gives back what a recall asked for, asks for more. */
  #pump(): void {
    if (this.#asking) return;
    let handed = 0;
    if (this.#waiting.length > 0 && this.#buffer.length > 0) this.#sendAck();
    while (this.#waiting.length > 0 && this.#buffer.length > 0) {
      const get = this.#waiting.shift()!;
      clearTimeout(get.timer);
      get.resolve(this.#buffer.shift()!);
      handed++;
    }
    if (handed > 0) {
      this.#handed(0, handed);
      this.#handedAt = performance.now();
    }
    if (this.#giveBackAnswer) {
      this.#giveBackAnswer = false;
      this.#giveBack(); // before asking again, so the owner has them back first
    }
    if (this.#waiting.length > 0) this.#ask(this.#waiting[0]);
  }

  /** Sends the first waiting get's request; the owner times it out, so its timer stops here. */
  #ask(get: LocalGet): void {
    this.#asking = get;
    clearTimeout(get.timer);
    const waited = performance.now() - get.since;
    const timeout = get.timeout === null ? null : Math.max(0, Math.ceil(get.timeout - waited));
    this.ref.call("getMany", get.block, timeout, this.#wanted(), this.key).then(
      (items) => {
        // The first item is this get's own; the rest were lent (newer than anything held here).
        const [first, ...lent] = items as Uint8Array[];
        for (const item of lent) this.#buffer.push(item);
        this.#answered(() => {
          this.#sendAck(); // what earlier gets returned, if it has not left yet
          this.#handed(1, 0);
          get.resolve(first);
        });
      },
      (error) => this.#answered(() => get.reject(error)),
    );
  }

  /** The request came back: its get (still the first waiting: expiry spares it) settles. */
  #answered(settle: () => void): void {
    this.#asking = null;
    this.#waiting.shift();
    settle();
    this.#handedAt = performance.now();
    this.#pump();
  }

  /** A waiting get's timeout passed before its turn to ask came. */
  #expire(get: LocalGet): void {
    if (get === this.#asking) return;
    const i = this.#waiting.indexOf(get);
    if (i < 0) return;
    this.#waiting.splice(i, 1);
    get.reject(new Empty(`The queue stayed empty for ${get.timeout} ms`));
  }

  #giveBack(): void {
    const n = this.#buffer.length;
    if (n === 0) return;
    this.#buffer.drain();
    this.ref.send("giveBack", n);
  }

  /** Measures how long the program took since the last item it got. */
  #notePace(): void {
    if (this.#handedAt === null) return;
    const took = performance.now() - this.#handedAt;
    this.#pace = this.#pace === Infinity ? took : 0.75 * this.#pace + 0.25 * took;
  }

  /**
   * How many items to ask for: about LEND_BUDGET_MS of this program's work,
   * at most LEND_MAX; one while its pace is unknown (the first get) or slow.
   */
  #wanted(): number {
    if (this.#pace === Infinity) return 1;
    return Math.max(1, Math.min(LEND_MAX, Math.floor(LEND_BUDGET_MS / Math.max(this.#pace, 1e-3))));
  }

  /**
   * The owner wants the lent items back (another getter waits). They go
   * back once the program yields to the event loop: a program taking items
   * in a loop empties the buffer first (it does not yield meanwhile, and
   * giving back what it is about to take would only send items to and fro),
   * while one that waits on something else gives them back at once. If a
   * request is out by then, the buffer is empty (a request goes out only
   * then) and its answer was sent after the recall: nothing to give back.
   */
  static recall(key: string): void {
    setTimeout(() => {
      const borrower = borrowers.get(key);
      if (borrower && !borrower.#asking) borrower.#giveBack();
    }, 0);
  }
}

/** This process's borrowers, by the queue's id. */
const borrowers = new Map<string, Borrower>();

/** The borrower of the queue `ref` names, made on first use. */
function borrowerOf(ref: QueueRef): Borrower {
  const key = ref.state().id;
  let borrower = borrowers.get(key);
  if (!borrower) {
    borrower = new Borrower(key, ref);
    borrowers.set(key, borrower);
  }
  return borrower;
}

onMessage("queue.recall", (_channel, [, key]) => Borrower.recall(key));

onChildDeath(freeRingsHeldBy);
// Records a child held in shared memory: back to the front if it died, gone if it ended cleanly.
onChildExit(settleHoldsOf);
// A killed worker may run on a moment: from the kill on it takes and puts nothing.
onChildKill((ident) => settleHoldsOf(ident, true));

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
    if (!this._side && !this._ref.core) borrowers.get(this._ref.id)?.release();
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
