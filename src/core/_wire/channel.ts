/**
 * A channel: one authenticated connection between two processes of the
 * tree (or a manager and its client) over a host's byte stream. Every
 * connection runs the mutual HMAC challenge on the key before a single
 * message is decoded; frames during the challenge are capped at 256 bytes.
 * A bad frame closes that connection only. Messages are dispatched to the
 * handler registered for their operation ({@linkcode onMessage}); flow
 * control keeps what a writer queues bounded.
 *
 * @module
 */

import type { ByteStream } from "../host.ts";
import { decode, type EncodeContext, encodeFrameParts } from "./codec.ts";
import { frame, FrameReader, MAX_FRAME } from "./framing.ts";
import { clientHandshake, HANDSHAKE_MAX_FRAME, serverHandshake } from "./auth.ts";
import { AuthenticationError, OSError, ValueError } from "../errors.ts";
import { getHost } from "../host.ts";
import { concatBytes, unrefTimeout } from "../_util.ts";
import type { Message, Op } from "./protocol.ts";

/** The handler of messages of operation `K`. */
type Handler<K extends Op = Op> = (channel: Channel, message: Message<K>) => void;
const handlers = new Map<string, Handler>();

/** Registers the handler of one operation (declared in `protocol.ts`). */
export function onMessage<K extends Op>(op: K, handler: Handler<K>): void {
  handlers.set(op, handler as Handler);
}

/**
 * The largest message a connection accepts unless told otherwise: 256 MiB.
 * A frame announcing more closes that connection with an `OSError` naming
 * both sizes; a send above it is refused with a `ValueError` before
 * anything is written. The tree's own channels read their limit from the
 * environment variable `PROCS_MP_MAX_MESSAGE_SIZE` (bytes), which children
 * inherit; `Listener`, `Client` and managers take a `maxMessageSize` option.
 */
export const DEFAULT_MAX_MESSAGE_SIZE: number = 256 * 1024 * 1024;

/** The maximum message size of the tree's own channels (see {@linkcode DEFAULT_MAX_MESSAGE_SIZE}). */
export function treeMaxMessageSize(): number {
  const raw = getHost().env("PROCS_MP_MAX_MESSAGE_SIZE");
  if (raw === undefined || raw === "") return DEFAULT_MAX_MESSAGE_SIZE;
  return checkMaxMessageSize(Number(raw), "PROCS_MP_MAX_MESSAGE_SIZE");
}

/** Throws a `ValueError` when a message of `n` bytes is over `limit`. */
export function checkMessageSize(n: number, limit: number): void {
  if (n > limit) {
    throw new ValueError(
      `Cannot send a message of ${n} bytes: the limit is maxMessageSize ${limit} ` +
        `(raise it on both ends, or send the data in parts)`,
    );
  }
}

/** Checks a `maxMessageSize` option; returns it (or the default when undefined). */
export function checkMaxMessageSize(value: number | undefined, name = "maxMessageSize"): number {
  if (value === undefined) return DEFAULT_MAX_MESSAGE_SIZE;
  if (!Number.isInteger(value) || value < 1 || value > MAX_FRAME) {
    throw new RangeError(
      `${name} must be an integer from 1 to ${MAX_FRAME} bytes: received '${value}'`,
    );
  }
  return value;
}

/**
 * How long a peer has to prove the key on a public endpoint (a `Listener`
 * or a manager's address) before its connection is closed.
 */
export const HANDSHAKE_DEADLINE = 5_000;
/**
 * The same on the tree's own endpoint (a private unix socket only this user
 * can open), where the peers are our own children and siblings: long enough
 * for a child on a loaded machine whose parent is busy.
 */
export const TREE_HANDSHAKE_DEADLINE = 60_000;
/** Connections an endpoint lets run the challenge at once; a new one beyond it evicts the oldest. */
export const MAX_UNAUTHENTICATED = 256;
/** The same on the tree's own endpoint, where a large pool's children all connect at once. */
export const TREE_MAX_UNAUTHENTICATED = 4096;
/**
 * A writer waits (`await conn.send(...)`) while more than this many bytes
 * it wrote wait for the OS; a reader stops reading while more than this
 * many bytes it received wait to be read.
 */
