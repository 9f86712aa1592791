/**
 * The benchmark suite: the library's workloads under both start methods,
 * the raw floor of this machine, and CPython's equivalents, in one table.
 *
 *     deno task bench [--quick] [--smoke] [--no-python] [--only TEXT] [--out FILE]
 *     deno task bench:bun [same options]
 *
 * See bench/README.md for how to read the table.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { StartMethod } from "../mod.ts";
import { higherIsBetter, type Plan, stats, toUnit } from "./_measure.ts";
import { pythonExecutable, type PythonRun, runPython } from "./_python.ts";
import { TINYBENCH_VERSION } from "./_tinybench.ts";
import {
  killLibraryChildren,
  MIB,
  pipeRoundTrip,
  pipeThroughput,
  processStartJoin,
} from "./workloads/library.ts";
import {
  cannotPin,
  type FloorPlace,
  floorTransport,
  killFloorPeers,
  postMessageFloor,
  unixSocketFloor,
  unixSocketThroughputFloor,
  workerStartFloor,
  type WorkerStartPlace,
} from "./workloads/floor.ts";
import { queueOneProducer, queueTwoByTwo } from "./workloads/queues.ts";
import { lockChild, lockOwner, valueIncrements } from "./workloads/locks.ts";
import { OBJECTS_PER_ITERATION, objectsMadeAndFreed, type RssBeside } from "./workloads/objects.ts";
import { cpuSpeedup, poolApplyAsync, poolCreateFirstMap, poolMap } from "./workloads/pool.ts";
import { managerDictPair } from "./workloads/managers.ts";
import { killPeerProcesses, peerApplyAsync } from "./workloads/peers.ts";
import { PEER_VERSIONS, peerLabel } from "./peers/_peers.ts";
import { ADAPTER_TRANSPORT, type Transport } from "./raw/_sockets.ts";
import { formatTable } from "./_table.ts";
import {
  type Figure,
  PEER_METHODS,
  type PeerMethod,
  POOL_FLOOR_METHODS,
  type WorkloadId,
  WORKLOADS,
} from "./_figures.ts";

type Mode = "full" | "quick" | "smoke";

interface ModePlan {
  start: Plan;
  roundTrip: Plan;
  throughput: Plan;
  throughputMib: number;
  floor: Plan;
  /** Queue, one producer: the plan and the items of one sample. */
  queue: Plan;
  queueItems: number;
  /** Queue, 2 producers × 2 consumers. */
  queue22: Plan;
  queue22Items: number;
  /** Lock acquire + release: the plan and the pairs of one sample. */
  lock: Plan;
  lockOps: number;
  /** Value increments: the plan and the increments of each child per sample. */
  value: Plan;
  valueIncrements: number;
  /** Objects made and freed: the plan and the iterations (3 objects each) of one sample. */
  objects: Plan;
  objectsIterations: number;
  poolMap: Plan;
  poolMapItems: number;
  poolChunk1: Plan;
  poolChunk1Items: number;
  /** Pool applyAsync, and the JS pools on the same workload. */
  poolApply: Plan;
  poolApplyTasks: number;
  poolCreate: Plan;
  manager: Plan;
  /** CPU speed-up: the plan, and the loop's length in JavaScript and in CPython. */
  cpu: Plan;
  cpuN: number;
  cpuPythonN: number;
  /** The most one measurement may take before it is abandoned, in ms. */
  deadline: number;
  /** The same for one JS pool (some hang on some runtimes). */
  peerDeadline: number;
}

