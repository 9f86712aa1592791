/**
 * The library's workloads: Process start + join, Pipe round trip, Pipe
 * throughput. Every child is started by `../_targets.ts`.
 *
 * @module
 */

import {
  activeChildren,
  type Connection,
  Pipe,
  type Process,
  type StartMethod,
} from "../../mod.ts";
import { startAndJoin, startPeer } from "../_targets.ts";
import { type Plan, sample } from "../_measure.ts";
import { perMethod, type Suite } from "../_workload.ts";

/** The small value of the round trip (the CPython script sends the same dict). */
export const SMALL_VALUE = { n: 1, s: "ping" };

/** The size of one throughput message. */
export const MIB = 1 << 20;

/** Latency (ms) of starting a child that runs a trivial target and joining it. */
export function processStartJoin(method: StartMethod, plan: Plan): Promise<number[]> {
  return sample(`process.start_join ${method}`, async () => {
    const code = await startAndJoin(method);
    if (code !== 0) throw new Error(`the child exited with ${code}`);
  }, plan);
}

async function withPeer<T>(
  method: StartMethod,
  target: "echo" | "sink",
  body: (conn: Connection) => Promise<T>,
  stop: (conn: Connection) => Promise<void>,
): Promise<T> {
  const [parent, child] = Pipe();
  let p: Process | null = null;
  try {
    p = startPeer(method, target, child);
    child.close();
    const result = await body(parent);
    await stop(parent);
    await p.join();
    if (p.exitcode !== 0) throw new Error(`the ${target} child exited with ${p.exitcode}`);
    return result;
  } finally {
    parent.close();
    if (p?.isAlive()) {
      p.kill();
      await p.join();
    }
  }
}

/** Latency (ms) of one round trip of a small value to an echoing child. */
export function pipeRoundTrip(method: StartMethod, plan: Plan): Promise<number[]> {
  return withPeer(method, "echo", async (conn) => {
    // The child is up once it answered: start-up is not part of the figure.
    await conn.send(SMALL_VALUE);
    await conn.recv();
    return await sample(`pipe.round_trip ${method}`, async () => {
      await conn.send(SMALL_VALUE);
      const back = await conn.recv() as typeof SMALL_VALUE;
      if (back.n !== 1) throw new Error("the echo child answered something else");
    }, plan);
  }, (conn) => conn.send(null));
}

/**
 * Latency (ms) of sending `mib` messages of 1 MiB from parent to child, then
 * asking the child how many bytes it received and waiting for the answer.
 */
export function pipeThroughput(method: StartMethod, plan: Plan, mib: number): Promise<number[]> {
  const buf = new Uint8Array(MIB);
  for (let i = 0; i < buf.length; i += 4096) buf[i] = i & 0xff;
  const ask = new Uint8Array(0);
  return withPeer(method, "sink", async (conn) => {
    await conn.sendBytes(ask);
    await conn.recv();
    return await sample(`pipe.throughput_1mib ${method}`, async () => {
      for (let i = 0; i < mib; i++) await conn.sendBytes(buf);
      await conn.sendBytes(ask);
      const got = await conn.recv();
      if (got !== mib * MIB) {
        throw new Error(`the sink child counted ${got} bytes, not ${mib * MIB}`);
      }
    }, plan);
  }, (conn) => conn.sendBytes(new Uint8Array(1)));
}

/** Kills every child the library still runs (after a workload timed out). */
export async function killLibraryChildren(): Promise<void> {
  const live = activeChildren();
  for (const p of live) p.kill();
  await Promise.all(live.map((p) => p.join(5000)));
}

/** This file's part of the plan. */
export interface LibraryPlan {
  start: Plan;
  roundTrip: Plan;
  throughput: Plan;
  throughputMib: number;
}

/** Process start + join, Pipe round trip and throughput, and CPython's equivalents. */
export const suite: Suite<LibraryPlan> = {
  // Warm-up matters: a child is a fresh process whose code is cold too, and a
  // round trip settles only after a couple of thousand exchanges (with 50
  // warm-up round trips instead of 2,000, Deno's median doubles). The work of
  // one sample is the same in every mode; only the counts differ.
  plans: {
    full: {
      start: { iterations: 60, time: 4000, warmup: 5 },
      roundTrip: { iterations: 10_000, time: 3000, warmup: 3000 },
      throughput: { iterations: 30, time: 3000, warmup: 5 },
      throughputMib: 16,
    },
    quick: {
      start: { iterations: 20, time: 0, warmup: 3 },
      roundTrip: { iterations: 3000, time: 0, warmup: 2000 },
      throughput: { iterations: 10, time: 0, warmup: 5 },
      throughputMib: 16,
    },
    smoke: {
      start: { iterations: 2, time: 0, warmup: 0 },
      roundTrip: { iterations: 20, time: 0, warmup: 2 },
      throughput: { iterations: 2, time: 0, warmup: 0 },
      throughputMib: 2,
    },
  },
  workloads: [
    {
      id: "process.start_join",
      rows: perMethod((method, plan) => processStartJoin(method, plan.start)),
    },
    {
      id: "pipe.round_trip",
      rows: perMethod((method, plan) => pipeRoundTrip(method, plan.roundTrip)),
    },
    {
      id: "pipe.throughput_1mib",
      size: (plan) => ({ bytes: plan.throughputMib * MIB }),
      rows: perMethod((method, plan) =>
        pipeThroughput(method, plan.throughput, plan.throughputMib)
      ),
    },
  ],
  python: [
    {
      script: "process_start.py",
      workloads: ["process.start_join"],
      args: (plan) => ({ plan: plan.start }),
    },
    {
      script: "pipe.py",
      workloads: ["pipe.round_trip", "pipe.throughput_1mib"],
      args: (plan) => ({
        round_trip: plan.roundTrip,
        throughput: plan.throughput,
        throughput_mib: plan.throughputMib,
      }),
    },
  ],
};
