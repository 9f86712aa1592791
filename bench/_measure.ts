/**
 * Sampling with tinybench, and the statistics every figure reports.
 *
 * One tinybench iteration is one sample: one process started and joined,
 * one round trip, or one batch of messages. The CPython scripts follow the
 * same plan (warm-up iterations, then at least `iterations` samples and at
 * least `time` milliseconds), so both sides are measured alike.
 *
 * @module
 */

import { tinybench } from "./_tinybench.ts";

/** How many samples to take. */
export interface Plan {
  /** The least number of timed iterations. */
  iterations: number;
  /** The least time, in ms, the timed iterations take together (0: no minimum). */
  time: number;
  /** Untimed iterations first. */
  warmup: number;
}

/** Work around each sample that is not timed (tinybench's task hooks). */
export interface Hooks {
  /** Runs before every iteration, warm-up ones included (e.g. making what it times). */
  beforeEach?: () => Promise<void> | void;
  /** Runs after every iteration, warm-up ones included (e.g. terminating what it made). */
  afterEach?: () => Promise<void> | void;
}

/** Runs `fn` as one tinybench task and returns every sample's latency in ms. */
export async function sample(
  name: string,
  fn: () => Promise<unknown>,
  plan: Plan,
  hooks: Hooks = {},
): Promise<number[]> {
  const { Bench } = await tinybench();
  const bench = new Bench({
    name,
    iterations: plan.iterations,
    time: plan.time,
    warmup: plan.warmup > 0,
    warmupIterations: plan.warmup,
    warmupTime: 0,
    retainSamples: true,
    throws: true,
    timestampProvider: "auto",
  });
  bench.add(name, fn, {
    async: true,
    ...(hooks.beforeEach ? { beforeEach: async () => await hooks.beforeEach!() } : {}),
    ...(hooks.afterEach ? { afterEach: async () => await hooks.afterEach!() } : {}),
  });
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state === "errored") throw result.error;
  if (result.state !== "completed") {
    throw new Error(`${name}: tinybench ended in state ${result.state}`);
  }
  return [...(result.latency.samples ?? [])];
}

/** Median, min, max and count. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number;
}

/** The statistics of a non-empty list of values. */
export function stats(values: readonly number[]): Stats {
  if (values.length === 0) throw new Error("no samples");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], samples: sorted.length };
}

/**
 * The units figures are reported in. "×" is a ratio measured as such (the
 * CPU speed-up: serial time / pool time, one per sample); "MiB" a resident
 * size (2^20 bytes), measured as such too.
 */
export type Unit = "ms" | "µs" | "ns/op" | "MB/s" | "items/s" | "tasks/s" | "×" | "MiB";

/** Whether a larger figure is better in `unit`. */
export function higherIsBetter(unit: Unit): boolean {
  return unit === "MB/s" || unit === "items/s" || unit === "tasks/s" || unit === "×";
}

/**
 * Converts latency samples (ms per iteration) to the figure's unit: MB/s
 * (10^6 bytes per second) needs the bytes moved per iteration; items/s,
 * tasks/s and ns/op the items, tasks or operations of one iteration. "×"
 * and "MiB" samples are in their unit already.
 */
export function toUnit(latencyMs: readonly number[], unit: Unit, perIteration = 0): number[] {
  switch (unit) {
    case "ms":
    case "×":
    case "MiB":
      return [...latencyMs];
    case "µs":
      return latencyMs.map((ms) => ms * 1000);
    case "ns/op":
      return latencyMs.map((ms) => ms * 1e6 / perIteration);
    case "MB/s":
      return latencyMs.map((ms) => perIteration / (ms / 1000) / 1e6);
    case "items/s":
    case "tasks/s":
      return latencyMs.map((ms) => perIteration / (ms / 1000));
  }
}
