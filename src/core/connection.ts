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
 * A message leaves the pipe when a copy reads it, as bytes leave an OS
 * pipe's buffer: the owner keeps what it routed to a copy in another
 * process until that copy says it read it (the acknowledgement usually
 * rides on the copy's next send). What a copy was given but did not read,
 * because it was closed, sent on, or its process ended or was killed, goes
 * to the copies left, each message in its place in the stream; a copy
 * sees `EOFError` only once no other copy holds messages that could still
 * come back to it. A copy in the owner's process that waits (`recv`,
 * `poll` with a timeout) is the first reader: it gets the next message,
 * and the copies in other processes give it back what they have not read.
 *
 * @module
 */

import {
  decodeExact,
  encode,
  type EncodeContext,
  REDUCE,
  type Reduced,
  registerReducer,
} from "./_wire/codec.ts";
import {
  type Channel,
  checkMessageSize,
  HIGH_WATER,
  onMessage,
  treeMaxMessageSize,
} from "./_wire/channel.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import type { Message } from "./_wire/protocol.ts";
import { BufferTooShort, EOFError, OSError, ProcessError, ValueError } from "./errors.ts";
import { checkTimeout, holdAlive, randomId, unrefTimeout } from "./_util.ts";
import { Handoff } from "./_handoff.ts";

/**
 * A message in a pipe: its bytes, as `sendBytes` gave them or as `send`
 * encoded its object (one stream, read as bytes or as objects: see `recv`).
 */
interface Envelope {
  data: Uint8Array;
  /**
   * Its place in the stream sent to one end, given by the pipe's owner
   * (1, 2, ...; 0 on a Listener/Client connection): messages given back by
   * a copy that did not read them go back in this order.
   */
  seq: number;
  /** Who wrote it, on the owner's side (see `Flow`); none on a Listener/Client connection. */
  from?: Flow;
}

type End = 0 | 1;

/**
 * Room for what frames a pipe's message between processes ("pipe.push",
 * "pipe.send" and their fields) within the tree's message limit.
 */
const PIPE_ENVELOPE = 1024;

/**
 * One writer of a pipe as its owner sees it: a copy of an end here or in
 * another process, and how many of the bytes it sent the other end has
 * read. Its `await send()` resolves while no more than `HIGH_WATER` of them
 * wait unread wherever they are (here, on the wire, in a reader's inbox),
 * so memory stays bounded in every process however fast the writer is.
 * A writer in another process learns of what was read by "pipe.credit",
 * sent only when it may be waiting (never on a ping-pong's hot path).
 */
class Flow {
  /** Bytes this writer sent (as the owner received them). */
  received = 0;
  /** Bytes of those that were read (or can never be read). */
  read = 0;
  /** The last `read` told to a writer in another process. */
  credited = 0;
  /** Sends of a writer here waiting for room: resolve once `received - read` is at most the mark. */
  waiters: (() => void)[] = [];

  /** `copy`: the writer's copy in another process; none for a copy here. */
  constructor(readonly copy?: RemoteCopy) {}

  /** The writer sent `n` bytes; false when it must wait for its reader. */
  sent(n: number): boolean {
    this.received += n;
    this.#credit();
    return this.received - this.read <= HIGH_WATER;
  }

  /** `n` bytes it sent were read. */
  consumed(n: number): void {
    this.read += n;
    if (this.received - this.read > HIGH_WATER) return;
    this.#credit();
    if (this.waiters.length > 0) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    }
  }

  /** Nothing it sent can be read any more: every waiting send resolves. */
  drop(): void {
    this.consumed(this.received - this.read);
  }

  /** Tells a writer in another process what was read, if it may be waiting for it. */
  #credit(): void {
    const copy = this.copy;
    if (!copy || this.received - this.credited <= HIGH_WATER) return;
    if (this.received - this.read > HIGH_WATER) return;
    this.credited = this.read;
    copy.channel.send(["pipe.credit", copy.ticket, this.read]);
  }
}

/**
 * A copy of an end held by another process, as its owner sees it. What is
 * pushed to it stays here as well until that copy reads it: if the copy is
 * closed, sent on or its process ends first, the owner gives those messages
 * to the copies left, as unread bytes stay in an OS pipe for whoever reads next.
 */
