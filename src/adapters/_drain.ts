/**
 * Writers waiting for a byte stream's unsent bytes to fall to a limit
 * (`ByteStream.drained`), shared by the socket adapters.
 *
 * @module
 */

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
