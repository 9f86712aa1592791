/**
 * The parent watchdog of a "spawn" child: a Web Worker made from a few lines
 * of source (no module to load), so it costs a thread and little start-up.
 * A child notices its parent's death on its main thread only while that
 * thread's event loop turns (the parent's socket closes); the watchdog
 * covers a child whose main thread is busy.
 *
 * @module
 */

/** How often the watchdog checks its parent, in milliseconds. */
export const WATCHDOG_POLL_MS = 200;

interface RefWorker extends Worker {
  unref?(): void;
}

/** Starts a worker running `source`; it never keeps the program alive where that can be said. */
export function startWatchdog(source: string): void {
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const worker: RefWorker = new Worker(url, { type: "module", name: "procs-mp-watchdog" });
  worker.unref?.();
}
