/**
 * A worker that posts a message as soon as it runs and does nothing else
 * (the Web Worker start floor's peer: what a new isolate costs).
 *
 * @module
 */

(globalThis as unknown as { postMessage(value: unknown): void }).postMessage("up");
