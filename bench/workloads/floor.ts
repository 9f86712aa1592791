/**
 * The raw floor: the same exchanges without the library, to show what
 * waking the other side, and moving bytes through a socket, cost on this
 * machine. A unix socket between two processes of the same runtime (with the
 * runtime's own socket API, and with `node:net`), the same between the main
 * thread and a worker, `postMessage` between the main thread and a Web
 * Worker, and the start of a Web Worker (empty, or importing the library's
 * `mod.ts`).
 *
 * @module
 */

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Plan, sample } from "../_measure.ts";
import {
  ADAPTER_TRANSPORT,
  listenOnce,
  NATIVE_TRANSPORT,
  type PeerMode,
  type Pinger,
  type Transport,
} from "../raw/_sockets.ts";
import { type LibraryPlan, MIB, SMALL_VALUE } from "./library.ts";
import type { CommonPlan, Row, Suite } from "../_workload.ts";

/** The ping: a 4-byte length prefix and 8 bytes, the size of a small framed message. */
const PING = new Uint8Array([0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);

/**
 * Where the floor's peer runs, and over which socket API: another process
 * with the runtime's own sockets or with `node:net`, another process with
 * both pinned to one vCPU or to two different vCPUs (`taskset`, the
 * library's transport), or a worker thread of this process.
 */
export type FloorPlace =
  | "process-native"
  | "process-node-net"
  | "process-same-cpu"
  | "process-cross-cpu"
  | "thread";

/** The socket API a floor variant uses on this runtime. */
export function floorTransport(place: FloorPlace): Transport {
  return place === "process-native"
    ? NATIVE_TRANSPORT
    : place === "process-node-net"
    ? "node"
    : ADAPTER_TRANSPORT;
}

/** The CPUs each end is pinned to, for the pinned places. */
function pinning(place: FloorPlace): { self: string; peer: string } | null {
  if (place === "process-same-cpu") return { self: "0", peer: "0" };
  if (place === "process-cross-cpu") return { self: "0", peer: "1" };
  return null;
}

/** Why pinning cannot be done here, or null when it can. */
export function cannotPin(): string | null {
  if (process.platform !== "linux") return "pinning uses Linux's taskset";
  if (os.cpus().length < 2) return "pinning to two vCPUs needs at least two";
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    return null;
  } catch {
    return "taskset (util-linux) is not installed";
  }
}

/** Sets the CPU affinity of every thread of this process; returns the previous list. */
function pinSelf(cpus: string): string {
  const out = execFileSync("taskset", ["-c", "-p", String(process.pid)]).toString();
  const previous = out.trim().split(": ").pop()!;
  execFileSync("taskset", ["-a", "-c", "-p", cpus, String(process.pid)], { stdio: "ignore" });
  return previous;
}

const live = new Set<{ stop(): void }>();

/** Stops every peer a floor workload left running (after a timeout). */
export function killFloorPeers(): void {
  for (const peer of live) peer.stop();
  live.clear();
}

function runtimeCommand(script: string, arg: string, cpus?: string): [string, string[]] {
  const args = "Bun" in globalThis ? [script, arg] : ["run", "-A", script, arg];
  return cpus === undefined
    ? [process.execPath, args]
    : ["taskset", ["-c", cpus, process.execPath, ...args]];
}

/** Runs `body` against a peer `place` that echoes or counts bytes. */
async function withSocketPeer<T>(
  place: FloorPlace,
  mode: PeerMode,
  body: (pinger: Pinger) => Promise<T>,
): Promise<T> {
  const transport = floorTransport(place);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "procs-bench-"));
  const socketPath = path.join(dir, "floor.sock");
  const server = listenOnce(socketPath, transport);
  const spec = { path: socketPath, transport, mode };
  const pin = pinning(place);
  let stop: () => void;
  let finished: Promise<void>;
  if (place !== "thread") {
    const [cmd, args] = runtimeCommand(
      fileURLToPath(new URL("../raw/socket_peer.ts", import.meta.url)),
      JSON.stringify(spec),
      pin?.peer,
    );
    const child: ChildProcess = spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit"] });
    finished = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    stop = () => child.kill("SIGKILL");
  } else {
    const worker = new Worker(new URL("../raw/socket_peer_worker.ts", import.meta.url), {
      type: "module",
    });
    finished = new Promise<void>((resolve) => (worker.onmessage = () => resolve()));
    worker.postMessage(spec);
    stop = () => worker.terminate();
  }
  const handle = { stop };
  live.add(handle);
  const unpinned = pin ? pinSelf(pin.self) : null;
  try {
    const pinger = await server.accepted;
    try {
      return await body(pinger);
    } finally {
      if (unpinned !== null) pinSelf(unpinned);
      pinger.close();
      await Promise.race([finished, new Promise((r) => setTimeout(r, 2000))]);
    }
  } finally {
    server.close();
    stop();
    live.delete(handle);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Latency (ms) of a 12-byte round trip over a unix socket to a peer `place`. */
export function unixSocketFloor(place: FloorPlace, plan: Plan): Promise<number[]> {
  return withSocketPeer(place, { kind: "echo" }, async (pinger) => {
    await pinger.roundTrip(PING);
    return await sample(`floor.unix_socket ${place}`, () => pinger.roundTrip(PING), plan);
  });
}

/**
 * Latency (ms) of writing `mib` times 1 MiB to a peer process that answers
 * one byte once it has them all (the library's throughput workload, without
 * the library).
 */
export function unixSocketThroughputFloor(
  place: FloorPlace,
  plan: Plan,
  mib: number,
): Promise<number[]> {
  const buf = new Uint8Array(MIB);
  return withSocketPeer(place, { kind: "sink", batchBytes: mib * MIB }, async (pinger) => {
    await pinger.pump(buf, mib);
    return await sample(
      `floor.unix_socket_throughput_1mib ${place}`,
      () => pinger.pump(buf, mib),
      plan,
    );
  });
}

/** Latency (ms) of a `postMessage` round trip of a small value to a Web Worker. */
export async function postMessageFloor(plan: Plan): Promise<number[]> {
  const worker = new Worker(new URL("../raw/echo_worker.ts", import.meta.url), { type: "module" });
  const handle = { stop: () => worker.terminate() };
  live.add(handle);
  let answer: (() => void) | null = null;
  worker.onmessage = () => {
    const a = answer;
    answer = null;
    a?.();
  };
  const roundTrip = () =>
    new Promise<void>((resolve) => {
      answer = resolve;
      worker.postMessage(SMALL_VALUE);
    });
  try {
    await roundTrip();
    return await sample("floor.post_message worker", roundTrip, plan);
  } finally {
    worker.terminate();
    live.delete(handle);
  }
}

/**
 * What a Web Worker's module does before its first message: nothing, or
 * import the library's `mod.ts` (the module graph a `"worker"` child loads).
 */
export type WorkerStartPlace = "empty" | "library";

const START_WORKERS: Record<WorkerStartPlace, URL> = {
  empty: new URL("../raw/start_empty_worker.ts", import.meta.url),
  library: new URL("../raw/start_library_worker.ts", import.meta.url),
};

/**
 * Latency (ms) from `new Worker(url, { type: "module" })` to the worker's
 * first message, one worker at a time; each is terminated after its sample
 * (untimed).
 */
export async function workerStartFloor(place: WorkerStartPlace, plan: Plan): Promise<number[]> {
  const url = START_WORKERS[place];
  let current: Worker | null = null;
  const stop = () => {
    current?.terminate();
    current = null;
  };
  const handle = { stop };
  live.add(handle);
  try {
    return await sample(
      `floor.worker_start ${place}`,
      () =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(url, { type: "module" });
          current = worker;
          worker.onmessage = () => resolve();
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(`the worker failed: ${event.message}`));
          };
        }),
      plan,
      { afterEach: stop },
    );
  } finally {
    stop();
    live.delete(handle);
  }
}

