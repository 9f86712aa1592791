/**
 * Runs the CPython equivalents (bench/python/*.py) and reads their samples.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

/**
 * What a CPython script measured in one context, per workload: samples (and
 * what to note beside them, e.g. a resident size) or why none.
 */
export type PythonResults = Record<
  string,
  Record<string, { samples_ms: number[]; beside?: string } | { error: string; trace?: string }>
>;

/** The outcome of one script run. */
export type PythonRun =
  | { ok: true; version: string; results: PythonResults }
  | { ok: false; reason: string };

/** The interpreter the suite runs: `$PYTHON`, else `python3`. */
export function pythonExecutable(): string {
  return process.env.PYTHON || "python3";
}

/** Runs `bench/python/<script>` with `options` as its JSON argument. */
export function runPython(
  script: string,
  options: unknown,
  timeoutMs: number,
): Promise<PythonRun> {
  const file = fileURLToPath(new URL(`./python/${script}`, import.meta.url));
  return new Promise<PythonRun>((resolve) => {
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    // -B: no __pycache__ left in bench/python.
    const child = spawn(pythonExecutable(), ["-B", file, JSON.stringify(options)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout!.on("data", (d: Uint8Array) => (stdout += new TextDecoder().decode(d)));
    child.stderr!.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({
        ok: false,
        reason: error.code === "ENOENT"
          ? `${pythonExecutable()} not found on PATH (set $PYTHON to a CPython 3)`
          : `could not run ${pythonExecutable()}: ${error.message}`,
      });
    });
    child.on("close", (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      if (timedOut) {
        resolve({ ok: false, reason: `${script} timed out after ${timeoutMs / 1000} s` });
        return;
      }
      try {
        const out = JSON.parse(stdout.trim().split("\n").pop() ?? "");
        resolve({ ok: true, version: out.python, results: out.results });
      } catch {
        const why = signal ? `was ended by ${signal}` : `exited with ${code}`;
        const tail = stderr.trim().split("\n").slice(-1)[0] ?? "";
        resolve({ ok: false, reason: `${script} ${why}${tail ? `: ${tail}` : ""}` });
      }
    });
  });
}