export const HIGH_WATER = 1024 * 1024;

/**
 * The connections of one endpoint that have not finished the challenge:
 * at most `limit` at once (a new one evicts the oldest, so a flood of idle
 * peers cannot lock a legitimate client out), each closed after `deadline`.
 */
export class HandshakeGate {
  readonly #waiting = new Set<Channel>();
  constructor(
    readonly deadline: number = HANDSHAKE_DEADLINE,
    readonly limit: number = MAX_UNAUTHENTICATED,
  ) {}

  /** Connections still in the challenge. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Admits `channel`, evicting the oldest waiting connection when full; returns a release. */
  admit(channel: Channel): () => void {
    while (this.#waiting.size >= this.limit) {
      // The oldest peer that has sent nothing goes first: a legitimate
      // client answers the challenge at once, an idle flood never does.
      let victim: Channel | undefined;
      for (const c of this.#waiting) {
        if (!c.heardFrom) {
          victim = c;
          break;
        }
      }
      victim ??= this.#waiting.values().next().value!;
      this.#waiting.delete(victim);
      victim.destroy();
    }
    this.#waiting.add(channel);
    const cancel = unrefTimeout(() => {
      if (this.#waiting.delete(channel)) channel.destroy();
    }, this.deadline);
    return () => {
      cancel();
      this.#waiting.delete(channel);
    };
  }
}

/** What a channel may be told when it is made. */
export interface ChannelOptions {
  /** The largest frame accepted after the challenge (see {@linkcode DEFAULT_MAX_MESSAGE_SIZE}). */
  maxMessageSize?: number;
}

/** An authenticated, framed, ordered message connection to another node. */
export class Channel {
  readonly #stream: ByteStream;
  readonly #reader = new FrameReader(HANDSHAKE_MAX_FRAME);
  readonly #maxMessageSize: number;
  #open = false;
  #closed = false;
  readonly #handshakeFrames: Uint8Array[] = [];
  #handshakeWaiter: (() => void) | null = null;
  readonly #closeCallbacks: (() => void)[] = [];
  /** Per-channel state subsystems keep (the child record, attached pipes). */
  readonly attachments: Map<string, unknown> = new Map();
  #raw = false;
  #rawHandler: ((payload: Uint8Array) => void) | null = null;
  readonly #rawBacklog: Uint8Array[] = [];
  /** Callbacks to run just before the next frame is written (see `beforeNextSend`). */
  #beforeNext: (() => void)[] = [];
  /** While those run: the frames they send, which go out in one write with the next frame. */
  #riders: Uint8Array[] | null = null;
  /** Bytes handed to the raw handler that its reader has not taken yet. */
  #unread = 0;
  #paused = false;
  #heardFrom = false;
  /** Why this channel was closed here, when it was for a reason the peer should hear of. */
  failure: Error | null = null;