class RemoteCopy {
  /** Messages pushed to this copy that it has not read yet, by `seq`. */
  readonly unread: Map<number, Envelope> = new Map();
  /** Whether this copy was asked to give back what it has not read (see `PipeCore.wait`). */
  reclaiming = false;
  /** Whether this copy was told that the other end is closed. */
  toldEOF = false;
  /** What it sent, when it writes. */
  readonly flow: Flow = new Flow(this);

  constructor(
    readonly core: PipeCore,
    readonly end: End,
    readonly channel: Channel,
    readonly ticket: string,
  ) {}
}

/** Who holds a copy of an end: a local Connection or a copy in another process. */
type Holder = Connection | RemoteCopy;

/** Copies held by other processes of pipes this node owns, by ticket. */
const remoteCopies = new Map<string, RemoteCopy>();

/** Inserts `envelope` into `list` (ordered by `seq`); usually at the end. */
function insertBySeq(list: Envelope[], envelope: Envelope): void {
  let i = list.length;
  while (i > 0 && list[i - 1].seq > envelope.seq) i--;
  if (i === list.length) list.push(envelope);
  else list.splice(i, 0, envelope);
}

/** The owner's state of one pipe. */
class PipeCore {
  readonly id: string = randomId();
  readonly holders: [Holder[], Holder[]] = [[], []];
  readonly tickets: [Set<string>, Set<string>] = [new Set(), new Set()];
  readonly backlog: [Envelope[], Envelope[]] = [[], []];
  /** Tickets attached before their "pipe.ticket" arrived (it came on another channel). */
  readonly early: Set<string> = new Set();
  /** The `seq` of the last message sent to each end. */
  readonly #sent: [number, number] = [0, 0];
  /** Local copies of each end waiting for a message (in `recv` or `poll`). */
  readonly waiting: [Set<Connection>, Set<Connection>] = [new Set(), new Set()];
  registered = false;

  isOpen(end: End): boolean {
    return this.holders[end].length > 0 || this.tickets[end].size > 0;
  }

  /** Writers of each end (to `end`), whose bytes count until read. */
  readonly flows: [Set<Flow>, Set<Flow>] = [new Set(), new Set()];

