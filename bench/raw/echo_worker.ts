/**
 * A worker that posts every message it receives straight back (the
 * postMessage floor's peer).
 *
 * @module
 */

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(value: unknown): void;
};
scope.onmessage = (event) => scope.postMessage(event.data);