// Warm-up matters: a child is a fresh process whose code is cold too, and a
// round trip settles only after a couple of thousand exchanges (with 50
// warm-up round trips instead of 2,000, Deno's median doubles). The work of
// one sample is the same in every mode; only the counts differ.
const PLANS: Record<Mode, ModePlan> = {
  full: {
    start: { iterations: 60, time: 4000, warmup: 5 },
    roundTrip: { iterations: 10_000, time: 3000, warmup: 3000 },
    throughput: { iterations: 30, time: 3000, warmup: 5 },
    throughputMib: 16,
    floor: { iterations: 10_000, time: 3000, warmup: 3000 },
    queue: { iterations: 5, time: 0, warmup: 1 },
    queueItems: 100_000,
    queue22: { iterations: 3, time: 0, warmup: 0 },
    queue22Items: 100_000,
    lock: { iterations: 20, time: 1000, warmup: 3 },
    lockOps: 1000,
    value: { iterations: 3, time: 1000, warmup: 0 },
    valueIncrements: 10_000,
    objects: { iterations: 5, time: 0, warmup: 1 },
    objectsIterations: 20_000,
    poolMap: { iterations: 10, time: 1000, warmup: 3 },
    poolMapItems: 200_000,
    poolChunk1: { iterations: 5, time: 0, warmup: 1 },
    poolChunk1Items: 20_000,
    poolApply: { iterations: 5, time: 0, warmup: 2 },
    poolApplyTasks: 20_000,
    poolCreate: { iterations: 10, time: 0, warmup: 2 },
    manager: { iterations: 3000, time: 1000, warmup: 1000 },
    // JavaScriptCore needs several calls before the children's loop runs at
    // full speed (the half whose i * i is past 2^31 deoptimizes first).
    cpu: { iterations: 7, time: 0, warmup: 5 },
    cpuN: 200_000_000,
    cpuPythonN: 4_000_000,
    deadline: 300_000,
    peerDeadline: 30_000,
  },
  quick: {
    start: { iterations: 20, time: 0, warmup: 3 },
    roundTrip: { iterations: 3000, time: 0, warmup: 2000 },
    throughput: { iterations: 10, time: 0, warmup: 5 },
    throughputMib: 16,
    floor: { iterations: 3000, time: 0, warmup: 2000 },
    queue: { iterations: 3, time: 0, warmup: 1 },
    queueItems: 20_000,
    queue22: { iterations: 3, time: 0, warmup: 0 },
    queue22Items: 10_000,
    lock: { iterations: 10, time: 0, warmup: 2 },
    lockOps: 1000,
    value: { iterations: 3, time: 0, warmup: 0 },
    valueIncrements: 2000,
    objects: { iterations: 3, time: 0, warmup: 1 },
    objectsIterations: 10_000,
    poolMap: { iterations: 5, time: 0, warmup: 2 },
    poolMapItems: 200_000,
    poolChunk1: { iterations: 3, time: 0, warmup: 1 },
    poolChunk1Items: 20_000,
    poolApply: { iterations: 3, time: 0, warmup: 1 },
    poolApplyTasks: 20_000,
    poolCreate: { iterations: 5, time: 0, warmup: 1 },
    manager: { iterations: 1000, time: 0, warmup: 1000 },
    cpu: { iterations: 3, time: 0, warmup: 3 },
    cpuN: 200_000_000,
    cpuPythonN: 4_000_000,
    deadline: 120_000,
    peerDeadline: 15_000,
  },
  smoke: {
    start: { iterations: 2, time: 0, warmup: 0 },
    roundTrip: { iterations: 20, time: 0, warmup: 2 },
    throughput: { iterations: 2, time: 0, warmup: 0 },
    throughputMib: 2,
    floor: { iterations: 20, time: 0, warmup: 2 },
    queue: { iterations: 2, time: 0, warmup: 0 },
    queueItems: 1000,
    queue22: { iterations: 2, time: 0, warmup: 0 },
    queue22Items: 1000,
    lock: { iterations: 2, time: 0, warmup: 0 },
    lockOps: 100,
    value: { iterations: 2, time: 0, warmup: 0 },
    valueIncrements: 100,
    objects: { iterations: 2, time: 0, warmup: 0 },
    objectsIterations: 500,
    poolMap: { iterations: 2, time: 0, warmup: 0 },
    poolMapItems: 2000,
    poolChunk1: { iterations: 2, time: 0, warmup: 0 },
    poolChunk1Items: 200,
    poolApply: { iterations: 2, time: 0, warmup: 0 },
    poolApplyTasks: 200,
    poolCreate: { iterations: 2, time: 0, warmup: 0 },
    manager: { iterations: 20, time: 0, warmup: 2 },
    cpu: { iterations: 2, time: 0, warmup: 0 },
    cpuN: 1_000_000,
    cpuPythonN: 100_000,
    deadline: 30_000,
    peerDeadline: 8_000,
  },
};