  /**
   * A new message to `end` from `from`; null when nobody can ever read it,
   * else whether the writer may go on (false: it waits for its reader).
   */
  send(end: End, data: Uint8Array, from?: Flow): boolean | null {
    if (!this.isOpen(end)) return null;
    if (!from) {
      this.deliver(end, { data, seq: ++this.#sent[end] });
      return true;
    }
    this.flows[end].add(from);
    this.deliver(end, { data, seq: ++this.#sent[end], from });
    return from.sent(data.byteLength);
  }

  /** `envelope` was read (or can never be): its writer may go on. */
  consumed(envelope: Envelope): void {
    envelope.from?.consumed(envelope.data.byteLength);
  }

  /**
   * Routes a message to a copy of `end` here that waits for one (the first
   * reader gets it, as with an OS pipe), else to the newest holder of `end`,
   * or keeps it for a copy on its way.
   */
  deliver(end: End, envelope: Envelope): void {
    const waiting = this.waiting[end];
    if (waiting.size > 0) {
      for (const reader of waiting) {
        waiting.delete(reader);
        reader._enqueue(envelope);
        return;
      }
    }
    if (this.tickets[end].size > 0) {
      insertBySeq(this.backlog[end], envelope);
      return;
    }
    const holders = this.holders[end];
    const holder = holders[holders.length - 1];
    if (!holder) return;
    if (holder instanceof Connection) holder._enqueue(envelope);
    else {
      holder.unread.set(envelope.seq, envelope);
      // What that copy wrote and was read rides along when it changed (a
      // ping-pong thus never needs a "pipe.credit" of its own).
      const flow = holder.flow;
      if (flow.read === flow.credited) {
        holder.channel.send(["pipe.push", holder.ticket, envelope.seq, envelope.data]);
      } else {
        flow.credited = flow.read;
        holder.channel.send(["pipe.push", holder.ticket, envelope.seq, envelope.data, flow.read]);
      }
    }
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

  attach(end: End, ticket: string | null, holder: Connection | Channel): void {
    if (ticket && !this.tickets[end].delete(ticket)) this.early.add(ticket);
    if (holder instanceof Connection) this.holders[end].push(holder);
    else {
      const copy = new RemoteCopy(this, end, holder, ticket ?? randomId());
      remoteCopies.set(copy.ticket, copy);
      this.holders[end].push(copy);
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
    this.settleEOF(end);
  }

  dropTicket(end: End, ticket: string): void {
    if (!this.tickets[end].delete(ticket)) return;
    this.#flushBacklog(end);
    this.#afterRelease(end);
  }

  /** A copy is closed (or its process ended); what it did not read goes to the copies left. */
  release(holder: Holder, end: End, unread: Envelope[] = []): void {
    const list = this.holders[end];
    const i = list.lastIndexOf(holder);
    if (i < 0) return;
    list.splice(i, 1);
    if (!(holder instanceof Connection)) {
      remoteCopies.delete(holder.ticket);
      this.flows[other(end)].delete(holder.flow);
      unread = [...holder.unread.values()];
      holder.unread.clear();
    }
    // What that copy did not read stays for the other copies, as data in an
    // OS pipe outlives the descriptor that was closed.
    if (unread.length > 0 && this.isOpen(end)) this.requeue(end, unread);
    this.#afterRelease(end);
  }

  /** Gives messages back to `end`, each in its place among those not read yet. */
  requeue(end: End, envelopes: Envelope[]): void {
    envelopes.sort((x, y) => x.seq - y.seq);
    for (const envelope of envelopes) this.deliver(end, envelope);
  }

  /**
   * `reader`, a copy of `end` here, waits for a message: it takes what
   * copies in other processes were given and have not read yet. Each is
   * asked to give its unread messages back ("pipe.reclaim"); they come back
   * to the copies waiting then (see `giveBack`).
   */
  wait(end: End, reader: Connection): void {
    this.waiting[end].add(reader);
    for (const holder of this.holders[end]) {
      if (holder instanceof Connection || holder.unread.size === 0 || holder.reclaiming) continue;
      holder.reclaiming = true;
      holder.channel.send(["pipe.reclaim", holder.ticket]);
    }
  }

  /** A copy in another process gave back the messages `seqs`, which it had not read. */
  giveBack(copy: RemoteCopy, seqs: number[]): void {
    copy.reclaiming = false;
    const moved: Envelope[] = [];
    for (const seq of seqs) {
      const envelope = copy.unread.get(seq);
      if (!envelope) continue;
      copy.unread.delete(seq);
      moved.push(envelope);
    }
    this.requeue(copy.end, moved);
    this.settleEOF(copy.end);
  }

  /** A "pipe.ticket" arrived: count it, unless its copy already attached. */
  addTicket(end: End, ticket: string): void {
    if (!this.early.delete(ticket)) this.tickets[end].add(ticket);
  }

  dropChannel(channel: Channel): void {
    for (const end of [0, 1] as const) {
      for (const holder of this.holders[end].slice()) {
        if (!(holder instanceof Connection) && holder.channel === channel) {
          this.release(holder, end);
        }
      }
    }
  }

  #afterRelease(end: End): void {
    if (this.isOpen(end)) {
      this.settleEOF(end);
      return;
    }
    this.backlog[end].length = 0;
    // Nothing sent to `end` can be read now: its writers stop waiting.
    for (const flow of this.flows[end]) flow.drop();
    this.flows[end].clear();
    this.settleEOF(other(end));
    if (!this.isOpen(other(end))) pipes.delete(this.id);
  }

  /**
   * Tells each holder of `end` that nothing more will come, once the other
   * end is closed and no other copy holds messages it might give back.
   */
  settleEOF(end: End): void {
    if (this.isOpen(other(end))) return;
    let pending = this.backlog[end].length;
    const holders = this.holders[end];
    for (const holder of holders) pending += pendingIn(holder);
    for (const holder of holders) {
      if (pending - pendingIn(holder) > 0) continue;
      if (holder instanceof Connection) holder._peerClosed();
      else if (!holder.toldEOF) {
        holder.toldEOF = true;
        holder.channel.send(["pipe.eof", holder.ticket]);
      }
    }
  }
}

/** How many messages `holder` has that it has not read. */
function pendingIn(holder: Holder): number {
  return holder instanceof Connection ? holder._pending() : holder.unread.size;
}

function other(end: End): End {
  return end === 0 ? 1 : 0;
}

/** Pipes this node owns that have been shared with other processes. */
const pipes = new Map<string, PipeCore>();

/** Copies of ends held here whose pipe another node owns, by ticket. */
const remoteEnds = new Map<string, Connection>();

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
  /** This copy's ticket: how the owner names it. */
  ticket: string;
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

/** What a new end is made of, handed by `Pipe`, the decoder or a Listener/Client. */
const ends = new Handoff<
  { link: LocalLink | RemoteLink | StreamLink; readable: boolean; writable: boolean }
>();

/**
 * One end of a {@linkcode Pipe}: `send`/`recv` copy values with
 * structured-clone semantics; `sendBytes`/`recvBytes` move raw bytes. The
 * two are views of one stream of messages, as in Python (where `send(obj)`
 * is `send_bytes(pickle(obj))`): `recvBytes` of a message sent with `send`
 * gives its encoded bytes, and `recv` of those bytes sent on with
 * `sendBytes` gives the object, so a relay that copies bytes delivers
 * objects. A connection may be passed to a child as an argument and keeps
 * working there. `Disposable`: `using conn = ...` closes it.
 *
 * `T` is the type of the messages (`unknown` unless given, as in
 * `Pipe<string>()`): `send` takes a `T` and `recv` gives one. Nothing
 * checks it at run time: both ends must agree, as with any channel.
 *
 * @example Send a value through a pipe
 * ```ts
 * import assert from "node:assert/strict";
 * import { Pipe } from "@procs/multiprocessing";
 * const [a, b] = Pipe();
 * await a.send({ hello: "kel" });
 * assert.deepEqual(await b.recv(), { hello: "kel" });
 * ```
 */
export class Connection<T = unknown> implements Disposable {
  readonly #readable: boolean;
  readonly #writable: boolean;
  readonly #link: LocalLink | RemoteLink | StreamLink;
  #closed = false;
  #peerClosed = false;
  readonly #inbox: Envelope[] = [];
  #waiters: (() => void)[] = [];
  /** Messages read by this copy that its pipe's owner has not been told of yet. */
  #acks: number[] = [];
  /** What this copy wrote, when its pipe's owner is this process (see `Flow`). */
  #flow: Flow | null = null;
  /** Bytes this copy sent through its pipe's owner in another process, and how many were read. */
  #sentBytes = 0;
  #creditBytes = 0;
  /** Sends waiting for room: each resolves once the read bytes reach its `until`. */
  #blocked: { until: number; resolve: () => void }[] = [];

  /**
   * Connections are made by {@linkcode Pipe} (and by a `Listener` or
   * `Client`).
   *
   * @throws {TypeError} when constructed directly
   */
  constructor() {
    const end = ends.take();
    if (!end) {
      throw new TypeError("Connections are made by Pipe(); do not construct them");
    }
    this.#link = end.link;
    this.#readable = end.readable;
    this.#writable = end.writable;
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
   * Resolves once no more than 1 MiB of what this end sent waits unread by
   * the other end, wherever the two ends live (a message larger than that
   * goes alone: the send after it waits): a writer that awaits its sends
   * goes no faster than its reader, and memory stays bounded in every
   * process. Closing either end wakes a waiting send. So one program that
   * sends several MiB and only then receives them waits, as a blocking
   * send does in Python. (Over a `Listener`/`Client` connection the
   * reader's side also stops reading while more than 1 MiB waits for its
   * `recv()`.)
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.send(new Map([["x", 1n]]));
   * assert.deepEqual(await b.recv(), new Map([["x", 1n]]));
   * ```
   */
  send(obj: T): Promise<void> {
    try {
      this.#checkWritable();
      const data = encode(obj, sendContext(), "obj");
      return this.#transmit(data);
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
   * import assert from "node:assert/strict";
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.sendBytes(new TextEncoder().encode("hello"), 1, 3);
   * assert.equal(new TextDecoder().decode(await b.recvBytes()), "ell");
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
      return this.#transmit(bytes.slice(offset, offset + size));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The tree's message limit, once a message was sent (see `#transmit`). */
  #limit: number | undefined;

  /** Sends `data`; resolves when the channel it went to is below its high-water mark. */
  #transmit(data: Uint8Array): Promise<void> {
    const link = this.#link;
    // A pipe's message may wait for a copy of the other end that has not
    // attached yet (or move later to another process): too large for the
    // tree's channels, it fails here, not when the owner pushes it on.
    if (link.kind !== "stream") {
      // Read once: reading the environment costs Deno ~5 µs a send.
      checkMessageSize(data.byteLength + PIPE_ENVELOPE, this.#limit ??= treeMaxMessageSize());
    }
    if (link.kind === "local") {
      const flow = this.#flow ??= new Flow();
      const room = link.core.send(other(link.end), data, flow);
      if (room === null) {
        throw new OSError("The other end of the pipe is closed: nobody can receive this message");
      }
      if (room) return Promise.resolve();
      return new Promise((resolve) => flow.waiters.push(resolve));
    }
    if (link.kind === "stream") {
      link.channel.sendRaw(data); // one frame: its length, then the message
      return link.channel.drained();
    }
    // What this copy read rides along (see #acked).
    const message: Message = this.#acks.length === 0
      ? ["pipe.send", link.id, other(link.end), data, link.ticket]
      : ["pipe.send", link.id, other(link.end), data, link.ticket, this.#takeAcks()];
    // Room for more once no more than HIGH_WATER bytes sent wait unread (see Flow).
    this.#sentBytes += data.byteLength;
    const until = this.#sentBytes - HIGH_WATER;
    if (link.channel) {
      link.channel.send(message);
      if (this.#creditBytes >= until) return link.channel.drained();
      return this.#room(until).then(() => link.channel?.drained());
    }
    return link.ready.then((channel) => {
      channel.send(message);
      if (this.#creditBytes >= until) return channel.drained();
      return this.#room(until).then(() => channel.drained());
    }, () => {});
  }

  /** Resolves once the pipe's owner says the bytes read reach `until` (or this end is done). */
  #room(until: number): Promise<void> {
    if (this.#closed || this.#peerClosed) return Promise.resolve();
    return new Promise((resolve) => this.#blocked.push({ until, resolve }));
  }

  /** @internal The pipe's owner says `read` bytes this copy sent were read. */
  _credit(read: number): void {
    if (read > this.#creditBytes) this.#creditBytes = read;
    if (this.#blocked.length === 0) return;
    const still: { until: number; resolve: () => void }[] = [];
    for (const b of this.#blocked) {
      if (b.until <= this.#creditBytes) b.resolve();
      else still.push(b);
    }
    this.#blocked = still;
  }

  /** Every waiting send resolves (this end or the other is closed). */
  #unblock(): void {
    const blocked = this.#blocked;
    this.#blocked = [];
    for (const b of blocked) b.resolve();
    const flow = this.#flow;
    if (flow && flow.waiters.length > 0) {
      const waiters = flow.waiters;
      flow.waiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Receives the next object. Waits while nothing has arrived; rejects with
   * `EOFError` once the other end is closed and every message was read. A
   * message whose bytes are not an object's (bytes sent with `sendBytes`
   * that `send` did not make) is read and rejects with `ValueError`, as
   * unpickling such bytes fails in Python.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await b.send([1, 2, 3]);
   * assert.deepEqual(await a.recv(), [1, 2, 3]);
   * ```
   */
  recv(): Promise<T> {
    return this.#acked(this.#recv()) as Promise<T>;
  }

  async #recv(): Promise<unknown> {
    const envelope = await this.#next();
    try {
      return decodeExact(envelope.data);
    } catch (error) {
      // A handle in the message that cannot be rebuilt says why itself.
      if (error instanceof ProcessError) throw error;
      throw new ValueError(
        `Message of ${envelope.data.byteLength} bytes is not an object sent with send(): ${
          (error as Error)?.message ?? error
        }. Read bytes sent with sendBytes() with recvBytes()`,
        { cause: error },
      );
    }
  }

  /**
   * Receives the next message as bytes (for a message sent with `send`, the
   * object's encoded bytes, which `sendBytes` may pass on). A message
   * longer than `maxlength` is an `OSError` and closes this end, as in Python.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.sendBytes(new Uint8Array([1, 2]));
   * assert.deepEqual(await b.recvBytes(), new Uint8Array([1, 2]));
   * ```
   */
  recvBytes(maxlength?: number): Promise<Uint8Array> {
    return this.#acked(this.#recvBytes(maxlength));
  }

  async #recvBytes(maxlength?: number): Promise<Uint8Array> {
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
   * import assert from "node:assert/strict";
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * await a.sendBytes(new Uint8Array([7, 8]));
   * const buf = new Uint8Array(4);
   * assert.equal(await b.recvBytesInto(buf, 1), 2);
   * assert.deepEqual(buf, new Uint8Array([0, 7, 8, 0]));
   * ```
   */
  recvBytesInto(buf: ArrayBufferView | ArrayBuffer, offset = 0): Promise<number> {
    return this.#acked(this.#recvBytesInto(buf, offset));
  }

  async #recvBytesInto(buf: ArrayBufferView | ArrayBuffer, offset = 0): Promise<number> {
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
   * import assert from "node:assert/strict";
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * assert.equal(await a.poll(), false);
   * await b.send("x");
   * assert.equal(await a.poll(1000), true);
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
    try {
      while (!this.#ready()) {
        if (this.#closed) this.#checkReadable();
        const changed = this.#changed();
        if (timedOut) {
          let timeoutFired = false;
          await Promise.race([changed, timedOut.then(() => (timeoutFired = true))]);
          if (timeoutFired) return this.#ready();
        } else await changed;
      }
    } finally {
      this.#stopWaiting();
    }
    cancel();
    return true;
  }

  #ready(): boolean {
    return this.#inbox.length > 0 || this.#peerClosed;
  }

  #changed(): Promise<void> {
    const link = this.#link;
    if (link.kind === "local" && this.#inbox.length === 0) link.core.wait(link.end, this);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** This copy no longer waits: messages go to the other copies again. */
  #stopWaiting(): void {
    const link = this.#link;
    if (link.kind === "local") link.core.waiting[link.end].delete(this);
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
        this.#stopWaiting();
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
    if (link.kind === "remote") this.#acks.push(envelope.seq);
    else if (link.kind === "local") {
      link.core.consumed(envelope);
      if (this.#inbox.length === 0) link.core.settleEOF(link.end);
    } // The socket's reader pauses while too much waits to be read here.
    else if (link.kind === "stream") link.channel.consumed(envelope.data.byteLength);
    return envelope;
  }

  /**
   * A copy in another process tells the pipe's owner which messages it
   * read, so that the owner stops keeping them for the other copies. Most
   * callers answer what they received: the acknowledgements ride on that
   * answer when it is sent right away, in the code that awaited the
   * receive; otherwise they go on their own one microtask later. Either
   * way before the process could end normally.
   */
  #acked<T>(received: Promise<T>): Promise<T> {
    if (this.#link.kind === "remote") {
      // Registered before the caller's own await, so this runs first and
      // the flush it queues runs after the caller's continuation.
      const later = () => queueMicrotask(() => this.#flushAcks());
      received.then(later, later);
    }
    return received;
  }

  #takeAcks(): number[] {
    const acks = this.#acks;
    this.#acks = [];
    return acks;
  }

  #flushAcks(): void {
    const link = this.#link;
    if (this.#acks.length === 0 || link.kind !== "remote") return;
    link.channel?.send(["pipe.ack", link.ticket, this.#takeAcks()]);
  }

  /** @internal A message routed to this end, put in its place among the unread ones. */
  _enqueue(envelope: Envelope): void {
    if (this.#closed) return;
    insertBySeq(this.#inbox, envelope);
    this.#wake();
  }

  /** @internal Gives back what this copy has not read, asked by its pipe's owner. */
  _giveBack(): void {
    const link = this.#link;
    if (link.kind !== "remote") return;
    this.#flushAcks();
    const seqs = this.#inbox.splice(0).map((e) => e.seq);
    link.channel?.send(["pipe.giveback", link.ticket, seqs]);
  }

  /** @internal How many messages wait here unread. */
  _pending(): number {
    return this.#inbox.length;
  }

  /** @internal Every copy of the other end is closed. */
  _peerClosed(): void {
    this.#peerClosed = true;
    this.#unblock();
    this.#wake();
  }

  /**
   * Closes this end. The other end sees `EOFError` once every copy of this
   * end is closed. Closing twice is harmless.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Pipe } from "@procs/multiprocessing";
   * const [a, b] = Pipe();
   * a.close();
   * assert.equal(a.closed, true);
   * assert.equal(b.closed, false);
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopWaiting();
    const link = this.#link;
    const unread = this.#inbox.splice(0);
    if (link.kind === "local") {
      if (this.#flow) link.core.flows[other(link.end)].delete(this.#flow);
      link.core.release(this, link.end, unread);
    } else if (link.kind === "stream") link.channel.end();
    else {
      // The owner kept what it pushed here until it was read: it gives the
      // unread messages to the copies left.
      this.#flushAcks();
      remoteEnds.delete(link.ticket);
      const message: Message = ["pipe.close", link.ticket];
      if (link.channel) link.channel.send(message);
      else link.ready.then((channel) => channel.send(message), () => {});
    }
    this.#unblock();
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
      address = localEndpoint().ensureServer();
      id = link.core.id;
      link.core.tickets[link.end].add(ticket);
      link.core.register();
      // Unread messages go with the end, as data in an OS pipe is read by
      // whoever reads the descriptor next: the new holder gets them first.
      for (const e of this.#inbox.splice(0)) insertBySeq(link.core.backlog[link.end], e);
      const core = link.core;
      const end = link.end;
      context.onTicket?.(() => core.dropTicket(end, ticket));
    } else {
      address = link.address;
      id = link.id;
      // Unread messages go with the end (see the local case): the owner,
      // which kept them, moves them from this copy to the copy on its way.
      this.#flushAcks();
      const unread = this.#inbox.splice(0).map((e) => e.seq);
      const message: Message = ["pipe.ticket", id, link.end, ticket, link.ticket, unread];
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
    const node = localEndpoint();
    if (state.address === node.address) {
      const core = pipes.get(state.id);
      if (!core) throw new OSError("The pipe this connection belonged to is gone");
      const conn = newEnd({ kind: "local", core, end: state.end }, state.readable, state.writable);
      core.attach(state.end, state.ticket, conn);
      return conn;
    }
    const link: RemoteLink = {
      kind: "remote",
      address: state.address,
      id: state.id,
      end: state.end,
      ticket: state.ticket,
      channel: null,
      ready: node.channelTo(state.address),
    };
    const conn = newEnd(link, state.readable, state.writable);
    remoteEnds.set(state.ticket, conn);
    link.ready.then((channel) => {
      link.channel = channel;
      channel.send(["pipe.attach", state.id, state.end, state.ticket]);
      channel.onClose(() => conn._peerClosed());
    }, () => conn._peerClosed());
    return conn;
  }

  /** @internal A connection over an authenticated socket (Listener/Client). */
  static _overChannel(channel: Channel): Connection {
    const conn = newEnd({ kind: "stream", channel }, true, true);
    channel.setRawHandler((payload) => conn._enqueue({ data: payload, seq: 0 }));
    channel.onClose(() => conn._peerClosed());
    return conn;
  }

  /** @internal Makes the two ends of a new pipe. */
  static _pair(duplex: boolean): [Connection, Connection] {
    const core = new PipeCore();
    const a = newEnd({ kind: "local", core, end: 0 }, true, duplex);
    const b = newEnd({ kind: "local", core, end: 1 }, duplex, true);
    core.holders[0].push(a);
    core.holders[1].push(b);
    return [a, b];
  }
}

/** A connection over `link`. */
function newEnd(
  link: LocalLink | RemoteLink | StreamLink,
  readable: boolean,
  writable: boolean,
): Connection {
  return ends.build({ link, readable, writable }, () => new Connection());
}

/** The encode context of a plain `send`: tickets handed out stay valid until used. */
function sendContext(): EncodeContext {
  return {};
}

registerReducer("Connection", (state) => Connection._rebuild(state as ConnectionState));

function ownedPipe(id: string): PipeCore | undefined {
  return pipes.get(id);
}

onMessage("pipe.attach", (channel, [, id, end, ticket]) => {
  const core = ownedPipe(id);
  if (core) core.attach(end, ticket, channel);
  else channel.send(["pipe.eof", ticket]);
});
/** A copy in another process read the messages `seqs`. */
function acknowledge(ticket: string, seqs: number[]): void {
  const copy = remoteCopies.get(ticket);
  if (!copy) return;
  for (const seq of seqs) {
    const envelope = copy.unread.get(seq);
    if (!envelope) continue;
    copy.unread.delete(seq);
    copy.core.consumed(envelope);
  }
  copy.core.settleEOF(copy.end);
}

onMessage("pipe.send", (_channel, [, id, end, data, ticket, acks]) => {
  if (acks !== undefined) acknowledge(ticket, acks);
  ownedPipe(id)?.send(end, data, remoteCopies.get(ticket)?.flow);
});
onMessage("pipe.ack", (_channel, [, ticket, seqs]) => acknowledge(ticket, seqs));
onMessage("pipe.close", (_channel, [, ticket]) => {
  const copy = remoteCopies.get(ticket);
  copy?.core.release(copy, copy.end);
});
onMessage("pipe.ticket", (_channel, [, id, end, ticket, from, unread]) => {
  const core = ownedPipe(id);
  if (!core) return;
  core.addTicket(end, ticket);
  const copy = remoteCopies.get(from);
  if (!copy) return; // that copy is gone: the owner gave its messages on already
  const moved: Envelope[] = [];
  for (const seq of unread) {
    const envelope = copy.unread.get(seq);
    if (!envelope) continue;
    copy.unread.delete(seq);
    moved.push(envelope);
  }
  core.requeue(end, moved);
});
onMessage("pipe.drop", (_channel, [, id, end, ticket]) => {
  ownedPipe(id)?.dropTicket(end, ticket);
});

// A message that crossed this copy's close on the way is dropped: the owner
// kept it and has given it to the copies left.
onMessage("pipe.push", (_channel, [, ticket, seq, data, read]) => {
  const conn = remoteEnds.get(ticket);
  if (read !== undefined) conn?._credit(read);
  conn?._enqueue({ data, seq });
});
onMessage("pipe.reclaim", (_channel, [, ticket]) => {
  remoteEnds.get(ticket)?._giveBack();
});
onMessage("pipe.giveback", (_channel, [, ticket, seqs]) => {
  const copy = remoteCopies.get(ticket);
  copy?.core.giveBack(copy, seqs);
});
onMessage("pipe.credit", (_channel, [, ticket, read]) => {
  remoteEnds.get(ticket)?._credit(read);
});
onMessage("pipe.eof", (_channel, [, ticket]) => {
  remoteEnds.get(ticket)?._peerClosed();
});

/**
 * Makes a pipe and returns its two ends. With `duplex` (the default) both
 * ends send and receive; with `duplex = false` the first end only receives
 * and the second only sends. `T` is the type of the messages (see
 * {@linkcode Connection}); `unknown` unless given.
 *
 * @example A child answers through a pipe
 * ```ts
 * import assert from "node:assert/strict";
 * import { Pipe } from "@procs/multiprocessing";
 * const [parentEnd, childEnd] = Pipe<string>();
 * await childEnd.send("hello,kel");
 * const text: string = await parentEnd.recv();
 * assert.equal(text, "hello,kel");
 * ```
 */
export function Pipe<T = unknown>(duplex = true): [Connection<T>, Connection<T>] {
  return Connection._pair(duplex) as [Connection<T>, Connection<T>];
}
