/**
 * The functions the lifetime cases of the queue, synchronization and
 * shared-value contracts run in their children (issue 11, section 1:
 * shared objects are freed in their owner once no process holds them).
 * Each is exported so a child finds it by name in the contract that
 * started it (those re-export this module). Names start with `lifetime`.
 *
 * @module
 */

import {
  type Barrier,
  type Condition,
  type Event,
  getContext,
  type Lock,
  type Queue,
  type Semaphore,
  type StartMethod,
  type Synchronized,
  type SynchronizedArray,
} from "../../mod.ts";

/** Puts 1 in `q`, gets it back, reports `ok:<item>` on `report`, then closes its handle. */
export async function lifetimeUseQueue(q: Queue<number>, report: Queue<string>): Promise<void> {
  await q.put(1);
  await report.put(`ok:${await q.get()}`);
  q.close();
}

/** Gets a queue out of `carrier`, uses it as `lifetimeUseQueue` does, then closes it. */
export async function lifetimeUseQueueFromQueue(
  carrier: Queue<Queue<number>>,
  report: Queue<string>,
): Promise<void> {
  const inner = await carrier.get();
  await lifetimeUseQueue(inner, report);
}

/** Says "ready" on `ready` and waits (to be killed) holding `q`. */
export async function lifetimeHoldUntilKilled(q: Queue, ready: Queue<string>): Promise<void> {
  await ready.put("ready");
  await new Promise((resolve) => setTimeout(resolve, 60_000));
  q.close();
}

/**
 * Makes a queue, puts it in `out` and closes its own handle at once (the
 * reference on its way must keep the queue alive), then serves until told
 * to stop: it gets items from `stop` and ends on "stop".
 */
export async function lifetimeSendOwnQueue(
  out: Queue<Queue<string>>,
  stop: Queue<string>,
  method: StartMethod,
): Promise<void> {
  const mine = new (getContext(method).Queue)<string>();
  await mine.put("made in the child");
  await out.put(mine);
  mine.close();
  while ((await stop.get()) !== "stop") {
    // only "stop" is expected
  }
}

/** Uses each primitive once, reports "ok", and ends without closing anything. */
export async function lifetimeUsePrimitives(
  lock: Lock,
  semaphore: Semaphore,
  event: Event,
  condition: Condition,
  barrier: Barrier,
  report: Queue<string>,
): Promise<void> {
  await lock.acquire();
  await lock.release();
  await semaphore.acquire();
  await semaphore.release();
  await event.set();
  await condition.acquire();
  await condition.notifyAll();
  await condition.release();
  await barrier.wait();
  await report.put("ok");
}

/** Writes 7 into `value` and 3 into `array[0]`, reports "ok", and ends. */
export async function lifetimeWriteValues(
  value: Synchronized,
  array: SynchronizedArray,
  report: Queue<string>,
): Promise<void> {
  await value.update(() => 7);
  await array.set(0, 3);
  await report.put("ok");
}
