// Starts and joins N children one after another and prints, at a checkpoint
// and at N, how many descriptors this program holds and its RSS.
//   child_lifetimes.ts <start method> <N> <checkpoint>
import fs from "node:fs";
import process from "node:process";
import { getContext, type StartMethod } from "../../mod.ts";

/** Does nothing: the child's whole life is its start and its end. */
export function nothing(): void {}

function report(at: number): void {
  const fds = fs.readdirSync("/proc/self/fd").length;
  console.log(`at ${at} fds ${fds} rss ${process.memoryUsage().rss}`);
}

if (import.meta.main) {
  const [method, n, checkpoint] = process.argv.slice(2);
  const ctx = getContext(method as StartMethod);
  for (let i = 1; i <= Number(n); i++) {
    const p = new ctx.Process({ target: nothing });
    p.start();
    await p.join();
    if (p.exitcode !== 0) throw new Error(`child ${i} ended with exitcode ${p.exitcode}`);
    if (i === Number(checkpoint) || i === Number(n)) report(i);
  }
}
