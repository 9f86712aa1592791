/**
 * What the suite measures and what one row of its table holds (the JSON
 * keeps the same objects under `figures`).
 *
 * @module
 */

import type { Unit } from "./_measure.ts";

/** The workloads, in table order. */
export const WORKLOADS = {
  "process.start_join": { title: "Process start + join, trivial target", unit: "ms" },
  "pipe.round_trip": { title: "Pipe round trip, small value", unit: "µs" },
  "pipe.throughput_1mib": { title: "Pipe throughput, 1 MiB messages parent→child", unit: "MB/s" },
  "floor.unix_socket": { title: "Floor: unix socket ping-pong, no library", unit: "µs" },
  "floor.unix_socket_throughput_1mib": {
    title: "Floor: unix socket throughput, 1 MiB writes, no library",
    unit: "MB/s",
  },
  "floor.post_message": { title: "Floor: postMessage ping-pong, no library", unit: "µs" },
} as const satisfies Record<string, { title: string; unit: Unit }>;

/** A workload's id. */
export type WorkloadId = keyof typeof WORKLOADS;

/** One row of the table. */
export interface Figure {
  /** `<workload>/<runtime>-<method>`, e.g. `pipe.round_trip/deno-spawn`. */
  id: string;
  workload: WorkloadId;
  title: string;
  runtime: "deno" | "bun" | "cpython";
  /**
   * Start method (spawn, worker, fork), or where a floor's peer runs and over
   * which socket API (process-native, process-node-net, thread, worker).
   */
  method: string;
  /** What the row is, in words (the table's "runs on" column). */
  label: string;
  unit: Unit;
  better: "lower" | "higher";
  median: number | null;
  min: number | null;
  max: number | null;
  samples: number;
  /** median / CPython fork's median of the same workload (null when either is missing). */
  vsCpythonFork: number | null;
  /** Why there is no figure. */
  skipped?: string;
  /** Bytes moved per sample (throughput). */
  bytesPerSample?: number;
}
