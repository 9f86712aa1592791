/**
 * The Bun host: `Bun.spawn` for "spawn", Web Workers for "worker", unix
 * sockets through `node:net`.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import * as timers from "node:timers";
import type { Host, TimerHandle, Timers } from "../core/host.ts";
import { treeTransports } from "./_tree_transports.ts";
import { bunSocketTransport } from "./bun_socket.ts";
import { bunSpawnLauncher } from "./bun_spawn.ts";
import { webWorkerLauncher } from "./web_worker.ts";
import { startWatchdog, WATCHDOG_POLL_MS } from "./_watchdog.ts";
import { onBunExit } from "./_bun_exits.ts";
import { bunResourceKind } from "./_resources.ts";

interface NodeProcess {
  pid: number;
  env: Record<string, string | undefined>;
  exit(code: number): never;
  on(event: "exit", callback: () => void): void;
  on(event: "uncaughtException" | "unhandledRejection", callback: (error: unknown) => void): void;
}

/** A Node timer as a {@linkcode TimerHandle}. */
function nodeTimer(timer: NodeJS.Timeout): TimerHandle {
  return {
    ref: () => timer.ref(),
    unref: () => timer.unref(),
    clear: () => clearTimeout(timer),
  };
}

/** Builds the Bun host; `privateDir` gives the directory sockets live in. */
export async function bunHost(privateDir: () => string): Promise<Host> {
  const g = globalThis as unknown as {
    process: NodeProcess;
    Bun: { version: string; stdin: { text(): Promise<string> } };
  };
  const process = g.process;
  const realExit = process.exit.bind(process);
  const hostTimers: Timers = {
    setTimeout: (callback, ms) => nodeTimer(timers.setTimeout(callback, ms)),
    setInterval: (callback, ms) => nodeTimer(timers.setInterval(callback, ms)),
  };
  const env = (name: string) => process.env[name];
  const tree = await treeTransports(
    env,
    "ring",
    bunSocketTransport,
    privateDir,
    hostTimers,
    false,
  );
  return {
    runtime: `Bun ${g.Bun.version}`,
    pid: process.pid,
    transport: bunSocketTransport,
    transports: tree.transports,
    launchers: {
      spawn: bunSpawnLauncher(),
      worker: webWorkerLauncher(process.pid, tree.broker),
    },
    makePrivateDir: () => fs.mkdtempSync(path.join(os.tmpdir(), "procs-mp-")),
    removePrivateDir(dir) {
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        // already gone
      }
    },
    checkPermissions: () => null, // Bun has no permissions
    onExit: (callback) => onBunExit(g.process as never, realExit, callback),
    exit: (code) => realExit(code),
    timers: hostTimers,
    resourceKind: bunResourceKind,
    underTestRunner: () => process.env.NODE_ENV === "test", // `bun test` sets it
    fileUrl: (path) => pathToFileURL(path).href,
    child: {
      trapExit(onExit) {
        process.exit = (code?: number) => onExit(code ?? 0);
      },
      watchParent(parentPid) {
        // process.exit in a worker ends only the worker: signal this process.
        startWatchdog(
          `const parent = ${parentPid};
        setInterval(() => { if (process.ppid !== parent) process.kill(process.pid, "SIGKILL"); }, ${WATCHDOG_POLL_MS});`,
        );
      },
      onUncaught(handler) {
        process.on("uncaughtException", handler);
        process.on("unhandledRejection", handler);
      },
      readBootstrap: () => g.Bun.stdin.text(),
      isolateTestRunner() {
        // Under Bun, test() outside `bun test` throws. The builtin test modules
        // cannot be replaced by a plugin, but their export objects can be
        // changed: make every export an inert function before user code runs.
        const require = createRequire(import.meta.url);
        const inert: unknown = new Proxy(function () {}, {
          get: (_target, key) => (key === "then" ? undefined : inert),
          apply: () => undefined,
        });
        for (const name of ["node:test", "bun:test"]) {
          const exports = require(name) as Record<string, unknown>;
          for (const key of Object.keys(exports)) {
            try {
              exports[key] = inert;
            } catch {
              // read-only export: left as is
            }
          }
        }
      },
    },
    env,
    writeStderr(text) {
      fs.writeSync(2, text);
    },
  };
}
