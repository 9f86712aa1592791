/**
 * Makes, uses and closes a manager dict in a loop, and prints, at each
 * checkpoint, the manager server's resident set size (MiB) and how many
 * objects it owns, as one JSON line:
 * `{ "rss": [[iterations, MiB], ...], "objects": [[iterations, count], ...] }`.
 * Under "spawn" the server's RSS is read from /proc/<pid>/status (Linux);
 * under "worker" the server is a thread of this process, so it is this
 * process's RSS. Run as its own program.
 *
 * Arguments: the start method ("spawn" or "worker"), how the proxies go
 * ("close": closed by the loop; "drop": left to the garbage collector, which
 * runs at each checkpoint where the runtime lets it: Bun, Deno with
 * `--v8-flags=--expose-gc`, until the server's count is back to 0 or 20 s
 * passed), then the checkpoints (iteration counts, ascending).
 *
 * Measured (`deno run -A tests/testdata/manager_rss_loop.ts spawn close 1000
 * 5000 10000 20000`, and `bun tests/testdata/manager_rss_loop.ts ...`), server
 * RSS in MiB at 1k / 20k dicts, before (objects pinned until shutdown) ->
 * after (freed when no proxy holds them; 0 objects left at every checkpoint):
 * Deno spawn 72..147 -> 70..84, Bun spawn 59..116 -> 60..68; under "worker"
 * (the whole process) Deno 86..175 -> 84..107, Bun 65..113 -> 61..77. Deno
 * spawn over 100k: 70..278 before, 69..90 after (83 at 20k, 89 at 50k).
 *
 * @module
 */

import process from "node:process";
import { readFileSync } from "node:fs";
import { activeChildren, getContext, type StartMethod } from "../../mod.ts";

const [method, how, ...marks] = process.argv.slice(2);
const close = how === "close";
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

/** Runs the collector when the runtime exposes it (Bun always; Deno with --v8-flags=--expose-gc). */
function collect(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

/** Makes, uses and (with "close") closes one dict; nothing keeps it once this returns. */
async function useOne(i: number): Promise<void> {
  const d = await manager.dict<string, number>({ i });
  await d.set("payload", i);
  if (await d.get("payload") !== i) throw new Error("the dict lost a write");
  // Older builds have no close(): their proxies go to the collector.
  if (close) (d as { close?: () => void }).close?.();
}

const rss: [number, number][] = [];
const objects: [number, number][] = [];
let done = 0;
for (const mark of marks.map(Number)) {
  for (; done < mark; done++) {
    await useOne(done);
    if (!close && done % 200 === 199) await new Promise((r) => setTimeout(r, 0));
  }
  const count = (manager as { _serverObjectCount?: () => Promise<number> })._serverObjectCount;
  const objectCount = () => count ? count.call(manager) : Promise.resolve(-1);
  const deadline = Date.now() + 20_000;
  do {
    collect();
    await new Promise((r) => setTimeout(r, 50));
  } while (!close && await objectCount() > 0 && Date.now() < deadline);
  await new Promise((r) => setTimeout(r, 200));
  rss.push([mark, Math.round(rssMiB())]);
  objects.push([mark, await objectCount()]);
}
console.log(JSON.stringify({ rss, objects }));
await manager.shutdown();
process.exit(0);
