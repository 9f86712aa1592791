/**
 * The "worker" start method through the Web `Worker`: on Bun (fast to
 * start, with `ref`/`unref` and the exit code on its `close` event), and in
 * a web page, whose workers have no `close` event: there a worker says
 * itself that it exits (a message with its code, after the lines it
 * printed when it has no output ring), and a terminated worker is known to
 * be gone once the Web Lock it held since its start is free.
 *
 * @module
 */

import type { ChildHandle, Launcher } from "../core/host.ts";
import type { BrokerGrant } from "./message_port.ts";
import { WORKER_ENTRY } from "./_entries.ts";
import { exitLatch } from "./_settle.ts";
import { drainOutput, isForwardedOutput, writeOutput } from "./_browser_output.ts";

/** How a page's host starts its Web Workers (Bun's needs none of it). */
export interface PageWorkerOptions {
  /** The child's entry module (src/child/web_worker_main.ts, or its bundled `worker.js`). */
  entry: URL;
  /** Whether parent and child share `SharedArrayBuffer`s (a cross-origin-isolated page). */
  sharedMemory: boolean;
  /** More fields of the start message: the page's pid and output ring. */
  start: Record<string, unknown>;
}

/** The message a page's worker posts when it exits (see browser_host.ts). */
export interface ExitMessage {
  readonly "@procs/exit": number;
}

/** How long a killed worker's lock may take to come free before it counts as gone anyway. */
const LOCK_WAIT_MS = 5_000;

interface LockManager {
  request(name: string, callback: () => Promise<void> | void): Promise<void>;
}

interface RefWorker extends Worker {
  ref?(): void;
  unref?(): void;
}

function exitCode(data: unknown): number | null {
  if (typeof data !== "object" || data === null || !("@procs/exit" in data)) return null;
  return Number((data as ExitMessage)["@procs/exit"]);
}

/** Resolves once the lock `name` is free (its holder ended), or after a while. */
function lockFree(name: string): Promise<void> {
  const locks = (navigator as unknown as { locks?: LockManager }).locks;
  if (!locks) return Promise.resolve();
  return Promise.race([
    locks.request(name, () => {}),
    new Promise<void>((resolve) => setTimeout(resolve, LOCK_WAIT_MS)),
  ]);
}

/**
 * Starts children as Web Workers; with `broker`, each joins the
 * `MessagePort` hub (see src/adapters/message_port.ts). `page` is set for a
 * web page's workers.
 */
export function webWorkerLauncher(
  pid: number,
  broker?: () => BrokerGrant & { gone(): void },
  page?: PageWorkerOptions,
): Launcher {
  return {
    capabilities: { osProcess: false, sharedMemory: page?.sharedMemory ?? true },
    launch({ bootstrap, shared = [] }): ChildHandle {
      const worker: RefWorker = new Worker(page?.entry ?? WORKER_ENTRY, { type: "module" });
      const latch = exitLatch();
      const grant = broker?.();
      let over = false;
      const ended = (code: number) => {
        if (over) return;
        over = true;
        drainOutput(); // what it printed comes before its parent learns that it ended
        latch.settle({ code });
        grant?.gone();
      };
      const lock = page ? `@procs/multiprocessing/worker/${crypto.randomUUID()}` : null;
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        if (!page) return latch.settle({ code: 1 });
        // Its module failed to load, or an error escaped the child's own handlers.
        worker.terminate();
        ended(1);
      });
      worker.addEventListener("close", (event) => {
        ended((event as unknown as { code?: number }).code ?? 0);
      });
      if (page) {
        worker.addEventListener("message", (event) => {
          const data = (event as MessageEvent).data;
          if (isForwardedOutput(data)) return writeOutput(...data["@procs/output"]);
          const code = exitCode(data);
          if (code !== null) ended(code);
        });
      }
      const start = { bootstrap, shared, ...page?.start, lock };
      if (grant) {
        const { port, hub, agent } = grant;
        worker.postMessage({ ...start, broker: { port, hub, agent } }, [port]);
      } else worker.postMessage(start);
      return {
        pid,
        exited: latch.exited,
        kill(signal) {
          const code = signal === "SIGKILL" ? -9 : -15;
          worker.terminate();
          if (!page) return latch.settle({ code });
          // A browser ends a terminated worker a little later: it has ended
          // (and runs no more) once the lock it held is free.
          lockFree(lock!).then(() => ended(code));
        },
        ref: () => worker.ref?.(),
        unref: () => worker.unref?.(),
      };
    },
  };
}
