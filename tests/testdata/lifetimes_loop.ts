/**
 * Makes, uses and drops a `Queue`, a `Lock` and a `Value` in a loop, and
 * prints, at each checkpoint, the resident set size (MiB) and how many
 * shared objects this process still owns, as one JSON line:
 * `{ "rss": [[iterations, MiB], ...], "owned": [[iterations, count], ...] }`.
 * Run as its own program so the RSS is its own. At each checkpoint it
 * collects garbage where the runtime lets it (Bun; Deno with
 * `--v8-flags=--expose-gc`) so what is measured is what is kept, not what
 * the collector has yet to reach.
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
import { ownedCount } from "../../src/core/_shared.ts";

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
  return process.memoryUsage().rss / 2 ** 20;
}

const rss: [number, number][] = [];
const owned: [number, number][] = [];
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
    if (!close && done % 200 === 199) await new Promise((r) => setTimeout(r, 0));
    if (close) {
      q.close();
      lock.close();
      v.close(); // and its own lock
    }
  }
  rss.push([mark, Math.round(await settle())]);
  owned.push([mark, ownedCount()]);
}
console.log(JSON.stringify({ rss, owned }));
process.exit(0);
