/**
 * A worker's direct access to a queue whose memory it shares: it puts and
 * gets on the ring itself, with no round trip, and holds each record it
 * got until its program has the item (see the module doc of queues.ts), so
 * that a worker killed meanwhile gives it back. It gets through the owner
 * (as a borrower) when callers wait there first or the ring cannot answer.
 *
 * @module
 */

import {
  BIG_ITEM,
  maxsizeOf,
  overflowing,
  ownerGetters,
  ownerPutters,
  pop,
  push,
  Pushed,
  release,
  type Ring,
  type Taken,
  taskDone as ringTaskDone,
  unfinished,
  waitOnRing,
} from "./_ring.ts";
import { processState } from "./_state.ts";
import { Empty, Full, ValueError } from "./errors.ts";
import type { QueueRef } from "./_queue_owner.ts";
import { borrowerOf } from "./_queue_borrower.ts";

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
export class RingSide {
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
