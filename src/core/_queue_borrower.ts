/**
 * A process's gets on a queue another process owns, which it does not
 * reach through shared memory: the lending borrower, which keeps the items
 * the owner lent it, hands them out first, acknowledges each item it hands
 * out, and gives back what it holds when the owner recalls it ("queue.recall")
 * or a handle is closed. The rules it keeps are in the module doc of
 * queues.ts.
 *
 * @module
 */

import { Deque } from "./_deque.ts";
import { type Channel, onMessage } from "./_wire/channel.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import { MAX_TIMER } from "./_shared.ts";
import { Empty } from "./errors.ts";
import { LEND_MAX, type QueueRef } from "./_queue_owner.ts";

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
export class Borrower {
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
    localEndpoint().channelTo(ref.state().address).then(
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
export function borrowerOf(ref: QueueRef): Borrower {
  const key = ref.state().id;
  let borrower = borrowers.get(key);
  if (!borrower) {
    borrower = new Borrower(key, ref);
    borrowers.set(key, borrower);
  }
  return borrower;
}

onMessage("queue.recall", (_channel, [, key]) => Borrower.recall(key));

/** Gives back what this process's borrower of the queue `key` holds (a handle was closed). */
export function releaseBorrower(key: string): void {
  borrowers.get(key)?.release();
}
