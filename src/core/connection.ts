/**
 * `Pipe()` and its two `Connection` ends.
 *
 * A pipe lives in the process that made it (its owner). An end that travels
 * to another process (as a `Process` argument, or inside a message) becomes
 * a handle there: that process attaches to the owner over the tree's
 * authenticated channel, the owner routes the messages sent to that end to
 * it, and its own sends go to the owner, who routes them on. Ends are
 * counted like file descriptors: the other end sees `EOFError` once every
 * copy of an end is closed (or the processes holding them have exited) and
 * the buffered messages are read.
 *
 * @module
 */

import {
  decode,
  encode,
  type EncodeContext,
  REDUCE,
  type Reduced,
  registerReducer,
} from "./_codec.ts";
import { type Channel, localNode, type Message, onMessage } from "./_node.ts";
import { BufferTooShort, EOFError, OSError, ValueError } from "./errors.ts";
import { checkTimeout, holdAlive, randomId, unrefTimeout } from "./_util.ts";

/** A message in a pipe: an encoded object, or raw bytes from `sendBytes`. */
interface Envelope {
  bytes: boolean;
  data: Uint8Array;
}

type End = 0 | 1;

/** Who holds a copy of an end: a local Connection or a remote node's channel. */
type Holder = Connection | Channel;

/** The owner's state of one pipe. */
class PipeCore {
  readonly id: string = randomId();
  readonly holders: [Holder[], Holder[]] = [[], []];
  readonly tickets: [Set<string>, Set<string>] = [new Set(), new Set()];
  readonly backlog: [Envelope[], Envelope[]] = [[], []];
  /** Tickets attached before their "pipe.ticket" arrived (it came on another channel). */
  readonly early: Set<string> = new Set();
  registered = false;

  isOpen(end: End): boolean {
    return this.holders[end].length > 0 || this.tickets[end].size > 0;
  }

  /** Routes a message to the newest holder of `end`; false when nobody can ever read it. */
  deliver(end: End, envelope: Envelope): boolean {
    if (this.tickets[end].size > 0) {
      this.backlog[end].push(envelope);
      return true;
    }
    const holders = this.holders[end];
    const holder = holders[holders.length - 1];
    if (!holder) return false;
    if (holder instanceof Connection) holder._enqueue(envelope);
    else holder.send(["pipe.push", this.id, end, envelope.bytes, envelope.data]);
    return true;
  }

