/**
 * The "worker" start method through `node:worker_threads`, used on Deno: its
 * workers report their exit code and can be unref'd, so a daemon worker does
 * not keep the program alive (a Deno Web Worker can be neither), and they
 * can be stopped in a loop that never returns to the event loop (a Deno Web
 * Worker cannot: its `terminate()` only wakes the event loop, and measured on
 * Deno 2.9.6 a busy one runs on for good).
 *
 * How a busy worker is stopped: Deno's `terminate()` of a `node:worker_threads`
 * worker that holds a Web Lock also calls V8's `TerminateExecution` on its
 * isolate, which interrupts a running loop and a blocked `Atomics.wait`. So
 * the child holds a lock of its own (see src/child/worker_main.ts). That
 * interrupt must not land while the worker instantiates one of Deno's
 * built-in modules (a `node:` module loaded on first use): Deno panics
 * there and the whole program dies. So `kill()` first asks the worker, over
 * its message port, to let go of the lock; a worker whose event loop turns
 * (starting up, idle, awaiting) does so at once and ends the ordinary way.
 * Only a worker that has not answered within {@linkcode BUSY_GRACE_MS} (one
 * that never returns to its event loop) is terminated still holding it.
 *
 * @module
 */

import type { ChildHandle, Launcher } from "../core/host.ts";
import type { BrokerGrant } from "./message_port.ts";
import { WORKER_ENTRY } from "./_entries.ts";
import { exitLatch } from "./_settle.ts";
import { nodeBuiltin } from "./_builtin.ts";

/** Milliseconds a worker has to let go of its lock before it is interrupted wherever it is. */
export const BUSY_GRACE_MS = 200;

/**
 * The states of the control cell a node worker shares with its parent
 * (one `Int32Array` cell, written with `Atomics`).
 */
export const LOCK = {
  /** The worker has not asked for its lock yet. */
  NONE: 0,
  /** The worker asked for its lock, or holds it. */
  HELD: 1,
  /** The worker let go of its lock: terminating it only wakes its event loop. */
  RELEASED: 2,
  /** The parent terminated it before it asked: it must not take the lock. */
  BARRED: 3,
} as const;

/** The index of the lock state (one of {@linkcode LOCK}) in the control cell. */
export const LOCK_STATE = 0;

/** The message that asks a worker to let go of its lock. */
export const RELEASE_LOCK = "@procs/multiprocessing:release-lock";

/**
 * Starts children as `node:worker_threads` workers; with `broker`, each
 * joins the `MessagePort` hub (see src/adapters/message_port.ts).
 */
export function nodeWorkerLauncher(
  pid: number,
  broker?: () => BrokerGrant & { gone(): void },
): Launcher {
  return {
    capabilities: { osProcess: false, sharedMemory: true },
    launch({ bootstrap, shared = [] }): ChildHandle {
      // Loaded on first use (with `process`, ~14 ms on Deno): a child that
      // starts no workers never pays for it.
      const { Worker } = nodeBuiltin<typeof import("node:worker_threads")>(
        "node:worker_threads",
      );
      const control = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
      const grant = broker?.();
      let worker: InstanceType<typeof Worker>;
      try {
        worker = new Worker(WORKER_ENTRY, {
          workerData: {
            bootstrap,
            shared,
            control: control.buffer,
            broker: grant && { port: grant.port, hub: grant.hub, agent: grant.agent },
          },
          transferList: grant ? [grant.port as never] : [],
        });
      } catch (error) {
        grant?.gone(); // the hub forgets a worker that never started
        throw error;
      }
      const { exited, settle } = exitLatch();
      let ended = false;
      worker.on("error", () => {}); // the child reports its own errors
      worker.on("exit", (code: number) => {
        ended = true;
        settle({ code });
        // No grant.gone() here: Deno fires "exit" when terminate() is called,
        // before a busy worker has stopped; the hub learns the worker ended
        // from its broker port's "close" event, fired once its runtime is gone.
      });
      let stopping = false;
      const stop = async () => {
        if (stopping || ended) return;
        stopping = true;
        // Bar a worker that has not asked for its lock yet; else ask it to let go.
        if (Atomics.compareExchange(control, LOCK_STATE, LOCK.NONE, LOCK.BARRED) !== LOCK.NONE) {
          worker.postMessage(RELEASE_LOCK);
          const wait = Atomics.waitAsync(control, LOCK_STATE, LOCK.HELD, BUSY_GRACE_MS);
          // Deno's waitAsync does not keep the program alive: a ref'd timer does.
          const keep = setTimeout(() => {}, BUSY_GRACE_MS + 50);
          try {
            if (wait.async) await wait.value;
          } finally {
            clearTimeout(keep);
          }
        }
        worker.terminate();
      };
      return {
        pid,
        exited,
        kill(signal) {
          settle({ code: signal === "SIGKILL" ? -9 : -15 });
          void stop();
        },
        ref: () => worker.ref(),
        unref: () => worker.unref(),
      };
    },
  };
}
