/**
 * Small helpers the contracts share: which runtime runs the tests, whether a
 * pid is alive, waiting for a condition, and running a script of the same
 * runtime as a separate program.
 *
 * @module
 */

import { spawn } from "node:child_process";
import assert from "node:assert/strict";
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

/** The runtime's own connected socket and listening socket (`Deno.Conn`, a Bun `Socket`). */
export interface RuntimeSockets {
  /** The connecting side of a TCP connection on 127.0.0.1. */
  conn: object;
  /** The listening socket it connected to. */
  listener: object;
  /** Closes both. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What sending a runtime socket says, on every runtime: what it is and what to do. */
export const SOCKET_REFUSED =
  "it is a socket, which only this process can use; pass what identifies it (its address: host and port, or path) and connect from the child";

/**
 * Opens a TCP connection to itself with the runtime's own socket API, the
 * kind of value a user may try to hand a child.
 */
export async function openRuntimeSockets(): Promise<RuntimeSockets> {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as unknown as Record<string, any>;
  if (RUNTIME === "deno") {
    const listener = g.Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const accepted = listener.accept();
    const conn = await g.Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const peer = await accepted;
    return {
      conn,
      listener,
      [Symbol.asyncDispose]: async () => {
        conn.close();
        peer.close();
        listener.close();
        await Promise.resolve();
      },
    };
  }
  const listener = g.Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const conn = await g.Bun.connect({
    hostname: "127.0.0.1",
    port: listener.port,
    socket: { data() {} },
  });
  return {
    conn,
    listener,
    [Symbol.asyncDispose]: async () => {
      conn.end();
      listener.stop(true);
      await Promise.resolve();
    },
  };
}

/** `text` as a regular expression that matches it literally. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Asserts what a program printed for an error a child raised and nobody
 * caught: `RangeError: <message>` once, the child's frame `childFrame`, one
 * `RemoteTraceback` raised in `where` as its cause, and nothing of the
 * library (no frame, no source excerpt).
 */
export function assertSaidOnce(
  stderr: string,
  message: string,
  childFrame: RegExp,
  where: string,
): void {
  const count = (text: string) => stderr.split(text).length - 1;
  assert.equal(count(`RangeError: ${message}`), 1, `the message once:\n${stderr}`);
  assert.match(stderr, childFrame, `the child's frame:\n${stderr}`);
  assert.equal(count("RemoteTraceback"), 1, `one cause:\n${stderr}`);
  assert.ok(stderr.includes(`RemoteTraceback: raised in ${where}`), `where:\n${stderr}`);
  assert.ok(count("Caused by") <= 1, `not nested:\n${stderr}`);
  assert.doesNotMatch(stderr, /src\/(core|child|adapters)\//, `nothing of the library:\n${stderr}`);
}
