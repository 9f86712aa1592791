/**
 * The pool workloads: `map` with the default chunk size and with
 * chunksize 1, `applyAsync` + `get`, creation + a first tiny map, and a
 * CPU-bound sum of squares split over the pool against the serial loop.
 * Pools are made and called in `../_targets.ts`, so that their workers
 * import nothing but the library and that module.
 *
 * @module
 */

import type { Pool, StartMethod } from "../../mod.ts";
import { applySquares, mapSquares, newPool, sumSquares, sumSquaresSplit } from "../_targets.ts";
import { type Plan, sample } from "../_measure.ts";

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
