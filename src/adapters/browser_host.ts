/**
 * The web page host: children are module Web Workers (the `"worker"` start
 * method), the tree's streams go through `MessagePort`s and, in a
 * cross-origin-isolated page, shared-memory rings (see message_port.ts).
 * A page has no OS processes, no sockets, no files and no signals: the
 * `"spawn"` start method and the socket transport fail with errors that
 * say what to use instead, and `terminate()` / `kill()` end the worker.
 *
 * The thread that loads the library without having been started by it
 * (the page, or a worker the page made itself) is the tree's root: it has
 * a made-up pid (a page has none), which its workers share as threads of
 * a process do, and it receives what every worker prints
 * (_browser_output.ts).
 *
 * @module
 */

import type { Host, Launcher, SocketTransport } from "../core/host.ts";
import { OSError, ValueError } from "../core/errors.ts";
import { treeTransports } from "./_tree_transports.ts";
import { webTimers } from "./_ring_stream.ts";
import { webWorkerLauncher } from "./web_worker.ts";
import { WEB_WORKER_ENTRY } from "./_entries.ts";
import { newOutputRing, setUpOutput, writeOutput } from "./_browser_output.ts";

/** What a worker of the page's tree is handed at start (see src/child/web_worker_main.ts). */
export interface PageInfo {
  /** The tree's made-up process id. */
  readonly pid: number;
  /** The ring the tree's output goes through, or null without shared memory. */
  readonly output: SharedArrayBuffer | null;
}

/** Where a worker's entry leaves its {@linkcode PageInfo} before the host is made. */
export const PAGE_INFO: unique symbol = Symbol.for("@procs/multiprocessing/page");

const NO_SOCKETS =
  "a web page cannot open sockets: Listener, Client and a manager at an address need Deno or Bun " +
  "(in a page, Pipe, Queue and Manager() connect the workers without them)";

/** The socket transport of a page: every use says why there is none. */
const noSockets: SocketTransport = {
  listenUnix: () => {
    throw new OSError(NO_SOCKETS);
  },
  connectUnix: () => Promise.reject(new OSError(NO_SOCKETS)),
  listenTcp: () => {
    throw new OSError(NO_SOCKETS);
  },
  connectTcp: () => Promise.reject(new OSError(NO_SOCKETS)),
};

const NO_PROCESSES = 'a web page cannot start OS processes: use the "worker" start method';

const noSpawn: Launcher = {
  capabilities: { osProcess: true, sharedMemory: false },
  unavailable: NO_PROCESSES,
  launch() {
    throw new ValueError(`The 'spawn' start method is not available here: ${NO_PROCESSES}`);
  },
};

function noDirectory(): never {
  throw new OSError("a web page has no files: its workers connect without sockets or directories");
}

/** Thrown by `exit()` in a worker to stop the code after it (the worker is closing). */
class WorkerExit extends Error {}

/** Builds the host of a page, or of one of its workers. */
export async function browserHost(): Promise<Host> {
  const scope = globalThis as unknown as {
    [PAGE_INFO]?: PageInfo;
    close?: () => void;
    postMessage?: (message: unknown) => void;
    addEventListener(type: string, listener: (event: Event) => void): void;
    location?: { href: string };
    crossOriginIsolated?: boolean;
  };
  const given = scope[PAGE_INFO];
  const root = given === undefined;
  const page: PageInfo = given ?? {
    pid: 1000 + Math.floor(Math.random() * 60000),
    output: newOutputRing(),
  };
  setUpOutput(page.output, root, (message) => scope.postMessage?.(message));
  const shared = typeof SharedArrayBuffer === "function" && scope.crossOriginIsolated === true;
  const tree = await treeTransports(
    () => undefined,
    shared ? "ring" : "message-port",
    null,
    noDirectory,
    webTimers,
    false,
  );
  const exitCallbacks: (() => void)[] = [];
  if (root) {
    scope.addEventListener("pagehide", () => {
      for (const callback of exitCallbacks.splice(0)) callback();
    });
  }
  return {
    runtime: `${userAgent()} (web page)`,
    pid: page.pid,
    transport: noSockets,
    transports: tree.transports,
    launchers: {
      spawn: noSpawn,
      worker: webWorkerLauncher(page.pid, tree.broker, {
        entry: WEB_WORKER_ENTRY,
        sharedMemory: shared,
        start: { page },
      }),
    },
    makePrivateDir: noDirectory,
    removePrivateDir() {},
    checkPermissions: () => null,
    onExit: (callback) => void exitCallbacks.push(callback),
    exit(code) {
      for (const callback of exitCallbacks.splice(0)) callback();
      if (!root) {
        // The parent's launcher settles the exit code from this message.
        scope.postMessage?.({ "@procs/exit": code });
        scope.close?.();
      }
      throw new WorkerExit(`exit(${code})`);
    },
    timers: webTimers,
    env: () => undefined,
    underTestRunner: () => false,
    fileUrl: (path) => new URL(path, scope.location?.href).href,
    child: {
      trapExit() {
        // A page has no process.exit to trap.
      },
      watchParent() {
        // A worker ends with its parent: the browser ends a terminated worker's workers.
      },
      onUncaught(handler) {
        scope.addEventListener("error", (event) => {
          const error = (event as ErrorEvent).error;
          event.preventDefault();
          if (!(error instanceof WorkerExit)) handler(error);
        });
        scope.addEventListener("unhandledrejection", (event) => {
          const reason = (event as PromiseRejectionEvent).reason;
          event.preventDefault();
          if (!(reason instanceof WorkerExit)) handler(reason);
        });
      },
      readBootstrap: () =>
        Promise.reject(new Error("a page's worker gets its bootstrap in its first message")),
      isolateTestRunner() {},
    },
    writeStderr: (text) => writeOutput("stderr", text.replace(/\n$/, "")),
    resourceKind: () => undefined,
  };
}

function userAgent(): string {
  const agent = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent ?? "";
  const match = /(Chrome|Firefox|Version)\/(\d+)/.exec(agent);
  if (!match) return "a browser";
  return `${match[1] === "Version" ? "Safari" : match[1] === "Chrome" ? "Chromium" : match[1]} ${
    match[2]
  }`;
}
