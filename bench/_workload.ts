/**
 * What a file under bench/workloads/ describes to the suite: its
 * workloads, the rows of each (the start methods or places it runs on),
 * their parameters in each mode, and CPython's equivalents. bench/main.ts
 * loops over the descriptors bench/workloads/mod.ts lists.
 *
 * @module
 */

import type { Plan } from "./_measure.ts";
import type { WorkloadId } from "./_figures.ts";
import type { StartMethod } from "../mod.ts";

/** How much a run measures: `full`, `--quick` or `--smoke`. */
export type Mode = "full" | "quick" | "smoke";

/** The parameters every workload reads, whichever file it is in. */
export interface CommonPlan {
  /** The most one measurement may take before it is abandoned, in ms. */
  deadline: number;
}

/** How big one sample is, beyond what the unit says. */
export interface Size {
  /** Bytes moved per sample (MB/s). */
  bytes?: number;
  /** Items, tasks or operations per sample (items/s, tasks/s, ns/op, a scaled total). */
  items?: number;
}

/** What one row's measurement returns: its samples (ms), and what to note beside them. */
export interface Measured {
  /** Every sample's latency in ms. */
  samples: number[];
  /** Appended to the row's note when it ran (e.g. the resident size around it). */
  beside?: string;
}

/** One row of a workload: where it runs, and how it is measured. */
export interface Row<P> {
  /** The figure's `method`: a start method, a JS pool, or where a floor's peer runs. */
  method: string;
  /** The "runs on" column after the runtime; `method` when absent. */
  label?: string;
  /** Why the row cannot run on this machine (checked when it is wanted), or null. */
  cannotRun?: () => string | null;
  /** Samples one measurement (ms each), with the run's plan. */
  measure(plan: P): Promise<number[] | Measured>;
  /** Its deadline in ms; the plan's `deadline` when absent. */
  deadline?(plan: P): number;
}

/** One workload: the rows the suite measures for it, in order. */
export interface Workload<P> {
  /** Its id in `WORKLOADS` (bench/_figures.ts), which holds its title and unit. */
  id: WorkloadId;
  /** How big one sample is in this plan (the same for every runtime and for CPython). */
  size?(plan: P): Size;
  /**
   * Whether this plan measures it at all (absent: always). A workload left
   * out has no row in the table or the JSON, CPython's neither (e.g. the
   * 256 MiB transfers, measured in full runs only).
   */
  measured?(plan: P): boolean;
  /** Its rows on this runtime, in table order. */
  rows: Row<P>[];
}

/** A CPython script that measures some of a file's workloads (fork and spawn contexts). */
export interface PythonBaseline<P> {
  /** The script in bench/python/. */
  script: string;
  /** The workloads it reports; it runs after the rows of the last of them. */
  workloads: WorkloadId[];
  /** Its arguments besides `contexts`. */
  args(plan: P): Record<string, unknown>;
}

/**
 * What one file under bench/workloads/ exports as `suite`. `Own` is the
 * part of the plan the file adds (written into the JSON's `plan`), `P`
 * what its measurements read, which may include other files' parts.
 */
export interface Suite<Own extends object, P = Own & CommonPlan> {
  /** The file's parameters in each mode. */
  plans: Record<Mode, Own>;
  /** Its workloads, in run order. */
  workloads: Workload<P>[];
  /** CPython's equivalents, if any. */
  python?: PythonBaseline<P>[];
}

/** A suite whatever its plan (the registry's element type). */
export type AnySuite = Suite<object, never>;

/** The two start methods most workloads run under, in row order. */
export const METHODS: readonly StartMethod[] = ["spawn", "worker"];

/** A row per start method (spawn, worker), each measured by `measure`. */
export function perMethod<P>(
  measure: (method: StartMethod, plan: P) => Promise<number[] | Measured>,
): Row<P>[] {
  return METHODS.map((method) => ({ method, measure: (plan: P) => measure(method, plan) }));
}

/** Re-exported for the workload files. */
export type { Plan };
