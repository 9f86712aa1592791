/**
 * The pool workloads: `map` with the default chunk size and with
 * chunksize 1, `applyAsync` + `get`, creation + a first tiny map, the first
 * large `map` of a fresh program (a cold runtime), `close()` + `join()`, and
 * a CPU-bound sum of squares split over the pool against the serial loop.
 * Pools are made and called in `../_targets.ts`, so that their workers
 * import nothing but the library and that module (the fresh program,
 * `../raw/first_map.ts`, makes its own).
 *
 * @module
 */

import type { Pool, StartMethod } from "../../mod.ts";
import { applySquares, mapSquares, newPool, sumSquares, sumSquaresSplit } from "../_targets.ts";
import { type Plan, sample } from "../_measure.ts";
import { type CommonPlan, perMethod, type Suite } from "../_workload.ts";
import { PEER_METHODS, POOL_FLOOR_METHODS } from "../_figures.ts";
import { peerLabel } from "../peers/_peers.ts";
import { peerApplyAsync } from "./_peers.ts";
import { freshSamples, runFresh } from "./_fresh.ts";

/** Runs `body` with a warm `Pool(2)` (every worker answered once), then terminates it. */
async function withPool<T>(method: StartMethod, body: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = newPool(method, 2);
  try {
    await mapSquares(pool, [0, 1, 2, 3, 4, 5, 6, 7]);
    return await body(pool);
  } finally {
    await pool.terminate();
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function checkSquares(out: number[], n: number): void {
  if (out.length !== n || out[n - 1] !== (n - 1) * (n - 1)) {
    throw new Error("the pool answered something else");
  }
}

/** Latency (ms) of `pool.map(square, items, chunksize)` over `n` items. */
export function poolMap(
  method: StartMethod,
  plan: Plan,
  n: number,
  chunksize?: number,
): Promise<number[]> {
  const items = range(n);
  const name = chunksize === undefined ? "pool.map_200k" : "pool.map_20k_chunk1";
  return withPool(method, (pool) =>
    sample(`${name} ${method}`, async () => {
      checkSquares(await mapSquares(pool, items, chunksize), n);
    }, plan));
}

/** Latency (ms) of `n` × `applyAsync(square, [i])` submitted at once, then every `get()`. */
export function poolApplyAsync(method: StartMethod, plan: Plan, n: number): Promise<number[]> {
  return withPool(method, (pool) =>
    sample(`pool.apply_async_20k ${method}`, async () => {
      checkSquares(await applySquares(pool, n), n);
    }, plan));
}

/** Latency (ms) of `new Pool(2)` and a first map of 4 items (terminating it is not timed). */
export function poolCreateFirstMap(method: StartMethod, plan: Plan): Promise<number[]> {
  let pool: Pool | null = null;
  return sample(
    `pool.create_first_map ${method}`,
    async () => {
      pool = newPool(method, 2);
      checkSquares(await mapSquares(pool, [0, 1, 2, 3]), 4);
    },
    plan,
    {
      afterEach: async () => {
        await pool?.terminate();
        pool = null;
      },
    },
  );
}

/**
 * Latencies (ms) of the first `pool.map(square, items)` over `n` items in
 * fresh programs (`../raw/first_map.ts`, one after the other), each after
 * a map of 3 items; each program times its own map.
 */
export function poolFirstMap(
  method: StartMethod,
  plan: Plan,
  n: number,
  programDeadline: number,
): Promise<number[]> {
  return freshSamples(async () => {
    const { ms } = await runFresh<{ ms: number }>(
      "first_map.ts",
      [method, String(n)],
      programDeadline,
    );
    return ms;
  }, plan);
}

/**
 * Latency (ms) of `pool.close(); await pool.join()` on a `Pool(2)` that
 * mapped 3 items (making it and the map are not timed).
 */
export function poolCloseJoin(method: StartMethod, plan: Plan): Promise<number[]> {
  let pool: Pool | null = null;
  return sample(
    `pool.close_join ${method}`,
    async () => {
      pool!.close();
      await pool!.join();
    },
    plan,
    {
      beforeEach: async () => {
        pool = newPool(method, 2);
        const out = await mapSquares(pool, [1, 2, 3]);
        if (out.join() !== "1,4,9") throw new Error("the pool answered something else");
      },
      afterEach: async () => {
        // Nothing left to end after a join; after a failure, the workers.
        await pool?.terminate();
        pool = null;
      },
    },
  );
}

/**
 * Speed-ups (not ms): for each sample, the time of `sumSquares(0, n)` in
 * this process over the time of the same sum split in two halves over a
 * `Pool(2)`.
 */
export function cpuSpeedup(method: StartMethod, plan: Plan, n: number): Promise<number[]> {
  return withPool(method, async (pool) => {
    const ratios: number[] = [];
    await sample(`cpu.speedup ${method}`, async () => {
      const t0 = performance.now();
      const serial = sumSquares(0, n);
      const t1 = performance.now();
      const split = await sumSquaresSplit(pool, n);
      const t2 = performance.now();
      // Floating-point sums in another order differ in the last digits.
      if (Math.abs(split - serial) > 1e-9 * serial) {
        throw new Error(`the split sum ${split} differs from the serial sum ${serial}`);
      }
      ratios.push((t1 - t0) / (t2 - t1));
    }, plan);
    return ratios.slice(plan.warmup);
  });
}

/** This file's part of the plan. */
export interface PoolPlan {
  poolMap: Plan;
  poolMapItems: number;
  poolChunk1: Plan;
  poolChunk1Items: number;
  /** Pool applyAsync, and the JS pools on the same workload. */
  poolApply: Plan;
  poolApplyTasks: number;
  poolCreate: Plan;
  /** The first map in a fresh program: one program per sample, its items, its deadline (ms). */
  firstMap: Plan;
  firstMapItems: number;
  firstMapDeadline: number;
  /** close() + join(), one new Pool(2) per sample. */
  poolClose: Plan;
  /** CPU speed-up: the plan, and the loop's length in JavaScript and in CPython. */
  cpu: Plan;
  cpuN: number;
  cpuPythonN: number;
  /** The most one JS pool may take (some hang on some runtimes), in ms. */
  peerDeadline: number;
}

/** The pool workloads, the JS pools beside applyAsync, and CPython's equivalents. */
export const suite: Suite<PoolPlan> = {
  plans: {
    full: {
      poolMap: { iterations: 10, time: 1000, warmup: 3 },
      poolMapItems: 200_000,
      poolChunk1: { iterations: 5, time: 0, warmup: 1 },
      poolChunk1Items: 20_000,
      poolApply: { iterations: 5, time: 0, warmup: 2 },
      poolApplyTasks: 20_000,
      poolCreate: { iterations: 10, time: 0, warmup: 2 },
      // The warm-up program compiles the graph into the runtime's cache.
      firstMap: { iterations: 5, time: 0, warmup: 1 },
      firstMapItems: 200_000,
      firstMapDeadline: 30_000,
      poolClose: { iterations: 10, time: 0, warmup: 2 },
      // JavaScriptCore needs several calls before the children's loop runs at
      // full speed (the half whose i * i is past 2^31 deoptimizes first).
      cpu: { iterations: 7, time: 0, warmup: 5 },
      cpuN: 200_000_000,
      cpuPythonN: 4_000_000,
      peerDeadline: 30_000,
    },
    quick: {
      poolMap: { iterations: 5, time: 0, warmup: 2 },
      poolMapItems: 200_000,
      poolChunk1: { iterations: 3, time: 0, warmup: 1 },
      poolChunk1Items: 20_000,
      poolApply: { iterations: 3, time: 0, warmup: 1 },
      poolApplyTasks: 20_000,
      poolCreate: { iterations: 5, time: 0, warmup: 1 },
      firstMap: { iterations: 3, time: 0, warmup: 1 },
      firstMapItems: 200_000,
      firstMapDeadline: 20_000,
      poolClose: { iterations: 5, time: 0, warmup: 1 },
      cpu: { iterations: 3, time: 0, warmup: 3 },
      cpuN: 200_000_000,
      cpuPythonN: 4_000_000,
      peerDeadline: 15_000,
    },
    smoke: {
      poolMap: { iterations: 2, time: 0, warmup: 0 },
      poolMapItems: 2000,
      poolChunk1: { iterations: 2, time: 0, warmup: 0 },
      poolChunk1Items: 200,
      poolApply: { iterations: 2, time: 0, warmup: 0 },
      poolApplyTasks: 200,
      poolCreate: { iterations: 2, time: 0, warmup: 0 },
      firstMap: { iterations: 1, time: 0, warmup: 0 },
      firstMapItems: 200_000,
      firstMapDeadline: 15_000,
      poolClose: { iterations: 2, time: 0, warmup: 0 },
      cpu: { iterations: 2, time: 0, warmup: 0 },
      cpuN: 1_000_000,
      cpuPythonN: 100_000,
      peerDeadline: 8_000,
    },
  },
  workloads: [
    {
      id: "pool.map_200k",
      size: (plan) => ({ items: plan.poolMapItems }),
      rows: perMethod((method, plan) => poolMap(method, plan.poolMap, plan.poolMapItems)),
    },
    {
      id: "pool.map_20k_chunk1",
      size: (plan) => ({ items: plan.poolChunk1Items }),
      rows: perMethod((method, plan) => poolMap(method, plan.poolChunk1, plan.poolChunk1Items, 1)),
    },
    {
      id: "pool.apply_async_20k",
      size: (plan) => ({ items: plan.poolApplyTasks }),
      rows: [
        ...perMethod<PoolPlan & CommonPlan>((method, plan) =>
          poolApplyAsync(method, plan.poolApply, plan.poolApplyTasks)
        ),
        ...[...PEER_METHODS, ...POOL_FLOOR_METHODS].map((method) => ({
          method,
          label: peerLabel(method),
          measure: (plan: PoolPlan) =>
            peerApplyAsync(method, plan.poolApply, plan.poolApplyTasks, plan.peerDeadline),
          deadline: (plan: PoolPlan) => plan.peerDeadline + 5000,
        })),
      ],
    },
    {
      id: "pool.create_first_map",
      rows: perMethod((method, plan) => poolCreateFirstMap(method, plan.poolCreate)),
    },
    {
      id: "pool.first_map_200k",
      size: (plan) => ({ items: plan.firstMapItems }),
      rows: perMethod<PoolPlan & CommonPlan>((method, plan) =>
        poolFirstMap(method, plan.firstMap, plan.firstMapItems, plan.firstMapDeadline)
      ).map((row) => ({
        ...row,
        // Every program may take its own deadline (warm-up included), and then some.
        deadline: (plan) =>
          (plan.firstMap.warmup + plan.firstMap.iterations + 1) * plan.firstMapDeadline,
      })),
    },
    {
      id: "pool.close_join",
      rows: perMethod((method, plan) => poolCloseJoin(method, plan.poolClose)),
    },
    {
      id: "cpu.speedup",
      rows: perMethod((method, plan) => cpuSpeedup(method, plan.cpu, plan.cpuN)),
    },
  ],
  python: [{
    script: "first_map.py",
    workloads: ["pool.first_map_200k"],
    args: (plan) => ({
      plan: plan.firstMap,
      items: plan.firstMapItems,
      program_deadline_ms: plan.firstMapDeadline,
    }),
  }, {
    script: "pool.py",
    workloads: [
      "pool.map_200k",
      "pool.map_20k_chunk1",
      "pool.apply_async_20k",
      "pool.create_first_map",
      "pool.close_join",
      "cpu.speedup",
    ],
    args: (plan) => ({
      map: plan.poolMap,
      map_items: plan.poolMapItems,
      chunk1: plan.poolChunk1,
      chunk1_items: plan.poolChunk1Items,
      apply: plan.poolApply,
      apply_tasks: plan.poolApplyTasks,
      create: plan.poolCreate,
      close: plan.poolClose,
      cpu: plan.cpu,
      cpu_n: plan.cpuPythonN,
    }),
  }],
};
