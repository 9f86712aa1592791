/**
 * Makes, uses and drops a `Queue`, a `Lock` and a `Value` in a loop, and
 * prints the resident set size (MiB) at each checkpoint as one JSON line:
 * `{ "rss": [[iterations, MiB], ...] }`. Run as its own program so the
 * RSS is its own.
 *
 * Arguments: the context's start method ("spawn" or "worker"), how the
 * handles go ("close": closed by the loop; "drop": left to the garbage
 * collector, never closed), then the checkpoints (iteration counts,
 * ascending).
 *
 * @module
 */

import process from "node:process";
import { getContext, type StartMethod } from "../../mod.ts";

const [method, how, ...marks] = process.argv.slice(2);
const ctx = getContext(method as StartMethod);
const checkpoints = marks.map(Number);
const close = how === "close";

/** Runs the collector when the runtime exposes it (Bun always; Deno with --v8-flags=--expose-gc). */
function collect(): void {
  const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

async function settle(): Promise<number> {
  // Let timers, finalizers and their messages run, then measure.
  for (let i = 0; i < 3; i++) {
    collect();
    await new Promise((r) => setTimeout(r, 20));
  }
  if (process.env.HEAP) {
    console.error(
      "heap",
      process.memoryUsage().heapUsed / 2 ** 20,
      process.memoryUsage().external / 2 ** 20,
    );
  }
  return process.memoryUsage().rss / 2 ** 20;
}

const rss: [number, number][] = [];
let done = 0;
for (const mark of checkpoints) {
  for (; done < mark; done++) {
    const q = new ctx.Queue<number>();
    await q.put(done);
    if (await q.get() !== done) throw new Error("the queue lost an item");
    const lock = new ctx.Lock();
    await lock.acquire();
    await lock.release();
    const v = ctx.Value("i", 0);
    await v.set(done);
    if (await v.get() !== (done | 0)) throw new Error("the value lost a write");
    // Finalizers run between tasks: a program that never yields never runs them.
    if (done % 100 === 99) await new Promise((r) => setTimeout(r, 0));
    if (close) {
      q.close();
      (lock as unknown as { close?: () => void }).close?.();
      (v as unknown as { close?: () => void }).close?.();
    }
  }
  rss.push([mark, Math.round(await settle())]);
}
console.log(JSON.stringify({ rss }));
process.exit(0);
