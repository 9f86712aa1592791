/**
 * A worker that loads the library's module graph, then posts a message (the
 * Web Worker start floor's peer: what a new isolate that imports `mod.ts`
 * costs, before the library does anything).
 *
 * @module
 */

import "../../mod.ts";

(globalThis as unknown as { postMessage(value: unknown): void }).postMessage("up");
