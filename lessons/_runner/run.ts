/**
 * Runs a program file under Deno or Bun with a start method, collects its
 * output, and kills it (with everything it started) when it takes too long.
 *
 * Each program runs detached, in a process group of its own, so that a
 * timeout or an interrupted runner can end the program and its children at
 * once with one signal to the group.
 *
 * @module
 */

import type { StartMethod } from "./parse.ts";

/** A runtime lessons run under. */
export type Runtime = "deno" | "bun";

/** Every runtime, in the order lessons run under them. */
export const RUNTIMES: readonly Runtime[] = ["deno", "bun"];

/** The Bun release fetched through npx when no `bun` is on the PATH. */
export const BUN_VERSION = "1.4.5";

/** How long a program may run before it is killed. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** How long the output of an ended program may stay open (held by what it started) before those are killed. */
const DRAIN_MS = 2_000;

/** The environment variable the library's default start method honours. */
export const START_METHOD_ENV = "PROCS_MP_START_METHOD";

/** How to run one program. */
export interface RunOptions {
  runtime: Runtime;
  startMethod: StartMethod;
  /** Capture stderr interleaved into stdout, as the program wrote them. */
  mergeStderr?: boolean;
  timeoutMs?: number;
  /** Echo the program's output to this process's stdout and stderr as it comes. */
  live?: boolean;
  /** The working directory of the program. */
  cwd?: string;
}

/** What a program did. */
export interface RunOutput {
  /** Its stdout; with `merged`, its stdout and stderr as interleaved by the OS. */
  stdout: string;
  /** Its stderr (empty when `merged`). */
  stderr: string;
  /** Whether stderr was captured interleaved into `stdout`. */
  merged: boolean;
  /** Its exit code; `null` when it could not start. */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: string | null;
  /** Whether it was killed for running longer than the timeout. */
  timedOut: boolean;
  /** Whether processes it started still held its output open after it ended (they were killed). */
  lingered: boolean;
  /** Why it could not be started, if it could not. */
  startError: string | null;
  durationMs: number;
}

const running = new Set<Deno.ChildProcess>();

/** Kills every program still running, with what it started (for an interrupted runner). */
export function killRunning(): void {
  for (const child of running) killGroup(child);
}

function killGroup(child: Deno.ChildProcess): void {
  try {
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

function delay(ms: number): { done: Promise<"late">; cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  return { done, cancel: () => clearTimeout(timer) };
}

function writeAll(to: typeof Deno.stdout, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += to.writeSync(bytes.subarray(written));
}

function collect(
  stream: ReadableStream<Uint8Array>,
  echo: typeof Deno.stdout | null,
): { text: Promise<string>; cancel: () => void } {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  const text = (async () => {
    let text = "";
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        text += decoder.decode(chunk.value, { stream: true });
        if (echo) writeAll(echo, chunk.value);
      }
    } catch {
      // cancelled: keep what came
    }
    return text + decoder.decode();
  })();
  return { text, cancel: () => void reader.cancel().catch(() => {}) };
}

async function canRun(command: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

let bunCommand: Promise<string[]> | null = null;

/**
 * The command that starts Bun: the `bun` on the PATH if there is one, else
 * the binary npx installs for `bun@1.4.5` (looked up once, then run directly
 * to spare each lesson npx's start-up and notices), else `npx --yes bun@1.4.5`.
 */
export function bunExecutable(): Promise<string[]> {
  bunCommand ??= (async () => {
    if (await canRun("bun", ["--version"]) !== null) return ["bun"];
    const found = await canRun("npx", [
      "--yes",
      "-p",
      `bun@${BUN_VERSION}`,
      "-c",
      "command -v bun",
    ]);
    const path = found?.split("\n").pop()?.trim();
    return path ? [path] : ["npx", "--yes", `bun@${BUN_VERSION}`];
  })();
  return bunCommand;
}

/** The command line that runs `file` with `runtime`. */
export async function runtimeCommand(runtime: Runtime, file: string): Promise<string[]> {
  return runtime === "deno"
    ? [Deno.execPath(), "run", "-A", file]
    : [...(await bunExecutable()), file];
}

/** Whether stderr can be sent into the stdout pipe by the OS (a POSIX shell does it before exec). */
function canMerge(): boolean {
  if (Deno.build.os === "windows") return false;
  try {
    return Deno.statSync("/bin/sh").isFile;
  } catch {
    return false;
  }
}

/** Runs a program file to its end (or its timeout) and returns what it did. */
export async function runProgram(file: string, options: RunOptions): Promise<RunOutput> {
  const merged = (options.mergeStderr ?? false) && canMerge();
  const [command, ...args] = await runtimeCommand(options.runtime, file);
  const started = performance.now();
  const argv = merged
    ? ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh", command, ...args]
    : [command, ...args];
  const result = (fields: Partial<RunOutput>): RunOutput => ({
    stdout: "",
    stderr: "",
    merged,
    code: null,
    signal: null,
    timedOut: false,
    lingered: false,
    startError: null,
    durationMs: performance.now() - started,
    ...fields,
  });

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: options.cwd,
      env: { [START_METHOD_ENV]: options.startMethod, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (error) {
    return result({ startError: `Cannot start ${argv.join(" ")}: ${(error as Error).message}` });
  }
  running.add(child);
  const stdout = collect(child.stdout, options.live ? Deno.stdout : null);
  const stderr = collect(child.stderr, options.live ? Deno.stderr : null);
  let timedOut = false;
  const timeout = delay(options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  void timeout.done.then(() => {
    timedOut = true;
    killGroup(child);
  });

  const status = await child.status;
  const output = Promise.all([stdout.text, stderr.text]);
  // The program has ended: what it started should have ended with it and closed its output.
  let drain = delay(DRAIN_MS);
  const lingered = await Promise.race([output, drain.done]) === "late";
  drain.cancel();
  killGroup(child); // whatever is left of the group, if anything
  if (lingered) {
    drain = delay(DRAIN_MS);
    if (await Promise.race([output, drain.done]) === "late") {
      stdout.cancel();
      stderr.cancel();
    }
    drain.cancel();
  }
  timeout.cancel();
  running.delete(child);
  const [out, err] = await output;
  return result({
    stdout: out,
    stderr: err,
    code: status.signal === null ? status.code : null,
    signal: status.signal,
    timedOut,
    lingered,
  });
}
