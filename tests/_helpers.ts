/**
 * Small helpers the contracts share: which runtime runs the tests, whether a
 * pid is alive, waiting for a condition, and running a script of the same
 * runtime as a separate program.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";

/** "deno" or "bun": the runtime running the tests. */
export const RUNTIME: "deno" | "bun" = "Bun" in globalThis ? "bun" : "deno";

/** Whether an OS process with this pid exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `condition` until it holds; fails after `timeout` ms with `what`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeout = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The output of a script run to completion. */
export interface ScriptResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The command line that runs `script` with this runtime (all permissions under Deno unless given). */
export function scriptCommand(script: string, args: string[] = [], denoFlags = ["-A"]): string[] {
  return RUNTIME === "deno"
    ? [process.execPath, "run", ...denoFlags, script, ...args]
    : [process.execPath, script, ...args];
}

/** Runs a script of this runtime as its own program and collects its output. */
export function runScript(
  script: string,
  args: string[] = [],
  options: {
    denoFlags?: string[];
    onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void;
    /** Variables set (or, with undefined, removed) in the script's environment. */
    env?: Record<string, string | undefined>;
    /** Milliseconds after which the script is killed with SIGKILL (the result's `signal` says so). */
    timeout?: number;
  } = {},
): Promise<ScriptResult> {
  const [cmd, ...rest] = scriptCommand(script, args, options.denoFlags);
  const child = spawn(cmd, rest, {
    stdio: ["ignore", "pipe", "pipe"],
    env: Object.fromEntries(
      Object.entries({ ...process.env, NO_COLOR: "1", ...options.env }).filter(([, v]) =>
        v !== undefined
      ),
    ),
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Uint8Array) => {
    stdout += new TextDecoder().decode(d);
    options.onStdout?.(stdout, (signal) => child.kill(signal));
  });
  child.stderr.on("data", (d: Uint8Array) => (stderr += new TextDecoder().decode(d)));
  const timer = options.timeout === undefined
    ? undefined
    : setTimeout(() => child.kill("SIGKILL"), options.timeout);
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A path inside tests/testdata as a file path. */
export function testdata(name: string): string {
  return new URL(`./testdata/${name}`, import.meta.url).pathname;
}
