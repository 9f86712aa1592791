/**
 * The entry a "worker" child starts from. Its bootstrap line and shared
 * memory come as `workerData` (a `node:worker_threads` worker) or as the
 * first message (a Web Worker).
 *
 * @module
 */

import { workerData } from "node:worker_threads";
import { installRuntime } from "../install.ts";
import { runChild } from "../core/_child.ts";

interface WorkerStart {
  bootstrap: string;
  shared: SharedArrayBuffer[];
}

installRuntime();
const start: WorkerStart = workerData ?? await new Promise<WorkerStart>((resolve) => {
  const scope = globalThis as unknown as { onmessage: ((event: MessageEvent) => void) | null };
  scope.onmessage = (event) => {
    scope.onmessage = null;
    resolve(event.data as WorkerStart);
  };
});
await runChild(start.bootstrap, start.shared);
