/**
 * Large messages: one `ArrayBuffer` of 64 MiB (and, in full runs, 256 MiB)
 * sent parent→child through a `Pipe` (`conn.send(buffer)`) or a `Queue`
 * (`q.put(buffer)`, the child `get()`s it), the child answering the
 * `byteLength` it got on a pipe. Each row is a program of its own
 * (`../raw/large_transfer.ts`), whose child is started once and kept up
 * across the samples: its peak resident size, noted beside the figure, is
 * then the transfer's, not that of a heap other rows grew and freed.
 *
 * @module
 */

import type { StartMethod } from "../../mod.ts";
import type { Plan } from "../_measure.ts";
import type { WorkloadId } from "../_figures.ts";
import type { LargeKind, LargeResult } from "../raw/large_transfer.ts";
import { type CommonPlan, type Measured, METHODS, type Row, type Suite } from "../_workload.ts";
import { runFresh } from "./_fresh.ts";

const MIB = 2 ** 20;

/** The library's default largest message (DEFAULT_MAX_MESSAGE_SIZE), framing included. */
const DEFAULT_MAX_MESSAGE = 256 * MIB;

/** The variable the tree's channels read their largest message from (children inherit it). */
const MAX_MESSAGE_VARIABLE = "PROCS_MP_MAX_MESSAGE_SIZE";

/**
 * Latency (ms) of sending one `ArrayBuffer` of `mib` MiB to a child (by
 * `conn.send`, or `q.put` with the child's `get()`) until the child
 * answered its `byteLength`, in a program of its own. The note has the
 * program's peak RSS above its RSS before the first sample (the buffer is
 * resident by then), and says when the row raised the largest message
 * (`PROCS_MP_MAX_MESSAGE_SIZE`: 256 MiB by default, framing included, so a
 * 256 MiB buffer does not fit).
 */
export async function largeTransfer(
  kind: LargeKind,
  method: StartMethod,
  plan: Plan,
  mib: number,
  deadline: number,
): Promise<Measured> {
  const bytes = mib * MIB;
  const raised = bytes + MIB > DEFAULT_MAX_MESSAGE ? 2 * bytes : null;
  const result = await runFresh<LargeResult>(
    "large_transfer.ts",
    [kind, method, String(mib), JSON.stringify(plan)],
    deadline,
    raised === null ? {} : { [MAX_MESSAGE_VARIABLE]: String(raised) },
  );
  const peak = result.peakMib === null
    ? "peak RSS: Linux only"
    : `peak RSS +${result.peakMib.toFixed(0)} MiB (${
      (result.peakMib / mib).toFixed(2)
    }× the payload${result.how === "VmHWM" ? "" : `, ${result.how}`})`;
  return {
    samples: result.samples,
    beside: raised === null ? peak : `${peak}; ${MAX_MESSAGE_VARIABLE}=${raised / MIB} MiB`,
  };
}

/** This file's part of the plan. */
export interface LargePlan {
  /** The 64 MiB rows: the plan and the size (smaller in a smoke run). */
  large: Plan;
  largeMib: number;
  /** The 256 MiB rows: the plan and the size (0: left out). */
  huge: Plan;
  hugeMib: number;
  /** The most one row (its program) may take, in ms. */
  largeDeadline: number;
}

/** One row per start method sending `mib(plan)` MiB over `kind`. */
function rows(
  kind: LargeKind,
  plan: (p: LargePlan) => Plan,
  mib: (p: LargePlan) => number,
): Row<LargePlan & CommonPlan>[] {
  return METHODS.map((method) => ({
    method,
    measure: (p) => largeTransfer(kind, method, plan(p), mib(p), p.largeDeadline),
    // The program's own deadline ends it first; this one is a backstop.
    deadline: (p) => p.largeDeadline + 5000,
  }));
}

/** The four workloads: 64 and 256 MiB, over a pipe and over a queue. */
const LARGE_WORKLOADS: { id: WorkloadId; kind: LargeKind; huge: boolean }[] = [
  { id: "pipe.large_64mib", kind: "pipe", huge: false },
  { id: "queue.large_64mib", kind: "queue", huge: false },
  { id: "pipe.large_256mib", kind: "pipe", huge: true },
  { id: "queue.large_256mib", kind: "queue", huge: true },
];

/** One large ArrayBuffer over a pipe and over a queue, and CPython's equivalents. */
export const suite: Suite<LargePlan> = {
  plans: {
    full: {
      large: { iterations: 5, time: 0, warmup: 1 },
      largeMib: 64,
      // ~1.2 s a transfer on either runtime and in CPython: two, no warm-up.
      huge: { iterations: 2, time: 0, warmup: 0 },
      hugeMib: 256,
      largeDeadline: 60_000,
    },
    quick: {
      large: { iterations: 3, time: 0, warmup: 1 },
      largeMib: 64,
      huge: { iterations: 0, time: 0, warmup: 0 },
      hugeMib: 0,
      largeDeadline: 40_000,
    },
    smoke: {
      large: { iterations: 2, time: 0, warmup: 0 },
      largeMib: 8,
      huge: { iterations: 0, time: 0, warmup: 0 },
      hugeMib: 0,
      largeDeadline: 20_000,
    },
  },
  workloads: LARGE_WORKLOADS.map(({ id, kind, huge }) => ({
    id,
    size: (p: LargePlan) => ({ bytes: (huge ? p.hugeMib : p.largeMib) * MIB }),
    ...(huge ? { measured: (p: LargePlan) => p.hugeMib > 0 } : {}),
    rows: rows(kind, (p) => (huge ? p.huge : p.large), (p) => (huge ? p.hugeMib : p.largeMib)),
  })),
  python: [
    {
      script: "large.py",
      workloads: ["pipe.large_64mib", "queue.large_64mib"],
      args: (p) => ({
        plan: p.large,
        mib: p.largeMib,
        suffix: "64mib",
        deadline_ms: p.largeDeadline,
      }),
    },
    {
      script: "large.py",
      workloads: ["pipe.large_256mib", "queue.large_256mib"],
      args: (p) => ({
        plan: p.huge,
        mib: p.hugeMib,
        suffix: "256mib",
        deadline_ms: p.largeDeadline,
      }),
    },
  ],
};
