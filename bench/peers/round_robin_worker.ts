/**
 * The hand-written pool's worker: answers `[id, x]` with `[id, x * x]`, or a
 * batch `[id, x, id, x, …]` with `[id, x * x, …]`.
 *
 * @module
 */

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(value: unknown): void;
};
scope.onmessage = (event) => {
  const tasks = event.data as number[];
  const out = new Array(tasks.length);
  for (let i = 0; i < tasks.length; i += 2) {
    out[i] = tasks[i];
    out[i + 1] = tasks[i + 1] * tasks[i + 1];
  }
  scope.postMessage(out);
};
