/**
 * The entry a "worker" child starts from. Its bootstrap line and shared
 * memory come as `workerData` (a `node:worker_threads` worker, on Deno) or
 * as the first message (a Web Worker, on Bun). The message listener is set
 * before anything else is imported, so the first message is never missed.
 *
 * This module has no top-level `await`: a Deno worker whose entry module is
 * still evaluating (a pending top-level `await`) when it ends never frees its
 * runtime (an eventpoll, an eventfd and ~1.3 MiB for every worker, measured
 * on Deno 2.9.6). The child runs from a promise chain instead, so the entry
 * has finished evaluating long before the child exits.
 *
 * @module
 */

import { parentPort, workerData } from "node:worker_threads";
import { LOCK, LOCK_STATE, RELEASE_LOCK } from "../adapters/node_worker.ts";
import type { BrokerGrant } from "../adapters/message_port.ts";

interface WorkerStart {
  bootstrap: string;
  shared: SharedArrayBuffer[];
  /** A node worker's control cell (see src/adapters/node_worker.ts). */
  control?: SharedArrayBuffer;
  /** The worker's way to the `MessagePort` hub, when the tree uses it (see src/adapters/message_port.ts). */
  broker?: BrokerGrant;
}

interface LockManager {
  request(name: string, callback: () => Promise<void>): Promise<void>;
}

/**
 * Holds a Web Lock for the life of the worker, unless the parent asks it to
 * let go: on Deno, terminating a `node:worker_threads` worker that holds a
 * lock also interrupts its isolate, which stops a worker in a loop that never
 * returns to its event loop (see src/adapters/node_worker.ts).
 */
function holdTerminationLock(control: Int32Array): Promise<void> {
  const locks = (navigator as unknown as { locks?: LockManager }).locks;
  if (!locks || !parentPort) return Promise.resolve();
  // Barred: the parent terminated this worker before it asked for the lock.
  if (Atomics.compareExchange(control, LOCK_STATE, LOCK.NONE, LOCK.HELD) !== LOCK.NONE) {
    return Promise.resolve();
  }
  const port = parentPort;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const granted = new Promise<void>((resolve) => {
    locks.request(`@procs/multiprocessing/worker/${crypto.randomUUID()}`, () => {
      resolve();
      return held;
    }).then(() => {
      Atomics.store(control, LOCK_STATE, LOCK.RELEASED);
      Atomics.notify(control, LOCK_STATE);
    }, () => resolve());
  });
  port.on("message", (message: unknown) => {
    if (message === RELEASE_LOCK) release();
  });
  port.unref(); // the port must not keep the worker alive
  return granted;
}

const start: Promise<WorkerStart> = workerData
  ? Promise.resolve(workerData)
  : new Promise((resolve) => {
    const scope = globalThis as unknown as { onmessage: ((event: MessageEvent) => void) | null };
    scope.onmessage = (event) => {
      scope.onmessage = null;
      resolve(event.data as WorkerStart);
    };
  });

// Only a `node:worker_threads` worker (workerData set) takes the lock: a Web
// Worker's terminate() stops a busy isolate on Bun, and on Deno a lock does
// not reach a Web Worker.
const control = (workerData as WorkerStart | undefined)?.control;
const armed = control ? holdTerminationLock(new Int32Array(control)) : Promise.resolve();

(async () => {
  await armed;
  const { bootstrap, shared, broker } = await start;
  // The MessagePort transport is loaded only by a tree that uses it.
  if (broker) (await import("../adapters/message_port.ts")).joinHub(broker);
  await import("../install.ts");
  const { runChild } = await import("../core/_child.ts");
  await runChild(bootstrap, shared);
})();