  #flushBacklog(end: End): void {
    if (this.tickets[end].size > 0) return;
    const pending = this.backlog[end].splice(0);
    for (const envelope of pending) this.deliver(end, envelope);
  }

  /** Hands out a ticket: a copy of `end` on its way to another process. */
  ticket(end: End): string {
    const t = randomId();
    this.tickets[end].add(t);
    this.register();
    return t;
  }

  register(): void {
    if (this.registered) return;
    this.registered = true;
    pipes.set(this.id, this);
  }

  attach(end: End, ticket: string | null, holder: Holder): void {
    if (ticket && !this.tickets[end].delete(ticket)) this.early.add(ticket);
    this.holders[end].push(holder);
    if (!(holder instanceof Connection)) {
      let attached = holder.attachments.get("pipes") as Set<PipeCore> | undefined;
      if (!attached) {
        attached = new Set();
        holder.attachments.set("pipes", attached);
        const set = attached;
        holder.onClose(() => {
          for (const core of set) core.dropChannel(holder);
        });
      }
      attached.add(this);
    }
    this.#flushBacklog(end);
    if (!this.isOpen(other(end))) this.#notifyClosed(end, holder);
  }

  dropTicket(end: End, ticket: string): void {
    if (!this.tickets[end].delete(ticket)) return;
    this.#flushBacklog(end);
    this.#afterRelease(end);
  }

  release(end: End, holder: Holder, unread: Envelope[] = []): void {
    const list = this.holders[end];
    const i = list.lastIndexOf(holder);
    if (i < 0) return;
    list.splice(i, 1);
    // What that copy did not read stays for the other copies, as data in an
    // OS pipe outlives the descriptor that was closed.
    if (unread.length > 0 && this.isOpen(end)) this.requeue(end, unread);
    this.#afterRelease(end);
  }

  /** Gives messages back to `end`, ahead of what its next reader has not read yet. */
  requeue(end: End, envelopes: Envelope[]): void {
    if (this.tickets[end].size > 0) {
      this.backlog[end].unshift(...envelopes);
      return;
    }
    const holders = this.holders[end];
    const holder = holders[holders.length - 1];
    if (!holder) return;
    if (holder instanceof Connection) holder._requeue(envelopes);
    else for (const e of envelopes) holder.send(["pipe.push", this.id, end, e.bytes, e.data]);
  }

  /** A "pipe.ticket" arrived: count it, unless its copy already attached. */
  addTicket(end: End, ticket: string, unread: Envelope[]): void {
    if (!this.early.delete(ticket)) this.tickets[end].add(ticket);
    if (unread.length > 0) this.requeue(end, unread);
  }

  dropChannel(channel: Channel): void {
    for (const end of [0, 1] as const) {
      const before = this.holders[end].length;
      this.holders[end] = this.holders[end].filter((h) => h !== channel);
      if (this.holders[end].length !== before) this.#afterRelease(end);
    }
  }

  #afterRelease(end: End): void {
    if (this.isOpen(end)) return;
    this.backlog[end].length = 0;
    for (const holder of this.holders[other(end)]) this.#notifyClosed(other(end), holder);
    if (!this.isOpen(other(end))) pipes.delete(this.id);
  }

  #notifyClosed(end: End, holder: Holder): void {
    if (holder instanceof Connection) holder._peerClosed();
    else holder.send(["pipe.eof", this.id, end]);
  }
}

function other(end: End): End {
  return end === 0 ? 1 : 0;
}

/** Pipes this node owns that have been shared with other processes. */
const pipes = new Map<string, PipeCore>();

/** Ends held here whose pipe another node owns, by `id|end` (pipe ids are random). */
const remoteEnds = new Map<string, Connection>();

function remoteKey(id: string, end: End): string {
  return `${id}|${end}`;
}

interface LocalLink {
  kind: "local";
  core: PipeCore;
  end: End;
}

interface RemoteLink {
  kind: "remote";
  address: string;
  id: string;
  end: End;
  channel: Channel | null;
  ready: Promise<Channel>;
}

interface ConnectionState {
  address: string;
  id: string;
  end: End;
  readable: boolean;
  writable: boolean;
  ticket: string;
}

/** A connection made by Listener/Client: one authenticated socket, raw frames. */
interface StreamLink {
  kind: "stream";
  channel: Channel;
}

const INTERNAL = Symbol("internal");

/**
 * One end of a {@linkcode Pipe}: `send`/`recv` copy values with
 * structured-clone semantics; `sendBytes`/`recvBytes` move raw bytes. A
 * connection may be passed to a child as an argument and keeps working
 * there. `Disposable`: `using conn = ...` closes it.
 *
 * @example Send a value through a pipe
 * ```ts
 * import { Pipe } from "@procs/multiprocessing";
 * const [a, b] = Pipe();
 * await a.send({ hello: "kel" });
 * console.assert((await b.recv() as { hello: string }).hello === "kel");
 * ```
 */
export class Connection implements Disposable {
  readonly #readable: boolean;
  readonly #writable: boolean;
  readonly #link: LocalLink | RemoteLink | StreamLink;
  #closed = false;
  #peerClosed = false;
  readonly #inbox: Envelope[] = [];
  #waiters: (() => void)[] = [];

  /** @internal Connections are made by {@linkcode Pipe}. */
  constructor(
    token: typeof INTERNAL,
    link: LocalLink | RemoteLink | StreamLink,
    readable: boolean,
    writable: boolean,
  ) {
    if (token !== INTERNAL) {
      throw new TypeError("Connections are made by Pipe(); do not construct them");
    }
    this.#link = link;
    this.#readable = readable;
    this.#writable = writable;
  }

