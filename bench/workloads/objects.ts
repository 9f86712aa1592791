/**
 * Object lifetimes: how many shared objects the process that makes them
 * can make, use and free per second (a `Queue`, a `Lock` and a `Value` per
 * iteration, each closed), and its resident size before and after, which
 * stays flat now that a closed object is freed (issue 11, section 1).
 *
 * @module
 */

import process from "node:process";
import { getContext, type StartMethod } from "../../mod.ts";
import { type Plan, sample } from "../_measure.ts";

/** Resident size of this process, in MiB, around the measurement. */
export interface RssBeside {
  before: number;
  after: number;
}

/** Objects made per iteration: a Queue, a Lock and a Value (its own RLock is not counted). */
export const OBJECTS_PER_ITERATION = 3;

/**
 * Latency (ms) of `iterations` rounds of: make a `Queue`, put and get one
 * item, close it; make a `Lock`, acquire and release it, close it; make a
 * `Value`, set and read it, close it. `rss` gets the resident size before
 * the first sample and after the last.
 */
export async function objectsMadeAndFreed(
  method: StartMethod,
  plan: Plan,
  iterations: number,
  rss: RssBeside,
): Promise<number[]> {
  const ctx = getContext(method);
  const mib = () => Math.round(process.memoryUsage().rss / 2 ** 20);
  rss.before = mib();
  const samples = await sample(`objects.make_free ${method}`, async () => {
    for (let i = 0; i < iterations; i++) {
      const q = new ctx.Queue<number>();
      await q.put(i);
      await q.get();
      q.close();
      const lock = new ctx.Lock();
      await lock.acquire();
      await lock.release();
      lock.close();
      const v = ctx.Value("i", 0);
      await v.set(i);
      await v.get();
      v.close();
    }
  }, plan);
  rss.after = mib();
  return samples;
}