const USAGE = `Usage: bench/main.ts [--quick] [--smoke] [--no-python] [--only TEXT] [--out FILE]
  --quick      fewer samples (well under two minutes)
  --smoke      a handful of samples: checks the suite runs, measures nothing
  --no-python  leave out CPython (its rows say so)
  --only TEXT  run only the figures whose id contains TEXT (e.g. round_trip, worker)
  --out FILE   write the JSON there instead of bench/results/<runtime>-<date>.json
  --wait-idle SECONDS
               first wait, up to SECONDS, until the machine's CPUs are idle`;

interface Options {
  mode: Mode;
  python: boolean;
  only: string | null;
  out: string | null;
  waitIdle: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { mode: "full", python: true, only: null, out: null, waitIdle: 0 };
  let quick = false;
  let smoke = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") quick = true;
    else if (arg === "--smoke") smoke = true;
    else if (arg === "--no-python") options.python = false;
    else if (arg === "--only" && i + 1 < argv.length) options.only = argv[++i];
    else if (arg === "--out" && i + 1 < argv.length) options.out = argv[++i];
    else if (arg === "--wait-idle" && i + 1 < argv.length) options.waitIdle = Number(argv[++i]);
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`Unknown argument ${arg}\n${USAGE}`);
      process.exit(2);
    }
  }
  options.mode = smoke ? "smoke" : quick ? "quick" : "full";
  return options;
}

const RUNTIME: "deno" | "bun" = "Bun" in globalThis ? "bun" : "deno";
const RUNTIME_VERSION: string = RUNTIME === "bun"
  ? (globalThis as unknown as { Bun: { version: string } }).Bun.version
  : Deno.version.deno;
const RUNTIME_NAME = { deno: "Deno", bun: "Bun", cpython: "CPython" } as const;

const TRANSPORT_NAME: Record<Transport, string> = {
  deno: "Deno.connect",
  node: "node:net",
  bun: "Bun.connect",
};

function describePlace(method: string): string {
  if ((PEER_METHODS as readonly string[]).includes(method)) return peerLabel(method as PeerMethod);
  if ((POOL_FLOOR_METHODS as readonly string[]).includes(method)) {
    return peerLabel(method as PeerMethod);
  }
  if (method === "owner") return "in the process that made it (no IPC)";
  const place: Record<string, string> = {
    "process-native": "2 processes",
    "process-node-net": "2 processes",
    "process-same-cpu": "2 processes pinned to one vCPU",
    "process-cross-cpu": "2 processes pinned to two vCPUs",
    thread: "main ↔ worker thread",
  };
  if (!(method in place)) return method;
  const transport = floorTransport(method as FloorPlace);
  const ours = transport === ADAPTER_TRANSPORT ? " (library's)" : "";
  return `${place[method]}, ${TRANSPORT_NAME[transport]}${ours}`;
}

/** The Web Worker start floor's rows: what the worker's module does before its first message. */
const WORKER_START_LABELS: Record<WorkerStartPlace, string> = {
  empty: "new Web Worker, empty module",
  library: "new Web Worker that imports mod.ts",
};

/** The table's "runs on" column, after the runtime. */
function describeRow(workload: WorkloadId, method: string): string {
  if (workload === "floor.post_message") return "main ↔ Web Worker";
  if (workload === "floor.worker_start" && method in WORKER_START_LABELS) {
    return WORKER_START_LABELS[method as WorkerStartPlace];
  }
  return describePlace(method);
}

function skeleton(workload: WorkloadId, runtime: Figure["runtime"], method: string): Figure {
  const w = WORKLOADS[workload];
  return {
    id: `${workload}/${runtime}-${method}`,
    workload,
    title: w.title,
    runtime,
    method,
    label: `${RUNTIME_NAME[runtime]} · ${describeRow(workload, method)}`,
    unit: w.unit,
    better: higherIsBetter(w.unit) ? "higher" : "lower",
    median: null,
    min: null,
    max: null,
    samples: 0,
    vsCpythonFork: null,
  };
}

/** How big one sample is, beyond what the unit says. */
interface Size {
  /** Bytes moved per sample (MB/s). */
  bytes?: number;
  /** Items, tasks or operations per sample (items/s, tasks/s, ns/op, a scaled total). */
  items?: number;
}

