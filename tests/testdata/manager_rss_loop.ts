/**
 * Makes, uses and closes a manager dict in a loop, and prints, at each
 * checkpoint, the manager server's resident set size (MiB) and how many
 * objects it owns, as one JSON line:
 * `{ "rss": [[iterations, MiB], ...], "objects": [[iterations, count], ...] }`.
 * Under "spawn" the server's RSS is read from /proc/<pid>/status (Linux);
 * under "worker" the server is a thread of this process, so it is this
 * process's RSS. Run as its own program.
 *
 * Arguments: the start method ("spawn" or "worker"), then the checkpoints
 * (iteration counts, ascending).
 *
 * @module
 */

import process from "node:process";
import { readFileSync } from "node:fs";
import { activeChildren, getContext, type StartMethod } from "../../mod.ts";

const [method, ...marks] = process.argv.slice(2);
const ctx = getContext(method as StartMethod);
const manager = await ctx.Manager();
const server = activeChildren().find((p) => /SyncManager-\d+$/.test(p.name))!;

function rssMiB(): number {
  if (method === "spawn") {
    const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  }
  return process.memoryUsage().rss / 2 ** 20;
}

const rss: [number, number][] = [];
const objects: [number, number][] = [];
let done = 0;
for (const mark of marks.map(Number)) {
  for (; done < mark; done++) {
    const d = await manager.dict<string, number>({ i: done });
    await d.set("payload", done);
    if (await d.get("payload") !== done) throw new Error("the dict lost a write");
    // Older builds have no close(): their proxies go to the collector.
    (d as { close?: () => void }).close?.();
  }
  await new Promise((r) => setTimeout(r, 200));
  rss.push([mark, Math.round(rssMiB())]);
  const count = (manager as { _serverObjectCount?: () => Promise<number> })._serverObjectCount;
  objects.push([mark, count ? await count.call(manager) : -1]);
}
console.log(JSON.stringify({ rss, objects }));
await manager.shutdown();
process.exit(0);
