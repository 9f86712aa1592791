/**
 * The "worker" start method through the Web `Worker`, used on Bun (fast to
 * start, with `ref`/`unref` and the exit code on its `close` event).
 *
 * @module
 */

import type { ChildHandle, Launcher } from "../core/host.ts";
import type { BrokerGrant } from "./message_port.ts";
import { WORKER_ENTRY } from "./_entries.ts";
import { exitLatch } from "./_settle.ts";

interface RefWorker extends Worker {
  ref?(): void;
  unref?(): void;
}

/**
 * Starts children as Web Workers; with `broker`, each joins the
 * `MessagePort` hub (see src/adapters/message_port.ts).
 */
export function webWorkerLauncher(
  pid: number,
  broker?: () => BrokerGrant & { gone(): void },
): Launcher {
  return {
    capabilities: { osProcess: false, sharedMemory: true },
    launch({ bootstrap, shared = [] }): ChildHandle {
      const worker: RefWorker = new Worker(WORKER_ENTRY, { type: "module" });
      const { exited, settle } = exitLatch();
      const grant = broker?.();
      worker.addEventListener("error", (event) => {
        event.preventDefault();
        settle({ code: 1 });
      });
      worker.addEventListener("close", (event) => {
        settle({ code: (event as unknown as { code?: number }).code ?? 0 });
        grant?.gone();
      });
      if (grant) {
        const { port, hub, agent } = grant;
        worker.postMessage({ bootstrap, shared, broker: { port, hub, agent } }, [port]);
      } else worker.postMessage({ bootstrap, shared });
      return {
        pid,
        exited,
        kill(signal) {
          settle({ code: signal === "SIGKILL" ? -9 : -15 });
          worker.terminate();
        },
        ref: () => worker.ref?.(),
        unref: () => worker.unref?.(),
      };
    },
  };
}