function fill(figure: Figure, latencyMs: number[], size: Size = {}): Figure {
  const w = WORKLOADS[figure.workload] as { nominal?: number; scaled?: boolean };
  const perSample = figure.unit === "MB/s" ? size.bytes : size.items;
  let values = toUnit(latencyMs, figure.unit, perSample);
  let note: string | undefined;
  if (w.nominal !== undefined && size.items !== undefined && size.items !== w.nominal) {
    if (w.scaled) {
      // A total over fewer items, scaled to the nominal count (the cost is linear in it).
      const factor = w.nominal / size.items;
      values = values.map((v) => v * factor);
      note = `measured on ${count(size.items)}, ×${formatFactor(factor)}`;
    } else note = `${count(size.items)} per sample`;
  }
  const s = stats(values);
  return {
    ...figure,
    ...s,
    ...(size.bytes ? { bytesPerSample: size.bytes } : {}),
    ...(size.items ? { itemsPerSample: size.items } : {}),
    ...(note ? { note } : {}),
  };
}

function count(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function formatFactor(f: number): string {
  return Number.isInteger(f) ? String(f) : f.toFixed(1);
}

function describe(error: unknown): string {
  const text = error instanceof Error
    ? (error.name === "Error" ? error.message : `${error.name}: ${error.message}`)
    : String(error);
  return text.split("\n")[0];
}

/** Runs one measurement with a deadline; a failure or a timeout becomes the row's reason. */
async function measure(
  figure: Figure,
  run: () => Promise<number[]>,
  deadline: number,
  size: Size = {},
): Promise<Figure> {
  const started = performance.now();
  log(`  ${figure.id} ...`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const work = run();
  work.catch(() => {}); // a late failure after a timeout is not an unhandled rejection
  try {
    const samples = await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${deadline / 1000} s`)),
          deadline,
        );
      }),
    ]);
    const done = fill(figure, samples, size);
    log(
      `  ${figure.id}: ${done.median?.toFixed(2)} ${figure.unit} (${done.samples} samples, ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s)`,
    );
    return done;
  } catch (error) {
    await killLibraryChildren().catch(() => {});
    killFloorPeers();
    killPeerProcesses();
    const reason = describe(error);
    log(`  ${figure.id}: skipped: ${reason}`);
    return { ...figure, skipped: reason };
  } finally {
    clearTimeout(timer);
  }
}

/** The share of the machine's CPU time that was busy over the next `ms`. */
async function busy(ms: number): Promise<number> {
  const sum = () =>
    os.cpus().reduce(
      (acc, c) => {
        const t = c.times;
        acc.total += t.user + t.nice + t.sys + t.idle + t.irq;
        acc.idle += t.idle;
        return acc;
      },
      { total: 0, idle: 0 },
    );
  const a = sum();
  await new Promise((r) => setTimeout(r, ms));
  const b = sum();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

/** Waits until the CPUs were under 10% busy for a second, or `seconds` passed; returns the last reading. */
async function settle(seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let reading = await busy(1000);
  while (reading > 0.1 && performance.now() < deadline) {
    log(`  waiting for an idle machine: ${(reading * 100).toFixed(0)}% busy`);
    reading = await busy(1000);
  }
  return reading;
}

function log(text: string): void {
  console.error(text);
}

function pythonFigures(
  run: PythonRun,
  workloads: WorkloadId[],
  contexts: string[],
  sizeOf: (w: WorkloadId) => Size,
): Figure[] {
  const figures: Figure[] = [];
  for (const workload of workloads) {
    for (const context of contexts) {
      const figure = skeleton(workload, "cpython", context);
      if (!run.ok) {
        figures.push({ ...figure, skipped: run.reason });
        continue;
      }
      const result = run.results[context]?.[workload];
      if (!result) figures.push({ ...figure, skipped: "the script reported nothing" });
      else if ("error" in result) figures.push({ ...figure, skipped: result.error });
      else figures.push(fill(figure, result.samples_ms, sizeOf(workload)));
    }
  }
  return figures;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2).filter((a) => a !== "--"));
  const plan = PLANS[options.mode];
  const began = performance.now();
  const date = new Date();
  const methods: StartMethod[] = ["spawn", "worker"];
  const wanted = (id: string) => options.only === null || id.includes(options.only);
  const throughputBytes = plan.throughputMib * MIB;
  /** The size of one sample of each workload in this mode (the same for every runtime). */
  const sizes: Partial<Record<WorkloadId, Size>> = {
    "pipe.throughput_1mib": { bytes: throughputBytes },
    "queue.one_producer": { items: plan.queueItems },
    "queue.two_by_two": { items: plan.queue22Items },
    "lock.uncontended": { items: plan.lockOps },
    "value.locked_increments": { items: plan.valueIncrements },
    "objects.make_free": { items: OBJECTS_PER_ITERATION * plan.objectsIterations },
    "pool.map_200k": { items: plan.poolMapItems },
    "pool.map_20k_chunk1": { items: plan.poolChunk1Items },
    "pool.apply_async_20k": { items: plan.poolApplyTasks },
  };
  const sizeOf = (w: WorkloadId): Size => sizes[w] ?? {};
  const figures: Figure[] = [];
  let pythonVersion: string | null = null;

  log(
    `${RUNTIME_NAME[RUNTIME]} ${RUNTIME_VERSION}, ${os.cpus().length} cores, ${options.mode} run`,
  );
  const busyBefore = await settle(options.waitIdle);
  const loadBefore = os.loadavg()[0];
  if (busyBefore > 0.1) {
    log(
      `  warning: the machine is busy (${(busyBefore * 100).toFixed(0)}% of its CPU time, ` +
        `load average ${loadBefore.toFixed(2)}): figures will be slower and noisier than on ` +
        `an idle machine (--wait-idle SECONDS waits for quiet)`,
    );
  }

  const python = async (
    script: string,
    workloads: WorkloadId[],
    extra: Record<string, unknown>,
  ): Promise<void> => {
    const contexts = ["fork", "spawn"];
    const ids = workloads.flatMap((w) => contexts.map((c) => `${w}/cpython-${c}`));
    if (!ids.some(wanted)) return;
    let run: PythonRun;
    if (!options.python) run = { ok: false, reason: "left out by --no-python" };
    else {
      log(`  ${script} (CPython: ${contexts.join(", ")}) ...`);
      run = await runPython(script, { contexts, ...extra }, plan.deadline * 2);
      if (run.ok) pythonVersion = run.version;
      else log(`  ${script}: ${run.reason}`);
    }
    figures.push(
      ...pythonFigures(run, workloads, contexts, sizeOf).filter((f) => wanted(f.id)),
    );
  };

  // (1) Process start + join.
  for (const method of methods) {
    const f = skeleton("process.start_join", RUNTIME, method);
    if (wanted(f.id)) {
      figures.push(await measure(f, () => processStartJoin(method, plan.start), plan.deadline));
    }
  }
  await python("process_start.py", ["process.start_join"], { plan: plan.start });

  // (2) Pipe round trip and throughput.
  for (const method of methods) {
    const f = skeleton("pipe.round_trip", RUNTIME, method);
    if (wanted(f.id)) {
      figures.push(await measure(f, () => pipeRoundTrip(method, plan.roundTrip), plan.deadline));
    }
  }
  for (const method of methods) {
    const f = skeleton("pipe.throughput_1mib", RUNTIME, method);
    if (wanted(f.id)) {
      figures.push(
        await measure(
          f,
          () => pipeThroughput(method, plan.throughput, plan.throughputMib),
          plan.deadline,
          sizeOf("pipe.throughput_1mib"),
        ),
      );
    }
  }
  await python("pipe.py", ["pipe.round_trip", "pipe.throughput_1mib"], {
    round_trip: plan.roundTrip,
    throughput: plan.throughput,
    throughput_mib: plan.throughputMib,
  });

  // (3) Queues.
  const library = async (
    workload: WorkloadId,
    method: string,
    run: () => Promise<number[]>,
    deadline = plan.deadline,
  ): Promise<void> => {
    const f = skeleton(workload, RUNTIME, method);
    if (wanted(f.id)) figures.push(await measure(f, run, deadline, sizeOf(workload)));
  };
  for (const method of methods) {
    await library(
      "queue.one_producer",
      method,
      () => queueOneProducer(method, plan.queue, plan.queueItems),
    );
  }
  for (const method of methods) {
    await library(
      "queue.two_by_two",
      method,
      () => queueTwoByTwo(method, plan.queue22, plan.queue22Items),
    );
  }
  await python("queues.py", ["queue.one_producer", "queue.two_by_two"], {
    one_producer: { plan: plan.queue, items: plan.queueItems },
    two_by_two: { plan: plan.queue22, items: plan.queue22Items },
  });

  // (4) Locks and values.
  await library("lock.uncontended", "owner", () => lockOwner(plan.lock, plan.lockOps));
  for (const method of methods) {
    await library("lock.uncontended", method, () => lockChild(method, plan.lock, plan.lockOps));
  }
  for (const method of methods) {
    await library(
      "value.locked_increments",
      method,
      () => valueIncrements(method, plan.value, plan.valueIncrements),
    );
  }
  // Objects made and freed, with the resident size beside (no CPython equivalent).
  for (const method of methods) {
    const f = skeleton("objects.make_free", RUNTIME, method);
    if (!wanted(f.id)) continue;
    const rss: RssBeside = { before: 0, after: 0 };
    const done = await measure(
      f,
      () => objectsMadeAndFreed(method, plan.objects, plan.objectsIterations, rss),
      plan.deadline,
      sizeOf("objects.make_free"),
    );
    const beside = `RSS ${rss.before} → ${rss.after} MiB`;
    figures.push(
      done.skipped === undefined
        ? { ...done, note: done.note ? `${done.note}; ${beside}` : beside }
        : done,
    );
  }
  await python("locks.py", ["lock.uncontended", "value.locked_increments"], {
    lock: plan.lock,
    lock_ops: plan.lockOps,
    value: plan.value,
    increments: plan.valueIncrements,
  });

  // (5) Pool, the JS pools on its applyAsync workload, and (7) the CPU-bound speed-up.
  for (const method of methods) {
    await library(
      "pool.map_200k",
      method,
      () => poolMap(method, plan.poolMap, plan.poolMapItems),
    );
  }
  for (const method of methods) {
    await library(
      "pool.map_20k_chunk1",
      method,
      () => poolMap(method, plan.poolChunk1, plan.poolChunk1Items, 1),
    );
  }
  for (const method of methods) {
    await library(
      "pool.apply_async_20k",
      method,
      () => poolApplyAsync(method, plan.poolApply, plan.poolApplyTasks),
    );
  }
  for (const method of [...PEER_METHODS, ...POOL_FLOOR_METHODS]) {
    await library(
      "pool.apply_async_20k",
      method,
      () => peerApplyAsync(method, plan.poolApply, plan.poolApplyTasks, plan.peerDeadline),
      plan.peerDeadline + 5000,
    );
  }
  for (const method of methods) {
    await library(
      "pool.create_first_map",
      method,
      () => poolCreateFirstMap(method, plan.poolCreate),
    );
  }
  for (const method of methods) {
    await library("cpu.speedup", method, () => cpuSpeedup(method, plan.cpu, plan.cpuN));
  }
  await python(
    "pool.py",
    [
      "pool.map_200k",
      "pool.map_20k_chunk1",
      "pool.apply_async_20k",
      "pool.create_first_map",
      "cpu.speedup",
    ],
    {
      map: plan.poolMap,
      map_items: plan.poolMapItems,
      chunk1: plan.poolChunk1,
      chunk1_items: plan.poolChunk1Items,
      apply: plan.poolApply,
      apply_tasks: plan.poolApplyTasks,
      create: plan.poolCreate,
      cpu: plan.cpu,
      cpu_n: plan.cpuPythonN,
    },
  );

  // (6) Manager.
  for (const method of methods) {
    await library("manager.dict_pair", method, () => managerDictPair(method, plan.manager));
  }
  await python("managers.py", ["manager.dict_pair"], { plan: plan.manager });

  // (8) The floor.
  const pinProblem = cannotPin();
  for (
    const place of [
      "process-native",
      "process-node-net",
      "process-same-cpu",
      "process-cross-cpu",
      "thread",
    ] as const
  ) {
    const f = skeleton("floor.unix_socket", RUNTIME, place);
    if (!wanted(f.id)) continue;
    if (place.endsWith("-cpu") && pinProblem) figures.push({ ...f, skipped: pinProblem });
    else figures.push(await measure(f, () => unixSocketFloor(place, plan.floor), plan.deadline));
  }
  for (const place of ["process-native", "process-node-net"] as const) {
    const f = skeleton("floor.unix_socket_throughput_1mib", RUNTIME, place);
    if (wanted(f.id)) {
      figures.push(
        await measure(
          f,
          () => unixSocketThroughputFloor(place, plan.throughput, plan.throughputMib),
          plan.deadline,
          sizeOf("pipe.throughput_1mib"),
        ),
      );
    }
  }
  {
    const f = skeleton("floor.post_message", RUNTIME, "worker");
    if (wanted(f.id)) {
      figures.push(await measure(f, () => postMessageFloor(plan.floor), plan.deadline));
    }
  }
  for (const place of ["empty", "library"] as const) {
    const f = skeleton("floor.worker_start", RUNTIME, place);
    if (wanted(f.id)) {
      figures.push(await measure(f, () => workerStartFloor(place, plan.start), plan.deadline));
    }
  }

  // Ratios to CPython fork, workload by workload, and to the best JS pool.
  const order = Object.keys(WORKLOADS);
  figures.sort((a, b) => order.indexOf(a.workload) - order.indexOf(b.workload));
  for (const figure of figures) {
    const reference = figures.find((f) =>
      f.workload === figure.workload && f.id.endsWith("/cpython-fork")
    );
    if (figure.median !== null && reference?.median) {
      figure.vsCpythonFork = figure.median / reference.median;
    }
  }
  const peers = figures.filter((f) =>
    f.workload === "pool.apply_async_20k" && f.median !== null &&
    (PEER_METHODS as readonly string[]).includes(f.method)
  );
  const bestPeer = peers.reduce<Figure | null>(
    (best, f) => (best === null || f.median! > best.median! ? f : best),
    null,
  );
  for (const figure of figures) {
    if (figure.workload !== "pool.apply_async_20k") continue;
    figure.vsBestPeer = figure.median !== null && bestPeer
      ? figure.median / bestPeer.median!
      : null;
  }

  const seconds = (performance.now() - began) / 1000;
  const report = {
    schema: 1,
    runtime: RUNTIME,
    version: RUNTIME_VERSION,
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "unknown",
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: date.toISOString(),
    mode: options.mode,
    only: options.only,
    python: pythonVersion ? { executable: pythonExecutable(), version: pythonVersion } : null,
    tinybench: TINYBENCH_VERSION,
    peers: PEER_VERSIONS,
    commit: gitCommit(),
    /** How busy the machine was before the run (share of CPU time over 1 s), and its load averages. */
    load: {
      busyBefore: Number(busyBefore.toFixed(2)),
      before: Number(loadBefore.toFixed(2)),
      after: Number(os.loadavg()[0].toFixed(2)),
    },
    seconds: Number(seconds.toFixed(1)),
    plan,
    figures,
  };

  const out = options.out ?? path.join(
    path.dirname(fileURLToPath(import.meta.url)),
    "results",
    `${RUNTIME}-${date.toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`,
  );
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");

  console.log(
    `\n${RUNTIME_NAME[RUNTIME]} ${RUNTIME_VERSION}` +
      (pythonVersion ? `, CPython ${pythonVersion}` : "") +
      `, ${report.cores} cores, ${report.date.slice(0, 10)}, ${options.mode} run (${
        seconds.toFixed(0)
      } s, ${
        (busyBefore * 100).toFixed(0)
      }% busy before, load average ${report.load.before} → ${report.load.after})\n`,
  );
  console.log(formatTable(figures));
  console.log(`\nWrote ${out}`);
}

/** The library's commit, with "+edits" when its sources differ from that commit. */
function gitCommit(): string | null {
  try {
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], { stdio: ["ignore", "pipe", "ignore"] })
        .toString().trim();
    const commit = git("rev-parse", "--short", "HEAD");
    const edited = git("status", "--porcelain", "--", "../src", "../mod.ts") !== "";
    return edited ? `${commit}+edits` : commit;
  } catch {
    return null;
  }
}

if (import.meta.main) {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}