/** This file's part of the plan. */
export interface FloorPlan {
  floor: Plan;
}

/** What the floor reads: its own plan, and the library's start and throughput plans. */
type FloorReads =
  & FloorPlan
  & Pick<LibraryPlan, "start" | "throughput" | "throughputMib">
  & CommonPlan;

const TRANSPORT_NAME: Record<Transport, string> = {
  deno: "Deno.connect",
  node: "node:net",
  bun: "Bun.connect",
};

const PLACE_NAME: Record<FloorPlace, string> = {
  "process-native": "2 processes",
  "process-node-net": "2 processes",
  "process-same-cpu": "2 processes pinned to one vCPU",
  "process-cross-cpu": "2 processes pinned to two vCPUs",
  thread: "main ↔ worker thread",
};

/** A floor place in words, with its socket API ("(library's)" when the library's adapter uses it). */
function placeLabel(place: FloorPlace): string {
  const transport = floorTransport(place);
  const ours = transport === ADAPTER_TRANSPORT ? " (library's)" : "";
  return `${PLACE_NAME[place]}, ${TRANSPORT_NAME[transport]}${ours}`;
}

let pinProblem: string | null | undefined;

/** `cannotPin()`, asked once. */
function cannotPinOnce(): string | null {
  if (pinProblem === undefined) pinProblem = cannotPin();
  return pinProblem;
}

/** The Web Worker start floor's rows: what the worker's module does before its first message. */
const WORKER_START_LABELS: Record<WorkerStartPlace, string> = {
  empty: "new Web Worker, empty module",
  library: "new Web Worker that imports mod.ts",
};

/** The floor: what the machine allows without the library (no CPython equivalent). */
export const suite: Suite<FloorPlan, FloorReads> = {
  plans: {
    full: { floor: { iterations: 10_000, time: 3000, warmup: 3000 } },
    quick: { floor: { iterations: 3000, time: 0, warmup: 2000 } },
    smoke: { floor: { iterations: 20, time: 0, warmup: 2 } },
  },
  workloads: [
    {
      id: "floor.unix_socket",
      rows: ([
        "process-native",
        "process-node-net",
        "process-same-cpu",
        "process-cross-cpu",
        "thread",
      ] as const).map((place): Row<FloorReads> => ({
        method: place,
        label: placeLabel(place),
        ...(place.endsWith("-cpu") ? { cannotRun: cannotPinOnce } : {}),
        measure: (plan) => unixSocketFloor(place, plan.floor),
      })),
    },
    {
      id: "floor.unix_socket_throughput_1mib",
      size: (plan) => ({ bytes: plan.throughputMib * MIB }),
      rows: (["process-native", "process-node-net"] as const).map((place) => ({
        method: place,
        label: placeLabel(place),
        measure: (plan: FloorReads) =>
          unixSocketThroughputFloor(place, plan.throughput, plan.throughputMib),
      })),
    },
    {
      id: "floor.post_message",
      rows: [{
        method: "worker",
        label: "main ↔ Web Worker",
        measure: (plan) => postMessageFloor(plan.floor),
      }],
    },
    {
      id: "floor.worker_start",
      rows: (["empty", "library"] as const).map((place) => ({
        method: place,
        label: WORKER_START_LABELS[place],
        measure: (plan: FloorReads) => workerStartFloor(place, plan.start),
      })),
    },
  ],
};
