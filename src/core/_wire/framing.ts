/**
 * Length-prefixed frames over a byte stream: a 4-byte big-endian length,
 * then that many bytes. Frames arrive whole and in order.
 *
 * @module
 */

/** Frames no larger than this are accepted unless a reader says otherwise (1 GiB). */
export const MAX_FRAME = 1 << 30;

/** Writes a frame's header (`n`, 4 bytes big-endian) at the start of `out`. */
export function writeHeader(out: Uint8Array, n: number): void {
  out[0] = n >>> 24;
  out[1] = n >>> 16;
  out[2] = n >>> 8;
  out[3] = n;
}

/** Prefixes `payload` with its length. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.byteLength);
  writeHeader(out, payload.byteLength);
  out.set(payload, 4);
  return out;
}

/** Frees a chunk's memory at once where the runtime can (`ArrayBuffer.prototype.transfer`). */
function release(chunk: Uint8Array): void {
  // A SharedArrayBuffer has no `transfer` (and a page that is not
  // cross-origin isolated has no SharedArrayBuffer to test against).
  const buffer = chunk.buffer as ArrayBuffer & { transfer?: (n: number) => ArrayBuffer };
  if (
    typeof buffer.transfer === "function" && chunk.byteOffset === 0 &&
    chunk.byteLength === buffer.byteLength
  ) {
    try {
      buffer.transfer(0);
    } catch {
      // not transferable: left to the garbage collector
    }
  }
}

/**
 * A frame at least this long, of which at least {@linkcode ASSEMBLE_AFTER}
 * bytes have come, is gathered into one buffer of its own as it arrives.
 */
const ASSEMBLE_AT = 1024 * 1024;
/** See {@linkcode ASSEMBLE_AT}. */
const ASSEMBLE_AFTER = 64 * 1024;

/**
 * Cuts a stream of chunks into frames; throws on a frame above `maxFrame`.
 *
 * A large frame is gathered as it arrives into a buffer of its announced
 * length, each chunk freed once copied: the runtime's allocator then holds
 * one block it hands back to the system as soon as the frame is dropped
 * (see {@linkcode FrameReader.clear}), rather than hundreds of chunks
 * scattered through its heap, which it may keep long after they are freed.
 */
export class FrameReader {
  /** The large frame being gathered, and how much of it has come. */
  #assembling: Uint8Array | null = null;
  #filled = 0;
  #chunks: Uint8Array[] = [];
  /** Where the unread bytes of the first chunk start (no re-slicing per frame). */
  #offset = 0;
  #buffered = 0;
  /** The largest frame accepted; a larger announced length is an error. */
  maxFrame: number;
  /** Frames still to cut before holding the rest unread (-1: never hold). */
  #holdAfter = -1;

  constructor(maxFrame: number = MAX_FRAME) {
    this.maxFrame = maxFrame;
  }

  /** Adds a chunk and returns every frame it completed. */
  push(chunk: Uint8Array): Uint8Array[] {
    const assembling = this.#assembling;
    if (assembling !== null) {
      const need = assembling.byteLength - this.#filled;
      if (chunk.byteLength < need) {
        assembling.set(chunk, this.#filled);
        this.#filled += chunk.byteLength;
        release(chunk);
        return [];
      }
      assembling.set(chunk.subarray(0, need), this.#filled);
      this.#assembling = null;
      this.#filled = 0;
      if (this.#holdAfter > 0) this.#holdAfter--;
      if (chunk.byteLength === need) {
        release(chunk);
        return [assembling];
      }
      this.#chunks.push(chunk.subarray(need));
      this.#buffered += chunk.byteLength - need;
      return [assembling, ...this.#cut()];
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    return this.#cut();
  }

  /**
   * Cuts `n` more frames, then holds what follows uncut (and unchecked)
   * until {@linkcode FrameReader.resume}: the last frame of a challenge
   * may be followed at once by messages that only its end may allow.
   */
  holdAfter(n: number): void {
    this.#holdAfter = n;
  }

  /** Stops holding; returns the frames that were held. */
  resume(): Uint8Array[] {
    this.#holdAfter = -1;
    return this.#cut();
  }

  #cut(): Uint8Array[] {
    const frames: Uint8Array[] = [];
    while (this.#buffered >= 4 && this.#holdAfter !== 0) {
      const length = this.#header();
      if (length > this.maxFrame) {
        throw new RangeError(
          `Frame of ${length} bytes is larger than the ${this.maxFrame} allowed`,
        );
      }
      if (this.#buffered < 4 + length) {
        if (length >= ASSEMBLE_AT && this.#buffered - 4 >= ASSEMBLE_AFTER) this.#assemble(length);
        break;
      }
      this.#advance(4); // the header
      frames.push(this.#take(length));
      if (this.#holdAfter > 0) this.#holdAfter--;
    }
    return frames;
  }

  /** Starts gathering the next frame, of `length` bytes, with what has come of it. */
  #assemble(length: number): void {
    this.#advance(4); // the header
    const assembling = new Uint8Array(length);
    const chunks = this.#chunks;
    let filled = 0;
    for (let i = 0; i < chunks.length; i++) {
      const part = i === 0 ? chunks[0].subarray(this.#offset) : chunks[i];
      assembling.set(part, filled);
      filled += part.byteLength;
    }
    this.#dropChunks();
    this.#assembling = assembling;
    this.#filled = filled;
  }

  /**
   * Drops what was received of an unfinished frame (its connection closed).
   * Chunks no frame handed out shares are detached, which frees their
   * memory now rather than at the next garbage collection: a peer that
   * sent 200 MB of a frame and left must not keep them for a quiet server.
   */
  clear(): void {
    if (this.#assembling !== null) release(this.#assembling);
    this.#assembling = null;
    this.#filled = 0;
    this.#dropChunks();
  }

  /** Forgets the chunks held, freeing those no frame handed out shares. */
  #dropChunks(): void {
    const chunks = this.#chunks;
    this.#chunks = [];
    // The first chunk may still back a frame handed out before (a subarray).
    for (let i = this.#offset > 0 ? 1 : 0; i < chunks.length; i++) release(chunks[i]);
    this.#offset = 0;
    this.#buffered = 0;
  }

  /** Bytes received that do not yet form a whole frame. */
  get pending(): number {
    return this.#buffered + this.#filled;
  }

  /** The next frame's length (big-endian u32), which may straddle chunks. */
  #header(): number {
    let length = 0;
    let chunk = 0;
    let at = this.#offset;
    for (let i = 0; i < 4; i++) {
      while (at >= this.#chunks[chunk].byteLength) {
        chunk++;
        at = 0;
      }
      length = length * 256 + this.#chunks[chunk][at++];
    }
    return length;
  }

  /** Drops the first chunk once it is read through. */
  #advance(n: number): void {
    this.#buffered -= n;
    this.#offset += n;
    let done = 0;
    while (done < this.#chunks.length && this.#offset >= this.#chunks[done].byteLength) {
      this.#offset -= this.#chunks[done].byteLength;
      done++;
    }
    if (done === 1) this.#chunks.shift();
    else if (done > 1) this.#chunks.splice(0, done);
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    const at = this.#offset;
    if (first.byteLength - at >= n) {
      const frame = at === 0 && n === first.byteLength ? first : first.subarray(at, at + n);
      this.#advance(n);
      return frame;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    let chunk = 0;
    let from = at;
    while (filled < n) {
      const c = this.#chunks[chunk];
      const part = Math.min(c.byteLength - from, n - filled);
      out.set(c.subarray(from, from + part), filled);
      filled += part;
      chunk++;
      from = 0;
    }
    this.#advance(n);
    return out;
  }
}
