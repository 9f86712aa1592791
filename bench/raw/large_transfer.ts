/**
 * One row of the large-message workloads, in a program of its own (so that
 * the parent's peak resident size is its own, not that of a heap other
 * workloads grew and freed): makes an `ArrayBuffer` of N MiB filled with
 * 0x5a, starts one child with the start method of its arguments, then
 * samples, as `plan` says, sending the buffer (`conn.send(buffer)`, or
 * `q.put(buffer)` with the child `get()`ting it) until the child answered
 * the `byteLength` it got. Prints, on stdout:
 *
 *     {"samples": [ms, ...], "peakMib": MiB, "how": "VmHWM"}
 *
 * where `peakMib` is the parent's peak resident size over the samples
 * minus its VmRSS before the first (Linux's VmHWM, reset by writing 5 to
 * `/proc/self/clear_refs`; where that is refused, VmRSS read every 5 ms,
 * which misses a peak reached and left while the event loop was busy), or
 * null off Linux.
 *
 *     deno run -A bench/raw/large_transfer.ts <pipe|queue> <spawn|worker> <mib> '<plan JSON>'
 *     bun bench/raw/large_transfer.ts <pipe|queue> <spawn|worker> <mib> '<plan JSON>'
 *
 * A message above 256 MiB (framing included) needs `PROCS_MP_MAX_MESSAGE_SIZE`
 * raised in its environment (bench/workloads/large.ts sets it).
 *
 * @module
 */

import * as fs from "node:fs";
import process from "node:process";
import { Pipe, type Process, Queue, type StartMethod } from "../../mod.ts";
import {
  bufferSink,
  type ChildPlan,
  childSample,
  queueBufferSink,
  startChild,
} from "../_targets.ts";

/** Over which object the buffer goes. */
export type LargeKind = "pipe" | "queue";

/** What the program prints. */
export interface LargeResult {
  /** Every sample's latency, ms. */
  samples: number[];
  /** The parent's peak RSS over the samples above its RSS before them, MiB (null off Linux). */
  peakMib: number | null;
  /** How the peak was read: "VmHWM", or "VmRSS every 5 ms". */
  how: string;
}

/** A field of `/proc/self/status`, in MiB. */
function status(field: "VmRSS" | "VmHWM"): number {
  const text = fs.readFileSync("/proc/self/status", "utf8");
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`/proc/self/status has no ${field}`);
  return kb / 1024;
}

/**
 * Starts following this process's peak resident size; the function it
 * returns gives the MiB the peak rose above the RSS at the start, and how it
 * was read. Null off Linux.
 */
function followPeak(): (() => { mib: number; how: string }) | null {
  if (process.platform !== "linux") return null;
  const before = status("VmRSS");
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return () => ({ mib: status("VmHWM") - before, how: "VmHWM" });
  } catch {
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, status("VmRSS"))), 5);
    return () => {
      clearInterval(timer);
      return { mib: Math.max(peak, status("VmRSS")) - before, how: "VmRSS every 5 ms" };
    };
  }
}

/** Samples sending one `mib` MiB `ArrayBuffer` to a child over `kind`, as `plan` says. */
async function largeTransfer(
  kind: LargeKind,
  method: StartMethod,
  mib: number,
  plan: ChildPlan,
): Promise<LargeResult> {
  const buffer = new ArrayBuffer(mib * 2 ** 20);
  new Uint8Array(buffer).fill(0x5a);
  const [conn, theirs] = Pipe();
  const q = kind === "queue" ? new Queue<ArrayBuffer | null>() : null;
  let p: Process | null = null;
  try {
    p = q === null
      ? startChild(method, bufferSink, [theirs])
      : startChild(method, queueBufferSink, [theirs, q]);
    theirs.close();
    const send = async (value: ArrayBuffer | null) => {
      if (q === null) await conn.send(value);
      else await q.put(value);
    };
    const transfer = async (value: ArrayBuffer) => {
      await send(value);
      const got = await conn.recv();
      if (got !== value.byteLength) {
        throw new Error(`the child got ${got} bytes, not ${value.byteLength}`);
      }
    };
    // The child is up once it answered: start-up is not part of the figure.
    await transfer(new ArrayBuffer(1));
    const peak = followPeak();
    const samples = await childSample(() => transfer(buffer), plan);
    const growth = peak?.() ?? null;
    await send(null);
    await p.join();
    if (p.exitcode !== 0) throw new Error(`the ${kind} child exited with ${p.exitcode}`);
    return { samples, peakMib: growth?.mib ?? null, how: growth?.how ?? "" };
  } finally {
    conn.close();
    q?.close();
    if (p?.isAlive()) {
      p.kill();
      await p.join();
    }
  }
}

if (import.meta.main) {
  const [kind, method, mib, plan] = process.argv.slice(2);
  if (
    (kind !== "pipe" && kind !== "queue") || (method !== "spawn" && method !== "worker") ||
    !(Number(mib) > 0) || plan === undefined
  ) {
    throw new Error("usage: large_transfer.ts <pipe|queue> <spawn|worker> <mib> '<plan JSON>'");
  }
  const result = await largeTransfer(kind, method, Number(mib), JSON.parse(plan) as ChildPlan);
  console.log(JSON.stringify(result));
  process.exit(0);
}
