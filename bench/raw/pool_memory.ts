/**
 * One sample of the memory workloads, in a program of its own (so that no
 * other workload grew its heap): reads its own resident size, makes a
 * `Pool(N)` with the start method of its first argument, makes sure every
 * worker answered (`warmAll`: one-item tasks until each worker ran one),
 * waits 200 ms, then prints, in MiB (2^20 bytes), from Linux's `/proc`:
 *
 *     {"before": VmRSS of this program before the pool,
 *      "parent": its VmRSS with the pool up,
 *      "workers": the VmRSS of each worker process (none under "worker"),
 *      "workersUss": the pages each maps alone (Private_Clean + Private_Dirty
 *                    of smaps_rollup: not the runtime's binary or a forked
 *                    parent's pages, which other processes share)}
 *
 *     deno run -A bench/raw/pool_memory.ts <spawn|worker> <processes>
 *     bun bench/raw/pool_memory.ts <spawn|worker> <processes>
 *
 * @module
 */

import type { StartMethod } from "../../mod.ts";
import { newPool, warmAll, workerPid } from "../_targets.ts";

/** This program's arguments, from the runtime's globals (its workers import this module). */
function args(): string[] {
  return "Deno" in globalThis
    ? Deno.args
    : (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
}

/** The sum of some fields (kB) of `/proc/<pid>/<file>`, in MiB. */
async function proc(pid: number, file: string, ...fields: string[]): Promise<number> {
  const path = `/proc/${pid}/${file}`;
  const text = "Deno" in globalThis
    ? await Deno.readTextFile(path)
    : await (globalThis as unknown as { Bun: { file(p: string): { text(): Promise<string> } } })
      .Bun.file(path).text();
  let kb = 0;
  for (const field of fields) {
    const value = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
    if (!Number.isFinite(value)) throw new Error(`${path} has no ${field}`);
    kb += value;
  }
  return kb / 1024;
}

/** The resident size of process `pid`, in MiB. */
function rss(pid: number): Promise<number> {
  return proc(pid, "status", "VmRSS");
}

/** The pages process `pid` maps alone (its unique set size), in MiB. */
function uss(pid: number): Promise<number> {
  return proc(pid, "smaps_rollup", "Private_Clean", "Private_Dirty");
}

/** What one program measured, in MiB. */
export interface PoolMemory {
  before: number;
  parent: number;
  workers: number[];
  workersUss: number[];
}

/** Makes a warm `Pool(processes)`, reads the resident sizes, closes and joins it. */
async function poolMemory(method: StartMethod, processes: number): Promise<PoolMemory> {
  const self = workerPid();
  const before = await rss(self);
  const pool = newPool(method, processes);
  try {
    const pids = (await warmAll(pool)).filter((pid) => pid !== self);
    if (method === "spawn" && pids.length !== processes) {
      throw new Error(`${pids.length} worker processes answered, not ${processes}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const parent = await rss(self);
    const workers = await Promise.all(pids.map(rss));
    const workersUss = await Promise.all(pids.map(uss));
    pool.close();
    await pool.join();
    return { before, parent, workers, workersUss };
  } catch (error) {
    await pool.terminate();
    throw error;
  }
}

if (import.meta.main) {
  const [method, n] = args();
  if ((method !== "spawn" && method !== "worker") || !(Number(n) > 0)) {
    throw new Error("usage: pool_memory.ts <spawn|worker> <processes>");
  }
  console.log(JSON.stringify(await poolMemory(method, Number(n))));
}
