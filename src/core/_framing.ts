/**
 * Length-prefixed frames over a byte stream: a 4-byte big-endian length,
 * then that many bytes. Frames arrive whole and in order.
 *
 * @module
 */

/** Frames no larger than this are accepted unless a reader says otherwise (1 GiB). */
export const MAX_FRAME = 1 << 30;

/** Prefixes `payload` with its length. */
export function frame(payload: Uint8Array): Uint8Array {
  const n = payload.byteLength;
  const out = new Uint8Array(4 + n);
  out[0] = n >>> 24;
  out[1] = n >>> 16;
  out[2] = n >>> 8;
  out[3] = n;
  out.set(payload, 4);
  return out;
}

/** Cuts a stream of chunks into frames; throws on a frame above `maxFrame`. */
export class FrameReader {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** The largest frame accepted; a larger announced length is an error. */
  maxFrame: number;

  constructor(maxFrame: number = MAX_FRAME) {
    this.maxFrame = maxFrame;
  }

  /** Adds a chunk and returns every frame it completed. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    const frames: Uint8Array[] = [];
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const length = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
      if (length > this.maxFrame) {
        throw new RangeError(
          `Frame of ${length} bytes is larger than the ${this.maxFrame} allowed`,
        );
      }
      if (this.#buffered < 4 + length) break;
      this.#take(4);
      frames.push(this.#take(length));
    }
    return frames;
  }

  /** Bytes received that do not yet form a whole frame. */
  get pending(): number {
    return this.#buffered;
  }

  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.byteLength >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (const c of this.#chunks) {
      const part = c.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.byteLength;
      if (filled === n) break;
    }
    return out;
  }

  #take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first.byteLength > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.byteLength === n) {
      this.#chunks.shift();
      return first;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      const part = c.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.byteLength;
      if (part.byteLength === c.byteLength) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(part.byteLength);
    }
    return out;
  }
}
