/**
 * The JS pools next to the library's applyAsync: each runs in a process of
 * its own (bench/peers/run.ts) with a timeout, so that one that hangs or
 * crashes on this runtime becomes a "cannot run" row with its reason.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { PeerMethod } from "../_figures.ts";
import type { Plan } from "../_measure.ts";

const RUN = fileURLToPath(new URL("../peers/run.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../bench.deno.json", import.meta.url));

const live = new Set<ChildProcess>();

/** Kills every peer process still running (after a timeout). */
export function killPeerProcesses(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

/** The line of a failed run's stderr that says what went wrong. */
function reasonOf(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const line = lines.find((l) => /error/i.test(l)) ?? lines[lines.length - 1] ?? "";
  return line.replace(/^error: /, "").slice(0, 200);
}

/**
 * Latency (ms) of `tasks` tasks `x * x` submitted at once to the JS pool
 * `method` and every result awaited; rejects after `timeoutMs`.
 */
export function peerApplyAsync(
  method: PeerMethod,
  plan: Plan,
  tasks: number,
  timeoutMs: number,
): Promise<number[]> {
  const spec = JSON.stringify({ method, tasks, plan });
  const args = "Bun" in globalThis
    ? ["--install=fallback", RUN, spec]
    : ["run", "-A", "--config", CONFIG, RUN, spec];
  return new Promise<number[]>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    live.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout!.on("data", (d: Uint8Array) => (stdout += new TextDecoder().decode(d)));
    child.stderr!.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error: Error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      live.delete(child);
      if (timedOut) {
        const hung = stdout.includes("ready") ? "" : ": no answer to its first 8 tasks";
        reject(new Error(`timed out after ${timeoutMs / 1000} s${hung}`));
        return;
      }
      try {
        const out = JSON.parse(stdout.trim().split("\n").pop() ?? "");
        if (!Array.isArray(out.samples_ms)) throw new Error("no samples");
        resolve(out.samples_ms as number[]);
      } catch {
        reject(new Error(`exited with ${code}: ${reasonOf(stderr)}`));
      }
    });
  });
}
