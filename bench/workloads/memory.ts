/**
 * Memory: the resident size of an idle pool worker, and of the parent with
 * a warm `Pool(8)`. Each sample is a fresh program (`../raw/pool_memory.ts`)
 * so that no other workload grew the heap it reads; the figure is in MiB
 * (VmRSS of Linux's `/proc/<pid>/status`), and the rows note the pages a
 * worker maps alone (its USS) or what the parent held before the pool.
 *
 * @module
 */

import process from "node:process";
import type { StartMethod } from "../../mod.ts";
import type { Plan } from "../_measure.ts";
import { type CommonPlan, type Measured, METHODS, type Row, type Suite } from "../_workload.ts";
import type { PoolMemory } from "../raw/pool_memory.ts";
import { freshSamples, runFresh } from "./_fresh.ts";

/** Why the memory rows cannot run here (they read Linux's `/proc`), or null. */
export function cannotReadProc(): string | null {
  return process.platform === "linux" ? null : "it reads Linux's /proc";
}

/** The median of a non-empty list. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The mean of a non-empty list. */
function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** MiB with one decimal. */
function mib(value: number): string {
  return value.toFixed(1);
}

/** Runs `pool_memory.ts` once per sample (and warm-up) of `plan`, with `processes` workers. */
async function programs(
  method: StartMethod,
  processes: number,
  plan: Plan,
  programDeadline: number,
  figure: (m: PoolMemory) => number,
): Promise<{ samples: number[]; runs: PoolMemory[] }> {
  const runs: PoolMemory[] = [];
  const samples = await freshSamples(async () => {
    const m = await runFresh<PoolMemory>(
      "pool_memory.ts",
      [method, String(processes)],
      programDeadline,
    );
    runs.push(m);
    return figure(m);
  }, plan);
  return { samples, runs: runs.slice(plan.warmup) };
}

/**
 * The resident size (MiB) of an idle worker of a `Pool(2)` that mapped 8
 * items: under `"spawn"` the mean VmRSS of its two worker processes (the
 * note has their USS); under `"worker"`, where the workers are threads of
 * the parent, the parent's growth from before the pool to the pool up,
 * divided by 2.
 */
export async function idleWorker(
  method: StartMethod,
  plan: Plan,
  programDeadline: number,
): Promise<Measured> {
  if (method === "spawn") {
    const { samples, runs } = await programs(
      method,
      2,
      plan,
      programDeadline,
      (m) => mean(m.workers),
    );
    return { samples, beside: `USS ${mib(median(runs.map((m) => mean(m.workersUss))))} MiB` };
  }
  const { samples, runs } = await programs(
    method,
    2,
    plan,
    programDeadline,
    (m) => (m.parent - m.before) / 2,
  );
  return {
    samples,
    beside: `parent ${mib(median(runs.map((m) => m.before)))} → ${
      mib(median(runs.map((m) => m.parent)))
    } MiB`,
  };
}

/** The resident size (MiB) of the parent with a warm `Pool(8)` (the note: before the pool). */
export async function parentPool8(
  method: StartMethod,
  plan: Plan,
  programDeadline: number,
): Promise<Measured> {
  const { samples, runs } = await programs(method, 8, plan, programDeadline, (m) => m.parent);
  const workers = method === "spawn"
    ? `; workers ${mib(median(runs.map((m) => mean(m.workers))))} MiB each`
    : "";
  return {
    samples,
    beside: `${mib(median(runs.map((m) => m.before)))} MiB before the pool${workers}`,
  };
}

/** This file's part of the plan. */
export interface MemoryPlan {
  /** One fresh program per sample, and the most one may take (ms). */
  memory: Plan;
  memoryProgramDeadline: number;
}

/** The rows of a memory workload: one per start method, labelled by what they read. */
function rows(
  measure: (method: StartMethod, plan: Plan, programDeadline: number) => Promise<Measured>,
  labels: Partial<Record<StartMethod, string>> = {},
): Row<MemoryPlan & CommonPlan>[] {
  return METHODS.map((method) => ({
    method,
    ...(labels[method] ? { label: labels[method] } : {}),
    cannotRun: cannotReadProc,
    measure: (plan) => measure(method, plan.memory, plan.memoryProgramDeadline),
    deadline: (plan) =>
      (plan.memory.warmup + plan.memory.iterations + 1) * plan.memoryProgramDeadline,
  }));
}

/** The resident sizes of pool workers and of a pool's parent, and CPython's. */
export const suite: Suite<MemoryPlan> = {
  plans: {
    full: { memory: { iterations: 3, time: 0, warmup: 0 }, memoryProgramDeadline: 30_000 },
    quick: { memory: { iterations: 1, time: 0, warmup: 0 }, memoryProgramDeadline: 20_000 },
    smoke: { memory: { iterations: 1, time: 0, warmup: 0 }, memoryProgramDeadline: 15_000 },
  },
  workloads: [
    {
      id: "memory.idle_worker",
      rows: rows(idleWorker, { worker: "worker: the parent's growth ÷ 2 threads" }),
    },
    {
      id: "memory.parent_pool8",
      rows: rows(parentPool8),
    },
  ],
  python: [{
    script: "memory.py",
    workloads: ["memory.idle_worker", "memory.parent_pool8"],
    args: (plan) => ({ plan: plan.memory, program_deadline_ms: plan.memoryProgramDeadline }),
  }],
};
