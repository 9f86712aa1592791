/**
 * The functions the queue contract's lending cases run in their children
 * (see the lending notes in src/core/queues.ts). Each is exported so a
 * child finds it by name in the module that started it (the contract file
 * re-exports this module). Names start with `queue` so they cannot clash
 * with the other contracts' targets.
 *
 * @module
 */

import type { Event, Queue } from "../../mod.ts";

/** What {@linkcode queueLendTake} does once it has its items. */
export type QueueLendThen = "wait" | "close" | "exit" | "hang";

/**
 * Gets `count` items in a tight loop (a process that gets quickly is lent
 * more items than it asked for), reports them on `report` as one list,
 * then: waits for `ev` (`"wait"`), closes its handle of `q` and waits for
 * `ev` (`"close"`), returns (`"exit"`), or sleeps until it is killed
 * (`"hang"`).
 */
export async function queueLendTake(
  q: Queue<number>,
  report: Queue<number[]>,
  count: number,
  then: QueueLendThen,
  ev: Event | null = null,
): Promise<void> {
  const got: number[] = [];
  for (let i = 0; i < count; i++) got.push(await q.get());
  if (then === "close") q.close();
  await report.put(got);
  if (then === "hang") await new Promise((resolve) => setTimeout(resolve, 60_000));
  if (then === "wait" || then === "close") await ev!.wait();
}

/** Gets `count` items and puts them, in the order got, on `results` as one list. */
export async function queueLendGetMany(
  q: Queue<number>,
  count: number,
  results: Queue<number[]>,
): Promise<void> {
  const got: number[] = [];
  for (let i = 0; i < count; i++) got.push(await q.get());
  await results.put(got);
}
