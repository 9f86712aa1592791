/**
 * What the suite measures and what one row of its table holds (the JSON
 * keeps the same objects under `figures`).
 *
 * @module
 */

import type { Unit } from "./_measure.ts";

/**
 * The workloads, in table order. `nominal` is the size of one sample the
 * title names (items, tasks, increments) and `nominalBytes` the bytes it
 * names; a mode that runs fewer says so in the row (`note`), and a workload
 * whose figure is a total (`scaled`) reports it scaled to the nominal size.
 */
export const WORKLOADS = {
  "process.start_join": { title: "Process start + join, trivial target", unit: "ms" },
  "pipe.round_trip": { title: "Pipe round trip, small value", unit: "µs" },
  "pipe.throughput_1mib": { title: "Pipe throughput, 1 MiB messages parent→child", unit: "MB/s" },
  "pipe.large_64mib": {
    title: "Pipe, one 64 MiB ArrayBuffer parent→child",
    unit: "MB/s",
    nominalBytes: 64 * 2 ** 20,
  },
  "pipe.large_256mib": {
    title: "Pipe, one 256 MiB ArrayBuffer parent→child",
    unit: "MB/s",
    nominalBytes: 256 * 2 ** 20,
  },
  "queue.one_producer": {
    title: "Queue, 1 producer process → parent, 100k small items",
    unit: "items/s",
    nominal: 100_000,
  },
  "queue.two_by_two": {
    title: "Queue, 2 producer → 2 consumer processes, 100k small items",
    unit: "items/s",
    nominal: 100_000,
  },
  "queue.large_64mib": {
    title: "Queue, one 64 MiB ArrayBuffer parent→child",
    unit: "MB/s",
    nominalBytes: 64 * 2 ** 20,
  },
  "queue.large_256mib": {
    title: "Queue, one 256 MiB ArrayBuffer parent→child",
    unit: "MB/s",
    nominalBytes: 256 * 2 ** 20,
  },
  "lock.uncontended": {
    title: "Lock acquire + release, uncontended, from a child",
    unit: "ns/op",
  },
  "value.locked_increments": {
    title: "Value += 1 under its lock, 2 processes × 100k each (total)",
    unit: "ms",
    nominal: 100_000,
    scaled: true,
  },
  "objects.make_free": {
    title: "Queue + Lock + Value made, used and closed: objects made and freed per second",
    unit: "items/s",
    nominal: 60_000,
  },
  "pool.map_200k": {
    title: "Pool(2).map, 200k trivial items, default chunksize",
    unit: "items/s",
    nominal: 200_000,
  },
  "pool.map_20k_chunk1": {
    title: "Pool(2).map, 20k trivial items, chunksize 1",
    unit: "items/s",
    nominal: 20_000,
  },
  "pool.apply_async_20k": {
    title: "Pool(2), 20k applyAsync + get, all in flight",
    unit: "tasks/s",
    nominal: 20_000,
  },
  "pool.create_first_map": { title: "Pool(2) creation + first map of 4 items", unit: "ms" },
  "pool.first_map_200k": {
    title: "First Pool(2).map of 200k items in a fresh program (after a map of 3 items)",
    unit: "ms",
    nominal: 200_000,
  },
  "pool.close_join": { title: "Pool(2) close() + join() after a map of 3 items", unit: "ms" },
  "manager.dict_pair": { title: "Manager dict set + get from a child, per pair", unit: "µs" },
  "cpu.speedup": {
    title: "CPU-bound sum of squares, Pool(2) speed-up over the serial loop",
    unit: "×",
  },
  "memory.idle_worker": {
    title: "RSS of an idle pool worker, Pool(2) after a map of 8 items, fresh program",
    unit: "MiB",
  },
  "memory.parent_pool8": {
    title: "RSS of the parent with a warm Pool(8), fresh program",
    unit: "MiB",
  },
  "floor.unix_socket": { title: "Floor: unix socket ping-pong, no library", unit: "µs" },
  "floor.unix_socket_throughput_1mib": {
    title: "Floor: unix socket throughput, 1 MiB writes, no library",
    unit: "MB/s",
  },
  "floor.post_message": { title: "Floor: postMessage ping-pong, no library", unit: "µs" },
  "floor.worker_start": { title: "Floor: Web Worker start, no library", unit: "ms" },
} as const satisfies Record<
  string,
  { title: string; unit: Unit; nominal?: number; nominalBytes?: number; scaled?: boolean }
>;

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
   * which socket API (process-native, process-node-net, thread, worker), or
   * what a started Web Worker's module does (empty, library).
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
  /**
   * For the pool's applyAsync workload: median / the best JS peer's median
   * (piscina, tinypool, workerpool) of the same run.
   */
  vsBestPeer?: number | null;
  /** Why there is no figure. */
  skipped?: string;
  /** Bytes moved per sample (throughput). */
  bytesPerSample?: number;
  /** Items, tasks or operations per sample (items/s, tasks/s, ns/op, scaled totals). */
  itemsPerSample?: number;
  /** What differs from the title (a smaller sample, a scaled total), shown in the row. */
  note?: string;
}

/** The JS pools run next to the library's applyAsync (`method` of their rows), best setting last. */
export const PEER_METHODS = [
  "piscina-default",
  "piscina-tuned",
  "tinypool-default",
  "tinypool-tuned",
  "workerpool-default",
  "workerpool-tuned",
] as const;

/** The hand-written pools without a library: the transport floor of applyAsync. */
export const POOL_FLOOR_METHODS = ["round-robin", "round-robin-batched"] as const;

/** A JS pool or pool floor's method. */
export type PeerMethod = (typeof PEER_METHODS)[number] | (typeof POOL_FLOOR_METHODS)[number];
