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
import { perMethod, type Suite } from "../_workload.ts";

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

/** This file's part of the plan. */
export interface ObjectsPlan {
  /** Objects made and freed: the plan and the iterations (3 objects each) of one sample. */
  objects: Plan;
  objectsIterations: number;
}

/** Objects made and freed, with the resident size beside (no CPython equivalent). */
export const suite: Suite<ObjectsPlan> = {
  plans: {
    full: { objects: { iterations: 5, time: 0, warmup: 1 }, objectsIterations: 20_000 },
    quick: { objects: { iterations: 3, time: 0, warmup: 1 }, objectsIterations: 10_000 },
    smoke: { objects: { iterations: 2, time: 0, warmup: 0 }, objectsIterations: 500 },
  },
  workloads: [{
    id: "objects.make_free",
    size: (plan) => ({ items: OBJECTS_PER_ITERATION * plan.objectsIterations }),
    rows: perMethod(async (method, plan) => {
      const rss: RssBeside = { before: 0, after: 0 };
      const samples = await objectsMadeAndFreed(
        method,
        plan.objects,
        plan.objectsIterations,
        rss,
      );
      return { samples, beside: `RSS ${rss.before} → ${rss.after} MiB` };
    }),
  }],
};
