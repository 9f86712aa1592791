/**
 * The entry a "worker" child starts from. Its bootstrap line and shared
 * memory come as `workerData` (a `node:worker_threads` worker, on Deno) or
 * as the first message (a Web Worker, on Bun). The message listener is set
 * before anything else is imported, so the first message is never missed.
 *
 * @module
 */

import { workerData } from "node:worker_threads";

interface WorkerStart {
  bootstrap: string;
  shared: SharedArrayBuffer[];
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

await import("../install.ts");
const { runChild } = await import("../core/_child.ts");
const { bootstrap, shared } = await start;
await runChild(bootstrap, shared);
