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
