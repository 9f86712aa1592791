/**
 * This process's node in the process tree: its private endpoint (one per
 * tree transport the host offers: a unix socket, a `MessagePort` hub...),
 * the authenticated channels to other nodes, and the dispatch of messages to
 * the subsystems (processes, pipes, ...) by operation name.
 *
 * Every connection runs the mutual HMAC challenge on the tree's key before a
 * single message is decoded; frames during the challenge are capped at 256
 * bytes. A bad frame closes that connection only.
 *
 * @module
 */

import type { ByteStream, Transport } from "./host.ts";
import { decode, type EncodeContext, encodeFrame } from "./_codec.ts";
import { frame, FrameReader, MAX_FRAME } from "./_framing.ts";
import { clientHandshake, HANDSHAKE_MAX_FRAME, serverHandshake } from "./_auth.ts";
import { AuthenticationError, OSError, RemoteError, ValueError } from "./errors.ts";
import { getHost } from "./host.ts";
import { processState } from "./_state.ts";
import { holdAlive, sleep, unrefTimeout } from "./_util.ts";
import type { Message, Op, RequestOp, Requests } from "./_protocol.ts";

/** The handler of messages of operation `K`. */
type Handler<K extends Op = Op> = (channel: Channel, message: Message<K>) => void;
const handlers = new Map<string, Handler>();

/** Registers the handler of one operation (declared in `_protocol.ts`). */
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
    const bytes = encodeFrame(message, context, "message");
    this.#checkSize(bytes.byteLength - 4);
    if (this.#riders) this.#riders.push(bytes);
    else if (this.#beforeNext.length > 0) this.#stream.write(this.#withRiders(bytes));
    else this.#stream.write(bytes);
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
    if (riders.length === 1) return riders[0];
    let size = 0;
    for (const r of riders) size += r.length;
    const all = new Uint8Array(size);
    let at = 0;
    for (const r of riders) {
      all.set(r, at);
      at += r.length;
    }
    return all;
  }

  /** The largest message this channel sends or accepts. */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }

  #checkSize(n: number): void {
    if (n > this.#maxMessageSize) {
      throw new ValueError(
        `Cannot send a message of ${n} bytes: the limit is maxMessageSize ${this.#maxMessageSize} ` +
          `(raise it on both ends, or send the data in parts)`,
      );
    }
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
      message = decode(payload) as Message;
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

/** This process's endpoint and its connections. */
class LocalNode {
  #dir: string | null = null;
  #address: string | null = null;
  #servers: { close(): void }[] = [];
  readonly #keys = new Map<string, Uint8Array>();
  /** The maximum message size of connections to an address, when not the tree's. */
  readonly #limits = new Map<string, number>();
  /** Connections to this node's own endpoint still in the challenge. */
  readonly #gate = new HandshakeGate(TREE_HANDSHAKE_DEADLINE, TREE_MAX_UNAUTHENTICATED);
  readonly #own = new Set<string>();
  /** Addresses whose process ended while we were connected: reconnecting fails at once. */
  readonly #dead = new Set<string>();
  readonly #outgoing = new Map<string, Promise<Channel>>();
  /** Every open channel, for flushing before exit. */
  readonly channels: Set<Channel> = new Set();
  /** The channel to the parent, in a child. */
  parentChannel: Channel | null = null;

  /** A directory only this user can enter, removed when the program ends. */
  get privateDir(): string {
    if (!this.#dir) {
      const host = getHost();
      const dir = host.makePrivateDir();
      this.#dir = dir;
      host.onExit(() => host.removePrivateDir(dir));
    }
    return this.#dir;
  }

  /** This node's address, starting its server on first use. */
  ensureServer(): string {
    if (this.#address) return this.#address;
    const alternatives: string[] = [];
    for (const transport of getHost().transports) {
      const server = transport.listen((stream) => this.#accept(stream, null, this.#gate, {}));
      this.#servers.push(server);
      alternatives.push(server.address);
      this.#own.add(server.address);
    }
    const address = joinAddresses(alternatives);
    this.#address = address;
    this.#own.add(address);
    return address;
  }

  /**
   * Serves this node's handlers on another address too, to peers proving
   * `key` (a manager's TCP address); returns the address bound.
   */
  listen(
    address: string,
    key: Uint8Array,
    options: ChannelOptions = {},
  ): { address: string; close(): void } {
    const transport = getHost().transport;
    const gate = new HandshakeGate();
    const onStream = (stream: ByteStream) => this.#accept(stream, key, gate, options);
    const tcp = parseTcp(address);
    if (tcp) {
      const server = transport.listenTcp(tcp.host, tcp.port, onStream);
      const bound = tcpAddress(tcp.host, server.port);
      this.#own.add(bound);
      return { address: bound, close: () => server.close() };
    }
    const server = transport.listenUnix(address, onStream);
    this.#own.add(address);
    return {
      address,
      close: () => {
        server.close();
        getHost().removePrivateDir(address); // the socket file, so the address is free at once
      },
    };
  }

  /** Whether `address` is one this node serves. */
  ownsAddress(address: string): boolean {
    return this.#own.has(address);
  }

  /** Uses `key` (not the tree's) for connections to `address` (a new server there is reachable). */
  setKey(address: string, key: Uint8Array): void {
    this.#keys.set(address, key);
    this.#dead.delete(address);
  }

  /** A new server may now listen at `address`: connect again. */
  revive(address: string): void {
    this.#dead.delete(address);
  }

  /** This node's address, or null when it has not started its server. */
  get address(): string | null {
    return this.#address;
  }

  /** Uses messages up to `maxMessageSize` bytes on connections to `address`. */
  setMaxMessageSize(address: string, maxMessageSize: number): void {
    this.#limits.set(address, maxMessageSize);
  }

  async #accept(
    stream: ByteStream,
    key: Uint8Array | null,
    gate: HandshakeGate,
    options: ChannelOptions,
  ): Promise<void> {
    const channel = new Channel(stream, options);
    channel.keepsAlive = processState().startMethod !== null;
    try {
      await channel.handshake(key ?? processState().nodeKey, "server", gate);
    } catch {
      return; // nothing is served to a peer that failed the challenge
    }
    this.#track(channel);
  }

  #track(channel: Channel): void {
    this.channels.add(channel);
    channel.onClose(() => this.channels.delete(channel));
  }

