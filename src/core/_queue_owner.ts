/**
 * A queue's owner side: the core that lives in the process that made the
 * queue and answers every other process's puts and gets, lends items to a
 * process that gets quickly and takes them back (recall, give back, a
 * holder that ended), and keeps what it answered to another process until
 * that process acknowledges it. The rules it keeps are in the module doc of
 * queues.ts.
 *
 * @module
 */

import {
  addOverflow,
  BIG_ITEM,
  count,
  newRing,
  pop,
  type Popped,
  publishWaiting,
  push,
  Pushed,
  recycleRing,
  type Ring,
  sequence,
  taskDone as ringTaskDone,
  unfinished,
  waitForChange,
} from "./_ring.ts";
import { processState } from "./_state.ts";
import { Deque } from "./_deque.ts";
import type { Channel } from "./_wire/channel.ts";
import { type Caller, expose, type Ref, SharedCore, Waiter } from "./_shared.ts";
import { Empty, Full, type OSError, ValueError } from "./errors.ts";

/** The most items one answer to a borrower carries: the one asked for and those lent. */
export const LEND_MAX = 32;
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
export type QueueRef = Ref<QueueCore>;

/**
 * A queue's owner side: its ring, the items that did not fit or are
 * parked, whoever waits to get, put or join, and what is lent or answered
 * to other processes and not acknowledged yet (see the module doc of
 * queues.ts).
 */
export class QueueCore extends SharedCore {
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