  constructor(stream: ByteStream, options: ChannelOptions = {}) {
    this.#stream = stream;
    this.#maxMessageSize = options.maxMessageSize ?? treeMaxMessageSize();
    stream.onData((chunk) => this.#onChunk(chunk));
    stream.onClose(() => this.#onClosed());
  }

  /** Whether the connection has closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Encodes and sends a message; a closed channel drops it; a message above the limit throws. */
  send(message: Message, context?: EncodeContext): void {
    if (this.#closed) return;
    // A large payload in the message is a part of its own: written as it
    // is, never copied into the frame (see encodeFrameParts).
    const parts = encodeFrameParts(message, context, "message");
    let size = -4;
    for (const part of parts) size += part.byteLength;
    this.#checkSize(size);
    if (this.#riders) this.#riders.push(...parts);
    else {
      const first = this.#beforeNext.length > 0 ? this.#withRiders(parts[0]) : parts[0];
      this.#stream.write(first);
      for (let i = 1; i < parts.length; i++) this.#stream.write(parts[i]);
    }
  }

  /**
   * Runs `callback` once, just before this channel next writes a frame (or
   * ends); what it sends goes out in the same write as that frame, so a
   * process killed meanwhile delivers both or neither. Queue consumers
   * acknowledge items this way (see src/core/queues.ts).
   */
  beforeNextSend(callback: () => void): void {
    if (!this.#closed) this.#beforeNext.push(callback);
  }

  /** Runs the callbacks waiting for the next frame; returns their frames and `bytes` as one. */
  #withRiders(bytes: Uint8Array | null): Uint8Array {
    const riders: Uint8Array[] = this.#riders = [];
    try {
      for (const callback of this.#beforeNext.splice(0)) callback();
    } finally {
      this.#riders = null;
    }
    if (bytes) riders.push(bytes);
    return concatBytes(riders);
  }

  /** The largest message this channel sends or accepts. */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }

  #checkSize(n: number): void {
    checkMessageSize(n, this.#maxMessageSize);
  }

  /** Sends one undecoded frame (Listener/Client connections); a payload above the limit throws. */
  sendRaw(payload: Uint8Array): void {
    if (this.#closed) return;
    this.#checkSize(payload.byteLength);
    this.#stream.write(frame(payload));
  }

  /**
   * Resolves once no more than {@linkcode HIGH_WATER} bytes sent here wait
   * for the OS (or the channel closed): a writer awaits it to go no faster
   * than its reader.
   */
  drained(): Promise<void> {
    return this.#stream.drained(HIGH_WATER);
  }

  /** Bytes sent here that the OS has not taken yet. */
  get buffered(): number {
    return this.#stream.buffered;
  }

  /**
   * The raw handler's reader took `n` bytes it was handed: reading resumes
   * once what waits to be read is below {@linkcode HIGH_WATER}.
   */
  consumed(n: number): void {
    this.#unread -= n;
    if (this.#paused && this.#unread <= HIGH_WATER) {
      this.#paused = false;
      this.#stream.resume();
    }
  }

  /** Calls `callback` once the channel closes (at once if it has). */
  onClose(callback: () => void): void {
    if (this.#closed) queueMicrotask(callback);
    else this.#closeCallbacks.push(callback);
  }

  /** Flushes what was sent, then closes. */
  end(): Promise<void> {
    if (!this.#closed && this.#beforeNext.length > 0) {
      const riders = this.#withRiders(null);
      if (riders.length > 0) this.#stream.write(riders);
    }
    return this.#stream.end();
  }

  /** Closes at once. */
  destroy(): void {
    this.#stream.destroy();
  }

  /** Whether this channel keeps the program alive. */
  set keepsAlive(value: boolean) {
    if (value) this.#stream.ref();
    else this.#stream.unref();
  }

  /**
   * Runs the challenge; resolves when both sides are proven. A `gate`
   * (server side) closes the connection unless it is proven in time.
   */
  async handshake(
    key: Uint8Array,
    role: "server" | "client",
    gate?: HandshakeGate,
  ): Promise<void> {
    const release = gate?.admit(this);
    // The client gets four frames (the challenge, the verdict, the server's
    // digest, #READY#); the server may send messages right behind the last,
    // larger than the challenge allows: they wait uncut until it is over.
    if (role === "client") this.#reader.holdAfter(4 - this.#handshakeFrames.length);
    const io = {
      sendFrame: (payload: Uint8Array) => this.#stream.write(frame(payload)),
      recvFrame: async (): Promise<Uint8Array> => {
        while (this.#handshakeFrames.length === 0) {
          if (this.#closed) {
            throw new AuthenticationError(
              "The connection closed during the authentication challenge",
            );
          }
          await new Promise<void>((resolve) => (this.#handshakeWaiter = resolve));
        }
        return this.#handshakeFrames.shift()!;
      },
    };
    try {
      await (role === "server" ? serverHandshake(io, key) : clientHandshake(io, key));
    } catch (error) {
      this.#stream.destroy();
      throw error;
    } finally {
      release?.();
    }
    this.#open = true;
    this.#reader.maxFrame = this.#maxMessageSize;
    for (const f of this.#handshakeFrames.splice(0)) this.#dispatch(f);
    if (role === "client") {
      let held: Uint8Array[];
      try {
        held = this.#reader.resume();
      } catch (error) {
        this.#tooLarge(error);
        return;
      }
      for (const f of held) this.#dispatch(f);
    }
  }

  /** Whether the peer has sent anything yet. */
  get heardFrom(): boolean {
    return this.#heardFrom;
  }

  #onChunk(chunk: Uint8Array): void {
    this.#heardFrom = true;
    let frames: Uint8Array[];
    try {
      frames = this.#reader.push(chunk);
    } catch (error) {
      this.#tooLarge(error);
      return;
    }
    for (const f of frames) {
      if (this.#open) this.#dispatch(f);
      else {
        this.#handshakeFrames.push(f);
        this.#wakeHandshake();
      }
    }
  }

  /** An oversized frame: closes this connection only, saying why once it was authenticated. */
  #tooLarge(error: unknown): void {
    if (this.#open) {
      this.failure = new OSError(
        `The peer sent a message larger than maxMessageSize ${this.#maxMessageSize} ` +
          `(${(error as Error).message}); the connection was closed (raise maxMessageSize ` +
          `on both ends if such messages are intended)`,
      );
      if (!this.#raw) this.#drop(this.failure.message);
    }
    this.#reader.clear();
    this.#stream.destroy();
  }

  #wakeHandshake(): void {
    const waiter = this.#handshakeWaiter;
    this.#handshakeWaiter = null;
    waiter?.();
  }

  /**
   * Makes this a raw channel (Listener/Client): frames go to `handler`
   * undecoded instead of to the message handlers; frames that came before
   * it was set are handed over first. The handler's reader reports what it
   * took with {@linkcode Channel.consumed}.
   */
  setRawHandler(handler: (payload: Uint8Array) => void): void {
    this.#raw = true;
    this.#rawHandler = handler;
    for (const payload of this.#rawBacklog.splice(0)) handler(payload);
  }

  /** Marks this channel raw before its handshake, so early frames wait for `setRawHandler`. */
  expectRaw(): void {
    this.#raw = true;
  }

  #dispatch(payload: Uint8Array): void {
    if (this.#raw) {
      this.#unread += payload.byteLength;
      if (!this.#paused && this.#unread > HIGH_WATER && !this.#closed) {
        this.#paused = true;
        this.#stream.pause();
      }
      if (this.#rawHandler) this.#rawHandler(payload);
      else this.#rawBacklog.push(payload);
      return;
    }
    let message: Message;
    try {
      // Large payloads (a pipe's message, a queue's item) stay views into
      // the frame: the frame is this message's alone, copying them is not.
      message = decode(payload, { views: "large" }) as Message;
      if (!Array.isArray(message) || typeof message[0] !== "string") {
        throw new TypeError("not a message");
      }
    } catch (error) {
      // The peer proved the key, so this is a bug rather than an attack:
      // say so, then drop this connection only.
      this.#drop(`a message could not be decoded (${(error as Error)?.message ?? error})`);
      return;
    }
    const handler = handlers.get(message[0]);
    if (!handler) {
      this.#drop(`'${message[0]}' is not an operation this process knows`);
      return;
    }
    try {
      handler(this, message);
    } catch (error) {
      getHost().writeStderr(
        `@procs/multiprocessing: failed to handle '${message[0]}': ${
          (error as Error)?.stack ?? error
        }\n`,
      );
    }
  }

  #drop(why: string): void {
    getHost().writeStderr(
      `@procs/multiprocessing: dropped a connection from an authenticated peer: ${why}\n`,
    );
    this.#stream.destroy();
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#beforeNext = [];
    // What a peer sent of a frame it never finished goes now, not at the next GC.
    this.#reader.clear();
    this.#handshakeFrames.length = 0;
    this.#wakeHandshake();
    for (const cb of this.#closeCallbacks.splice(0)) {
      try {
        cb();
      } catch (error) {
        getHost().writeStderr(`@procs/multiprocessing: ${(error as Error)?.stack ?? error}\n`);
      }
    }
  }
}
