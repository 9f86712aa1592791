/**
 * Fresh programs: the workloads whose sample is a whole program of its own
 * (a cold runtime, or a process whose resident size nothing else grew) run
 * a script of bench/raw/ with the runtime that runs the suite, one at a
 * time, and read the JSON object it prints last on stdout.
 *
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const live = new Set<ChildProcess>();

/** Kills every fresh program still running (after a workload timed out). */
export function killFreshPrograms(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

/**
 * Runs `bench/raw/<script> ...args` with this runtime (`deno run -A`, or
 * `bun`), with `env` added to this process's environment, and returns the
 * JSON object it printed last; a program that fails, prints no JSON or runs
 * past `timeoutMs` is an error that says so.
 */
export function runFresh<T>(
  script: string,
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<T> {
  const file = fileURLToPath(new URL(`../raw/${script}`, import.meta.url));
  const argv = "Bun" in globalThis ? [file, ...args] : ["run", "-A", file, ...args];
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    live.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout!.on("data", (d: Uint8Array) => (stdout += new TextDecoder().decode(d)));
    child.stderr!.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
    child.on("error", (error: Error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    child.on("close", (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      live.delete(child);
      if (timedOut) {
        reject(new Error(`${script} ${args.slice(0, 3).join(" ")} ran past ${timeoutMs / 1000} s`));
        return;
      }
      try {
        if (code !== 0) throw new Error();
        resolve(JSON.parse(stdout.trim().split("\n").pop() ?? "") as T);
      } catch {
        const why = signal ? `was ended by ${signal}` : `exited with ${code}`;
        // The error's line (Bun prints the source around it first, both the stack after it).
        const lines = stderr.split("\n").filter((line) => /\S/.test(line));
        const first = lines.find((line) => /^(error: |\w*(Error|Exception)\b)/.test(line.trim())) ??
          lines[0] ?? "";
        const what = `${script} ${args.slice(0, 3).join(" ")}`;
        reject(new Error(`${what} ${why}${first ? `: ${first.trim()}` : ""}`));
      }
    });
  });
}

/**
 * Runs `once` as the plan says, one fresh program after the other:
 * `warmup` untimed runs, then at least `iterations` samples and `time` ms of
 * them (the same semantics as tinybench's sequential mode). Each sample is
 * whatever `once` returns: a latency the program measured itself, or a size.
 */
export async function freshSamples(
  once: () => Promise<number>,
  plan: { iterations: number; time: number; warmup: number },
): Promise<number[]> {
  for (let i = 0; i < plan.warmup; i++) await once();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < plan.iterations || total < plan.time) {
    const value = await once();
    samples.push(value);
    total += value;
  }
  return samples;
}
