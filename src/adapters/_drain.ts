/**
 * What the socket adapters share about writing: the writers waiting for a
 * byte stream's unsent bytes to fall to a limit (`ByteStream.drained`), and
 * how pending chunks are cut into writes.
 *
 * @module
 */

import { concatBytes } from "../core/_util.ts";

/** Pending writes smaller than this together are sent as one buffer. */
const JOIN_BELOW = 64 * 1024;

/**
 * The next write from `chunks[from..]`: small chunks joined into one
 * buffer (one system call for a burst of small messages), a large one
 * alone (never copied); `end` is the index after the chunks it holds.
 */
export function nextWrite(chunks: Uint8Array[], from: number): { data: Uint8Array; end: number } {
  let end = from;
  let size = 0;
  while (end < chunks.length && (end === from || size + chunks[end].byteLength <= JOIN_BELOW)) {
    size += chunks[end++].byteLength;
  }
  return { data: end - from > 1 ? concatBytes(chunks.slice(from, end)) : chunks[from], end };
}

/** The writers waiting on one stream, each until `buffered <= limit` or the stream closes. */
export class DrainWaiters {
  #waiting: { limit: number; resolve: () => void }[] = [];

  /** How many writers wait. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Resolves once `buffered()` is at most `limit`, or `closed()`. */
  wait(limit: number, buffered: number, closed: boolean): Promise<void> {
    if (closed || buffered <= limit) return Promise.resolve();
    return new Promise<void>((resolve) => this.#waiting.push({ limit, resolve }));
  }

  /** Wakes the writers whose limit `buffered` now meets (all of them once `closed`). */
  wake(buffered: number, closed: boolean): void {
    if (this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) {
      if (closed || buffered <= w.limit) w.resolve();
      else this.#waiting.push(w);
    }
  }
}
