/**
 * The Deno host: `Deno.Command` for "spawn", `node:worker_threads` for
 * "worker", unix sockets through `node:net`.
 *
 * @module
 */

import type { Host, TimerHandle, Timers } from "../core/host.ts";
import { treeTransports } from "./_tree_transports.ts";
import { nodeBuiltin } from "./_builtin.ts";
import { denoSocketTransport } from "./deno_socket.ts";
import { denoSubprocessLauncher } from "./deno_subprocess.ts";
import { nodeWorkerLauncher } from "./node_worker.ts";
import { startWatchdog, WATCHDOG_POLL_MS } from "./_watchdog.ts";
import { missingDenoPermissions } from "./_deno_permissions.ts";
import { onDenoExit, trackSignalListeners } from "./_deno_exits.ts";
import { denoResourceKind } from "./_resources.ts";

/** A Web timer id as a {@linkcode TimerHandle}, through Deno's own `refTimer`/`unrefTimer`. */
function denoTimer(id: number, clear: (id: number) => void): TimerHandle {
  return {
    ref: () => Deno.refTimer(id),
    unref: () => Deno.unrefTimer(id),
    clear: () => clear(id),
  };
}

/** An environment variable, read through Deno: `process.env` would load Node's `process` (~14 ms). */
function env(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * All of stdin as text, read with `Deno.stdin.read`: a `Response` over
 * `Deno.stdin.readable` costs a child ~8 ms more to set up its streams.
 */
async function readStdin(): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let text = "";
  for (let n; (n = await Deno.stdin.read(buffer)) !== null;) {
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  return text + decoder.decode();
}

/** Builds the Deno host; `privateDir` gives the directory sockets live in. */
export async function denoHost(privateDir: () => string): Promise<Host> {
  const encoder = new TextEncoder();
  const realExit = Deno.exit;
  const timers: Timers = {
    // Deno's Web timers return ids (typed as Node's `Timeout` here by the Node types).
    setTimeout: (callback, ms) =>
      denoTimer(setTimeout(callback, ms) as unknown as number, clearTimeout),
    setInterval: (callback, ms) =>
      denoTimer(setInterval(callback, ms) as unknown as number, clearInterval),
  };
  const tree = await treeTransports(env, "ring", denoSocketTransport, privateDir, timers, true);
  trackSignalListeners();
  return {
    runtime: `Deno ${Deno.version.deno}`,
    pid: Deno.pid,
    transport: denoSocketTransport,
    transports: tree.transports,
    launchers: {
      spawn: denoSubprocessLauncher(privateDir),
      worker: nodeWorkerLauncher(Deno.pid, tree.broker),
    },
    makePrivateDir: () => Deno.makeTempDirSync({ prefix: "procs-mp-" }),
    removePrivateDir(path) {
      try {
        Deno.removeSync(path, { recursive: true });
      } catch {
        // already gone, or not ours to remove
      }
    },
    checkPermissions: missingDenoPermissions,
    onExit: onDenoExit,
    exit: (code) => realExit(code),
    timers,
    underTestRunner() {
      // `deno test` sets no variable; NODE_ENV=test is the convention other runners follow.
      return env("NODE_ENV") === "test";
    },
    fileUrl: (path) => nodeBuiltin<typeof import("node:url")>("node:url").pathToFileURL(path).href,
    child: {
      trapExit(onExit) {
        // Deno's `process.exit` ends in `Deno.exit`, looked up when called:
        // trapping it covers both without loading `node:process` (~14 ms of
        // start-up for every child).
        Deno.exit = (code?: number) => onExit(code ?? 0);
      },
      watchParent(parentPid) {
        // Deno.exit in a worker ends only the worker; signalling this very
        // process needs no permission.
        startWatchdog(
          `const parent = ${parentPid};
        setInterval(() => { if (Deno.ppid !== parent) Deno.kill(Deno.pid, "SIGKILL"); }, ${WATCHDOG_POLL_MS});`,
        );
      },
      onUncaught(handler) {
        globalThis.addEventListener("error", (event) => {
          event.preventDefault();
          handler(event.error);
        });
        globalThis.addEventListener("unhandledrejection", (event) => {
          event.preventDefault();
          handler(event.reason);
        });
      },
      readBootstrap: readStdin,
      isolateTestRunner() {
        // Outside `deno test`, Deno.test and node:test register nothing.
      },
    },
    env,
    resourceKind: denoResourceKind,
    writeStderr(text) {
      const bytes = encoder.encode(text);
      let written = 0;
      while (written < bytes.length) {
        written += Deno.stderr.writeSync(bytes.subarray(written));
      }
    },
  };
}
