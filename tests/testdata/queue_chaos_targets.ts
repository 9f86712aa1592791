/**
 * The functions the queue chaos test (tests/chaos_queue_test.ts) runs in
 * its children: producers that put numbered items, and consumers (some of
 * them killed mid-run) that report each item they got. Each is exported
 * so a child finds it by name in the module that started it (the test
 * file re-exports this module). Names start with `queue` so they cannot
 * clash with other targets.
 *
 * @module
 */

import type { Queue } from "../../mod.ts";

/** An item of the chaos test: the producer's number and the item's number at that producer. */
export type QueueChaosItem = [producer: number, index: number];

/** Puts `[producer, 0]` .. `[producer, count - 1]` on `q`, in order. */
export async function queueChaosProduce(
  q: Queue<QueueChaosItem | null>,
  producer: number,
  count: number,
): Promise<void> {
  for (let i = 0; i < count; i++) await q.put([producer, i]);
}

/**
 * Gets items from `q` until it gets `null`, reporting each one on `results`
 * as `[consumer, item]` once it has worked on it for `spinMs` (busy, not
 * yielding to the event loop: a kill lands while an item is in hand).
 */
export async function queueChaosConsume(
  q: Queue<QueueChaosItem | null>,
  results: Queue<[number, QueueChaosItem]>,
  consumer: number,
  spinMs = 0,
): Promise<void> {
  for (;;) {
    const item = await q.get();
    if (item === null) return;
    busy(spinMs);
    await results.put([consumer, item]);
  }
}

/**
 * Gets items `[index, padding]` from `q` until it gets `null`; holds each
 * for `spinMs` of busy work (no yield to the event loop: a kill lands while
 * the item is in hand) and then reports its index on `results`.
 */
export async function queueChaosConsumeSlowly(
  q: Queue<[number, Uint8Array | null] | null>,
  results: Queue<number>,
  spinMs: number,
): Promise<void> {
  for (;;) {
    const item = await q.get();
    if (item === null) return;
    busy(spinMs);
    await results.put(item[0]);
  }
}

/** Works `ms` milliseconds without yielding to the event loop: a kill lands while an item is in hand. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: the item is this process's alone
  }
}
