/**
 * The entry a "worker" child starts from. Its bootstrap line comes as
 * `workerData` (a `node:worker_threads` worker) or as the first message
 * (a Web Worker).
 *
 * @module
 */

import { workerData } from "node:worker_threads";
import { installRuntime } from "../install.ts";
import { runChild } from "../core/_child.ts";

installRuntime();
const bootstrap = typeof workerData === "string"
  ? workerData
  : await new Promise<string>((resolve) => {
    const scope = globalThis as unknown as { onmessage: ((event: MessageEvent) => void) | null };
    scope.onmessage = (event) => {
      scope.onmessage = null;
      resolve(event.data as string);
    };
  });
await runChild(bootstrap);