  /** The channel to the node at `address`, connecting on first use. */
  channelTo(address: string): Promise<Channel> {
    let channel = this.#outgoing.get(address);
    if (!channel) {
      channel = this.#connect(address);
      this.#outgoing.set(address, channel);
      channel.then(
        (c) =>
          c.onClose(() => {
            this.#outgoing.delete(address);
            this.#dead.add(address);
          }),
        () => this.#outgoing.delete(address),
      );
    }
    return channel;
  }

  /** Records an already-open channel as the way to `address`. */
  adoptChannel(address: string, channel: Channel): void {
    this.#outgoing.set(address, Promise.resolve(channel));
    this.#track(channel);
    channel.onClose(() => this.#outgoing.delete(address));
  }

  async #connect(address: string): Promise<Channel> {
    if (this.#dead.has(address)) {
      throw new OSError(
        `The process serving ${address} has ended (a manager that was shut down, or an owner that exited)`,
      );
    }
    const stream = await connectTree(address);
    const channel = new Channel(stream, { maxMessageSize: this.#limits.get(address) });
    // In the main program channels never keep it alive (its children do);
    // a child exits explicitly, so there they must keep it running.
    channel.keepsAlive = processState().startMethod !== null;
    await channel.handshake(this.#keys.get(address) ?? processState().nodeKey, "client");
    this.#track(channel);
    return channel;
  }

  /** Stops the server and removes the private directory (a child, just before it exits). */
  dispose(): void {
    for (const server of this.#servers.splice(0)) server.close();
    if (this.#dir) getHost().removePrivateDir(this.#dir);
  }

  /** Flushes and closes every channel; resolves when all are closed. */
  async closeAll(goodbye = false): Promise<void> {
    // Connections still opening carry sends queued behind them: let them
    // open (their queued sends run first), then flush everything.
    await Promise.allSettled([...this.#outgoing.values()]);
    const all = [...this.channels];
    if (goodbye) { for (const channel of all) channel.send(["goodbye"]); }
    await Promise.all(all.map((c) => c.end()));
  }
}

/** A TCP address as a string: `tcp://host:port`. */
export function tcpAddress(host: string, port: number): string {
  return `tcp://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The host and port of a `tcp://host:port` address, or null for a unix path. */
export function parseTcp(address: string): { host: string; port: number } | null {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  if (!m) return null;
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/**
 * One address naming several alternatives (a node listening on several
 * transports): a JSON array of the alternatives, or the only one as is.
 */
export function joinAddresses(alternatives: string[]): string {
  return alternatives.length === 1 ? alternatives[0] : JSON.stringify(alternatives);
}

/** The alternatives an address names (see {@linkcode joinAddresses}). */
export function addressAlternatives(address: string): string[] {
  if (address.startsWith('["')) {
    try {
      const list = JSON.parse(address);
      if (Array.isArray(list) && list.every((a) => typeof a === "string")) return list;
    } catch {
      // a path that only looks like a list
    }
  }
  return [address];
}

/**
 * Opens a byte stream to a node's `address` through the first of the
 * host's tree transports (preferred first) that reaches one of its
 * alternatives, else through sockets (a manager's TCP address); waits up
 * to ~5 s for a peer still binding.
 */
async function connectTree(address: string): Promise<ByteStream> {
  const alternatives = addressAlternatives(address);
  let via: { transport: Transport; alternative: string } | null = null;
  for (const transport of getHost().transports) {
    const alternative = alternatives.find((a) => transport.reaches(a));
    if (alternative !== undefined) {
      via = { transport, alternative };
      break;
    }
  }
  if (!via) return connectStream(alternatives[0], true);
  for (let attempt = 0;; attempt++) {
    try {
      return await via.transport.connect(via.alternative);
    } catch (error) {
      if (attempt >= 100) throw error;
      await sleep(50);
    }
  }
}

/** Opens a byte stream to `address`; with `retry`, waits up to ~5 s for a peer still binding. */
export async function connectStream(address: string, retry: boolean): Promise<ByteStream> {
  const transport = getHost().transport;
  const tcp = parseTcp(address);
  for (let attempt = 0;; attempt++) {
    try {
      return tcp
        ? await transport.connectTcp(tcp.host, tcp.port)
        : await transport.connectUnix(address);
    } catch (error) {
      if (!retry || attempt >= 100) throw error;
      await sleep(50);
    }
  }
}

let local: LocalNode | undefined;

/** This process's node. */
export function localNode(): LocalNode {
  return (local ??= new LocalNode());
}

/** A request handler: gets the calling channel (null when local) and the request's arguments. */
type RequestHandler<K extends RequestOp = RequestOp> = (
  caller: Channel | null,
  args: Requests[K]["args"],
) => Requests[K]["reply"] | Promise<Requests[K]["reply"]>;
const requestHandlers = new Map<string, RequestHandler>();

/**
 * Registers the handler of one request operation (declared in
 * `_protocol.ts`); its result (or a Promise of it) is the reply.
 */
export function onRequest<K extends RequestOp>(op: K, handler: RequestHandler<K>): void {
  requestHandlers.set(op, handler as unknown as RequestHandler);
}

/** The `"req"` message of request `op` with `args` (the one place its tuple is assembled). */
function requestMessage<K extends RequestOp>(
  id: number,
  op: K,
  args: Requests[K]["args"],
): Message<"req"> {
  return ["req", id, op, ...args] as unknown as Message<"req">;
}

interface PendingReply {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

const replies = new WeakMap<Channel, Map<number, PendingReply>>();
let nextRequest = 1;

function pendingOf(channel: Channel): Map<number, PendingReply> {
  let pending = replies.get(channel);
  if (!pending) {
    const map = new Map<number, PendingReply>();
    pending = map;
    replies.set(channel, map);
    channel.onClose(() => {
      for (const p of map.values()) {
        p.reject(new OSError("The process on the other side of this connection has ended"));
      }
      map.clear();
    });
  }
  return pending;
}

/**
 * Sends a request and resolves with its reply; rejects with the error the
 * handler threw (rebuilt with its own class), or an `OSError` when the
 * channel closes first.
 */
export function request<K extends RequestOp>(
  channel: Channel,
  op: K,
  ...args: Requests[K]["args"]
): Promise<Requests[K]["reply"]> {
  if (channel.closed) {
    return Promise.reject(
      new OSError("The process on the other side of this connection has ended"),
    );
  }
  const id = nextRequest++;
  const release = holdAlive();
  return new Promise((resolve, reject) => {
    pendingOf(channel).set(id, {
      resolve: (v) => {
        release();
        resolve(v);
      },
      reject: (e) => {
        release();
        reject(e);
      },
    });
    try {
      channel.send(requestMessage(id, op, args));
    } catch (error) {
      pendingOf(channel).delete(id);
      release();
      reject(error);
    }
  });
}

/** Sends a request whose reply nobody waits for (errors are reported on stderr by the peer). */
export function notify<K extends RequestOp>(
  channel: Channel,
  op: K,
  ...args: Requests[K]["args"]
): void {
  channel.send(requestMessage(0, op, args));
}

/** The encode context of a reply on a channel (see `setReplyContext`). */
let replyContext: ((channel: Channel) => EncodeContext) | null = null;

/**
 * Sets how replies are encoded on a channel: shared objects in a reply are
 * references with tickets, which the owner gives back if that channel
 * closes before its peer rebuilt them (see src/core/_shared.ts).
 */
export function setReplyContext(make: (channel: Channel) => EncodeContext): void {
  replyContext = make;
}

onMessage("req", (channel, [, id, op, ...args]) => {
  const handler = requestHandlers.get(op);
  let result: Promise<unknown>;
  try {
    if (!handler) throw new TypeError(`Unknown request '${String(op)}'`);
    result = Promise.resolve(handler(channel, args));
  } catch (error) {
    result = Promise.reject(error);
  }
  result.then(
    (value) => {
      if (!id) return;
      try {
        channel.send(["res", id, true, value], replyContext?.(channel));
      } catch (error) {
        channel.send([
          "res",
          id,
          false,
          new RemoteError(
            `The result of '${String(op)}' could not be sent back: ${
              (error as Error)?.message ?? error
            }`,
          ),
        ]);
      }
    },
    (error) => {
      if (id) channel.send(["res", id, false, error]);
      else {
        getHost().writeStderr(
          `@procs/multiprocessing: request '${String(op)}' failed: ${
            (error as Error)?.stack ?? error
          }\n`,
        );
      }
    },
  );
});

onMessage("res", (channel, [, id, ok, value]) => {
  const pending = replies.get(channel);
  const p = pending?.get(id);
  if (!p) return;
  pending!.delete(id);
  if (ok) p.resolve(value);
  else p.reject(value);
});
