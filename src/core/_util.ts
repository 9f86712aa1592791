import { getHost, type TimerHandle } from "./host.ts";
import { RuntimeError } from "./errors.ts";

/** Random hex id, for tickets, pipes and child tokens. */
export function randomId(bytes = 12): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** The bytes of `chunks` in order, in one array (the chunk itself when there is only one). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let size = 0;
  for (const c of chunks) size += c.byteLength;
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

/** Bytes to hex. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const x of bytes) s += x.toString(16).padStart(2, "0");
  return s;
}

/** Hex to bytes. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Resolves after `ms` milliseconds; with `unref` the timer does not keep the program alive. */
export function sleep(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const timer = getHost().timers.setTimeout(resolve, ms);
    if (unref) timer.unref();
  });
}

/** Runs `callback` after `ms` without keeping the program alive; returns a canceller. */
export function unrefTimeout(callback: () => void, ms: number): () => void {
  const timer = getHost().timers.setTimeout(callback, ms);
  timer.unref();
  return () => timer.clear();
}

/** A promise with its resolve and reject exposed. */
export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The one check of a timeout argument: a number of milliseconds (not NaN),
 * or null/undefined for none. `what` names the call (`"join()"`) in the
 * message.
 */
export function checkTimeout(timeout: unknown, what?: string): void {
  if (timeout === undefined || timeout === null) return;
  if (typeof timeout !== "number" || Number.isNaN(timeout)) {
    throw new TypeError(
      `${what ? `${what} timeout` : "timeout"} must be a number of milliseconds or null: received ${
        String(timeout)
      }`,
    );
  }
}

let holds = 0;
let keeper: TimerHandle | null = null;

/**
 * Keeps the program alive until the returned function is called, as a
 * blocking call keeps a Python program alive: a pending `join()`, `recv()`
 * or pool result must not let the event loop end underneath it.
 */
export function holdAlive(): () => void {
  if (holds++ === 0) {
    keeper ??= getHost().timers.setInterval(() => {}, 1 << 30);
    keeper.ref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holds === 0) keeper?.unref();
  };
}

/**
 * New shared memory for a lock's, an event's or a queue's state. A web page
 * that is not cross-origin isolated has no `SharedArrayBuffer`: say so, and
 * how to make one that has.
 */
export function sharedMemory(
  bytes: number,
  options?: { maxByteLength: number },
): SharedArrayBuffer {
  if (typeof SharedArrayBuffer !== "function") {
    throw new RuntimeError(
      "This needs SharedArrayBuffer, which a web page has only when it is cross-origin isolated: " +
        "serve it with the headers 'Cross-Origin-Opener-Policy: same-origin' and " +
        "'Cross-Origin-Embedder-Policy: require-corp', or register a service worker that adds them " +
        "(see @procs/multiprocessing/browser)",
    );
  }
  return new SharedArrayBuffer(bytes, options);
}