  /** True once this end has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True when this end may receive. */
  get readable(): boolean {
    return this.#readable;
  }

  /** True when this end may send. */
  get writable(): boolean {
    return this.#writable;
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new OSError("The connection is closed: open a new Pipe() to keep talking");
    }
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#peerClosed) {
      throw new OSError("The other end of the pipe is closed: nobody can receive this message");
    }
    if (!this.#writable) {
      throw new OSError("This end of a one-way pipe only receives: send through the other end");
    }
  }

  #checkReadable(): void {
    this.#checkOpen();
    if (!this.#readable) {
      throw new OSError("This end of a one-way pipe only sends: receive through the other end");
    }
  }

  /**
   * Sends a copy of `obj` (structured-clone semantics; connections and the
   * library's primitives travel as live handles). A value that cannot be
   * copied rejects at once with a `TypeError` naming where it sits; one
   * larger than the connection's `maxMessageSize` with a `ValueError`.
   *
   * Resolves once the transport has taken the bytes, or no more than
   * 1 MiB of them wait in this process: a writer that awaits its sends goes
   * no faster than its reader, and its memory stays bounded. (Over a
   * `Listener`/`Client` connection the reader's side stops reading while
   * more than 1 MiB waits for its `recv()`; so one program that sends
   * several MiB and only then receives them on the same socket waits, as a
   * blocking send does in Python.)
   *
   * @example
   * ```ts
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.send(new Map([["x", 1n]]));
   * console.assert((await b.recv() as Map<string, bigint>).get("x") === 1n);
   * ```
   */
  send(obj: unknown): Promise<void> {
    try {
      this.#checkWritable();
      const data = encode(obj, sendContext(), "obj");
      return this.#transmit({ bytes: false, data });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Sends bytes `buf[offset, offset + size)` as one message; resolves as
   * {@linkcode Connection.send} does, once the transport has taken them or
   * little enough of them waits.
   *
   * @example
   * ```ts
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.sendBytes(new TextEncoder().encode("hello"), 1, 3);
   * console.assert(new TextDecoder().decode(await b.recvBytes()) === "ell");
   * ```
   */
  sendBytes(buf: ArrayBufferView | ArrayBuffer, offset = 0, size?: number): Promise<void> {
    try {
      this.#checkWritable();
      const bytes = buf instanceof ArrayBuffer
        ? new Uint8Array(buf)
        : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      const n = bytes.byteLength;
      if (offset < 0) throw new ValueError(`offset is negative: received ${offset}`);
      if (n < offset) throw new ValueError(`buffer length ${n} < offset ${offset}`);
      if (size === undefined) size = n - offset;
      else if (size < 0) throw new ValueError(`size is negative: received ${size}`);
      else if (offset + size > n) {
        throw new ValueError(`buffer length ${n} < offset + size (${offset} + ${size})`);
      }
      return this.#transmit({ bytes: true, data: bytes.slice(offset, offset + size) });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Sends `envelope`; resolves when the channel it went to is below its high-water mark. */
  #transmit(envelope: Envelope): Promise<void> {
    const link = this.#link;
    if (link.kind === "local") {
      if (!link.core.deliver(other(link.end), envelope)) {
        throw new OSError("The other end of the pipe is closed: nobody can receive this message");
      }
      return Promise.resolve();
    }
    if (link.kind === "stream") {
      const payload = new Uint8Array(1 + envelope.data.byteLength);
      payload[0] = envelope.bytes ? 1 : 0;
      payload.set(envelope.data, 1);
      link.channel.sendRaw(payload);
      return link.channel.drained();
    }
    const message: Message = ["pipe.send", link.id, other(link.end), envelope.bytes, envelope.data];
    if (link.channel) {
      link.channel.send(message);
      return link.channel.drained();
    }
    return link.ready.then((channel) => {
      channel.send(message);
      return channel.drained();
    }, () => {});
  }

  /**
   * Receives the next object. Waits while nothing has arrived; rejects with
   * `EOFError` once the other end is closed and every message was read.
   *
   * @example
   * ```ts
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await b.send([1, 2, 3]);
   * console.assert((await a.recv() as number[]).length === 3);
   * ```
   */
  async recv(): Promise<unknown> {
    const envelope = await this.#next();
    return envelope.bytes ? envelope.data : decode(envelope.data);
  }

  /**
   * Receives the next message as bytes. A message longer than `maxlength`
   * is an `OSError` and closes this end, as in Python.
   *
   * @example
   * ```ts
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.sendBytes(new Uint8Array([1, 2]));
   * console.assert((await b.recvBytes()).length === 2);
   * ```
   */
  async recvBytes(maxlength?: number): Promise<Uint8Array> {
    if (maxlength !== undefined && maxlength < 0) {
      throw new ValueError(`maxlength is negative: received ${maxlength}`);
    }
    const envelope = await this.#next();
    if (maxlength !== undefined && envelope.data.byteLength > maxlength) {
      this.close();
      throw new OSError(
        `Message of ${envelope.data.byteLength} bytes is longer than maxlength ${maxlength}; the connection was closed`,
      );
    }
    return envelope.data;
  }

  /**
   * Receives the next message into `buf` at byte `offset` and returns its
   * length. A message that does not fit rejects with `BufferTooShort`
   * holding the whole message.
   *
   * @example
   * ```ts
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.sendBytes(new Uint8Array([7, 8]));
   * const buf = new Uint8Array(4);
   * console.assert(await b.recvBytesInto(buf, 1) === 2 && buf[2] === 8);
   * ```
   */
  async recvBytesInto(buf: ArrayBufferView | ArrayBuffer, offset = 0): Promise<number> {
    const target = buf instanceof ArrayBuffer
      ? new Uint8Array(buf)
      : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    if (offset < 0) throw new ValueError(`offset is negative: received ${offset}`);
    if (offset > target.byteLength) {
      throw new ValueError(
        `offset ${offset} is past the end of a ${target.byteLength}-byte buffer`,
      );
    }
    const envelope = await this.#next();
    const data = envelope.data;
    if (data.byteLength > target.byteLength - offset) throw new BufferTooShort(data);
    target.set(data, offset);
    return data.byteLength;
  }

  /**
   * Whether a message (or the end of the stream) is waiting to be read,
   * without reading it. No `timeout` answers at once; `null` waits as long
   * as it takes; a number waits up to that many milliseconds.
   *
   * @example
   * ```ts
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * console.assert(await a.poll() === false);
   * await b.send("x");
   * console.assert(await a.poll(1000) === true);
   * ```
   */
  async poll(timeout?: number | null): Promise<boolean> {
    this.#checkReadable();
    checkTimeout(timeout, "poll()");
    if (this.#ready()) return true;
    if (timeout === undefined) return false;
    if (timeout !== null && timeout <= 0) return false;
    let cancel = () => {};
    const timedOut = timeout === null ? null : new Promise<void>((resolve) => {
      cancel = unrefTimeout(resolve, timeout);
    });
    while (!this.#ready()) {
      if (this.#closed) this.#checkReadable();
      const changed = this.#changed();
      if (timedOut) {
        let timeoutFired = false;
        await Promise.race([changed, timedOut.then(() => (timeoutFired = true))]);
        if (timeoutFired) return this.#ready();
      } else await changed;
    }
    cancel();
    return true;
  }

  #ready(): boolean {
    return this.#inbox.length > 0 || this.#peerClosed;
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #next(): Promise<Envelope> {
    this.#checkReadable();
    if (this.#inbox.length === 0 && !this.#peerClosed) {
      // Waiting keeps the program alive, as a blocked recv() does in Python.
      const release = holdAlive();
      try {
        while (this.#inbox.length === 0 && !this.#peerClosed) {
          await this.#changed();
          this.#checkReadable();
        }
      } finally {
        release();
      }
    }
    const link = this.#link;
    if (this.#inbox.length === 0) {
      // A connection closed here for a reason (a message above maxMessageSize) says so.
      if (link.kind === "stream" && link.channel.failure) throw link.channel.failure;
      throw new EOFError("The other end of the pipe was closed and every message has been read");
    }
    const envelope = this.#inbox.shift()!;
    // The socket's reader pauses while too much waits to be read here.
    if (link.kind === "stream") link.channel.consumed(1 + envelope.data.byteLength);
    return envelope;
  }

  /** @internal A message routed to this end. */
  _enqueue(envelope: Envelope): void {
    if (this.#closed) return;
    this.#inbox.push(envelope);
    this.#wake();
  }

  /** @internal Messages given back ahead of the unread ones. */
  _requeue(envelopes: Envelope[]): void {
    if (this.#closed) return;
    this.#inbox.unshift(...envelopes);
    this.#wake();
  }

  /** @internal Every copy of the other end is closed. */
  _peerClosed(): void {
    this.#peerClosed = true;
    this.#wake();
  }

  /**
   * Closes this end. The other end sees `EOFError` once every copy of this
   * end is closed. Closing twice is harmless.
   *
   * @example
   * ```ts
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * a.close();
   * console.assert(a.closed && !b.closed);
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const link = this.#link;
    const unread = this.#inbox.splice(0);
    if (link.kind === "local") link.core.release(link.end, this, unread);
    else if (link.kind === "stream") link.channel.end();
    else {
      remoteEnds.delete(remoteKey(link.id, link.end));
      const message: Message = [
        "pipe.close",
        link.id,
        link.end,
        unread.map((e) => [e.bytes, e.data]),
      ];
      if (link.channel) link.channel.send(message);
      else link.ready.then((channel) => channel.send(message), () => {});
    }
    this.#wake();
  }

  /** Closes this end (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal How this end crosses to another process. */
  [REDUCE](context: EncodeContext): Reduced {
    this.#checkOpen();
    const link = this.#link;
    if (link.kind === "stream") {
      throw new TypeError(
        "A connection made by Listener/Client cannot be sent to another process: pass its address and connect there",
      );
    }
    const ticket = randomId();
    let address: string;
    let id: string;
    if (link.kind === "local") {
      address = localNode().ensureServer();
      id = link.core.id;
      link.core.tickets[link.end].add(ticket);
      link.core.register();
      // Unread messages go with the end, as data in an OS pipe is read by
      // whoever reads the descriptor next: the new holder gets them first.
      link.core.backlog[link.end].unshift(...this.#inbox.splice(0));
      const core = link.core;
      const end = link.end;
      context.onTicket?.(() => core.dropTicket(end, ticket));
    } else {
      address = link.address;
      id = link.id;
      // Unread messages go with the end (see the local case): back to the
      // owner, ahead of anything it holds for this end.
      const unread = this.#inbox.splice(0).map((e) => [e.bytes, e.data]);
      const message: Message = ["pipe.ticket", id, link.end, ticket, unread];
      if (link.channel) link.channel.send(message);
      else link.ready.then((channel) => channel.send(message), () => {});
      const drop: Message = ["pipe.drop", id, link.end, ticket];
      context.onTicket?.(() => link.channel?.send(drop));
    }
    const state: ConnectionState = {
      address,
      id,
      end: link.end,
      readable: this.#readable,
      writable: this.#writable,
      ticket,
    };
    return { type: "Connection", state };
  }

  /** @internal Rebuilds an end that crossed from another process. */
  static _rebuild(state: ConnectionState): Connection {
    const node = localNode();
    if (state.address === node.address) {
      const core = pipes.get(state.id);
      if (!core) throw new OSError("The pipe this connection belonged to is gone");
      const conn = new Connection(
        INTERNAL,
        { kind: "local", core, end: state.end },
        state.readable,
        state.writable,
      );
      core.attach(state.end, state.ticket, conn);
      return conn;
    }
    const link: RemoteLink = {
      kind: "remote",
      address: state.address,
      id: state.id,
      end: state.end,
      channel: null,
      ready: node.channelTo(state.address),
    };
    const conn = new Connection(INTERNAL, link, state.readable, state.writable);
    remoteEnds.set(remoteKey(state.id, state.end), conn);
    link.ready.then((channel) => {
      link.channel = channel;
      channel.send(["pipe.attach", state.id, state.end, state.ticket]);
      channel.onClose(() => conn._peerClosed());
    }, () => conn._peerClosed());
    return conn;
  }

  /** @internal A connection over an authenticated socket (Listener/Client). */
  static _overChannel(channel: Channel): Connection {
    const conn = new Connection(INTERNAL, { kind: "stream", channel }, true, true);
    channel.setRawHandler((payload) =>
      conn._enqueue({ bytes: payload[0] === 1, data: payload.subarray(1) })
    );
    channel.onClose(() => conn._peerClosed());
    return conn;
  }

  /** @internal Makes the two ends of a new pipe. */
  static _pair(duplex: boolean): [Connection, Connection] {
    const core = new PipeCore();
    const a = new Connection(INTERNAL, { kind: "local", core, end: 0 }, true, duplex);
    const b = new Connection(INTERNAL, { kind: "local", core, end: 1 }, duplex, true);
    core.holders[0].push(a);
    core.holders[1].push(b);
    return [a, b];
  }
}

/** The encode context of a plain `send`: tickets handed out stay valid until used. */
function sendContext(): EncodeContext {
  return {};
}

registerReducer("Connection", (state) => Connection._rebuild(state as ConnectionState));

function ownedPipe(id: unknown): PipeCore | undefined {
  return pipes.get(id as string);
}

onMessage("pipe.attach", (channel, [, id, end, ticket]) => {
  const core = ownedPipe(id);
  if (core) core.attach(end as End, ticket as string, channel);
  else channel.send(["pipe.eof", id, end]);
});
onMessage("pipe.send", (_channel, [, id, end, bytes, data]) => {
  ownedPipe(id)?.deliver(end as End, { bytes: bytes as boolean, data: data as Uint8Array });
});
function envelopes(list: unknown): Envelope[] {
  return ((list ?? []) as [boolean, Uint8Array][]).map(([bytes, data]) => ({ bytes, data }));
}

onMessage("pipe.close", (channel, [, id, end, unread]) => {
  ownedPipe(id)?.release(end as End, channel, envelopes(unread));
});
onMessage("pipe.ticket", (_channel, [, id, end, ticket, unread]) => {
  ownedPipe(id)?.addTicket(end as End, ticket as string, envelopes(unread));
});
onMessage("pipe.return", (_channel, [, id, end, bytes, data]) => {
  ownedPipe(id)?.requeue(end as End, [{ bytes: bytes as boolean, data: data as Uint8Array }]);
});
onMessage("pipe.drop", (_channel, [, id, end, ticket]) => {
  ownedPipe(id)?.dropTicket(end as End, ticket as string);
});

onMessage("pipe.push", (channel, [, id, end, bytes, data]) => {
  const conn = remoteEnds.get(remoteKey(id as string, end as End));
  // A message that crossed this copy's close on the way: give it back to the owner.
  if (conn) conn._enqueue({ bytes: bytes as boolean, data: data as Uint8Array });
  else channel.send(["pipe.return", id, end, bytes, data]);
});
onMessage("pipe.eof", (_channel, [, id, end]) => {
  remoteEnds.get(remoteKey(id as string, end as End))?._peerClosed();
});

/**
 * Makes a pipe and returns its two ends. With `duplex` (the default) both
 * ends send and receive; with `duplex = false` the first end only receives
 * and the second only sends.
 *
 * @example A child answers through a pipe
 * ```ts
 * import { Pipe } from "@procs/multiprocessing";
 * const [parentEnd, childEnd] = Pipe();
 * await childEnd.send("hello,kel");
 * console.assert(await parentEnd.recv() === "hello,kel");
 * ```
 */
export function Pipe(duplex = true): [Connection, Connection] {
  return Connection._pair(duplex);
}
