/**
 * The "worker" start method through `node:worker_threads`, used on Deno: its
 * workers report their exit code and can be unref'd, so a daemon worker does
 * not keep the program alive (a Deno Web Worker can be neither).
 *
 * @module
 */

import type { ChildHandle, Launcher } from "./types.ts";
import { WORKER_ENTRY } from "./_entries.ts";
import { exitLatch } from "./_settle.ts";
import { nodeBuiltin } from "./_builtin.ts";

/** Starts children as `node:worker_threads` workers. */
export function nodeWorkerLauncher(pid: number): Launcher {
  return {
    capabilities: { osProcess: false, sharedMemory: true },
    launch({ bootstrap, shared = [] }): ChildHandle {
      // Loaded on first use (with `process`, ~14 ms on Deno): a child that
      // starts no workers never pays for it.
      const { Worker } = nodeBuiltin<typeof import("node:worker_threads")>(
        "node:worker_threads",
      );
      const worker = new Worker(WORKER_ENTRY, { workerData: { bootstrap, shared } });
      const { exited, settle } = exitLatch();
      worker.on("error", () => {}); // the child reports its own errors
      worker.on("exit", (code: number) => settle({ code }));
      return {
        pid,
        exited,
        kill(signal) {
          settle({ code: signal === "SIGKILL" ? -9 : -15 });
          worker.terminate();
        },
        ref: () => worker.ref(),
        unref: () => worker.unref(),
      };
    },
  };
}
