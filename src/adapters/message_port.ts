/**
 * The tree transport over `MessagePort`s, for the threads (workers) of one
 * OS process: Web APIs only (`MessageChannel`, `postMessage`), so a host
 * with no sockets at all (a browser page) can use it as is.
 *
 * One thread is the hub: the first thread that uses this module without
 * having been handed a broker (the main thread). Every worker started while
 * it is in use gets a broker port to the hub at launch (see
 * {@linkcode MessagePortTransport.grant}; a worker starting a worker hands
 * the new broker's other end to the hub through its own). `listen`
 * registers an id at the hub; `connect` makes a `MessageChannel` and sends
 * one end through the hub to the listener. A stream's bytes then go
 * straight between the two threads.
 *
 * Closing. An ended stream says so on its port (`end`, answered by `close`;
 * `destroy` sends `close`). A thread that dies says nothing, and a
 * `MessagePort` does not tell (Deno fires no event; Bun's `close` event is
 * not a Web API): the launcher of a worker tells the hub when it sees the
 * worker end ({@linkcode BrokerGrant.gone}); the hub, which knows the two
 * threads of every stream, tells each surviving end that its peer is gone,
 * for that worker and every worker it started.
 *
 * Backpressure is by credit: `buffered` counts the bytes posted that the
 * reader has not delivered; the reader acknowledges what it delivered every
 * {@linkcode ACK_BYTES}, or at once when a writer waiting in `drained` asks.
 * A paused reader delivers and acknowledges nothing.
 *
 * @module
 */

import type { ByteStream, Timers, Transport } from "../core/host.ts";
import { DrainWaiters } from "./_drain.ts";
import { concatBytes } from "../core/_util.ts";
import { newRing, type RingSignal, RingStream, webTimers } from "./_ring_stream.ts";

/** A reader acknowledges delivered bytes at least this often. */
export const ACK_BYTES = 64 * 1024;

/** A `MessagePort`, with the `ref`/`unref` Deno and Bun add. */
type Port = MessagePort & { ref?(): void; unref?(): void };

/** What a worker needs to join the hub: its broker port, the hub's id, its own id. */
export interface BrokerGrant {
  readonly port: MessagePort;
  readonly hub: string;
  readonly agent: string;
}

/** Messages to the hub. */
type ToHub =
  | { t: "listen"; id: string }
  | { t: "unlisten"; id: string }
  | { t: "connect"; id: string; stream: string }
  | { t: "agent"; agent: string; port: MessagePort }
  | { t: "gone"; agent: string }
  | { t: "drop"; stream: string };

/** Messages from the hub to a thread. */
type ToAgent =
  | { t: "incoming"; id: string; stream: string; port: MessagePort; rings?: Rings }
  | { t: "verdict"; stream: string; port: MessagePort | null; rings?: Rings }
  | { t: "closed"; stream: string };

/** A stream's two rings (see `rings`): the listener writes the first, the connector the second. */
type Rings = [SharedArrayBuffer, SharedArrayBuffer];

/** A stream as its agent sees it: told when the peer's thread is gone. */
interface AgentStream {
  peerGone(): void;
}

interface AgentRecord {
  send(message: ToAgent, transfer?: Transferable[]): void;
  readonly parent: string | null;
  alive: boolean;
  close(): void;
}

/** The hub: which thread listens on each id, and the two threads of every stream. */
class Hub {
  readonly agents = new Map<string, AgentRecord>();
  readonly #listeners = new Map<string, string>();
  readonly #streams = new Map<string, [string, string]>();

  /** Registers a worker's broker port. */
  adopt(agent: string, parent: string, port: Port): void {
    port.onmessage = (event) => this.handle(agent, event.data as ToHub);
    // The worker's runtime was torn down (see `closeEvents`).
    if (closeEvents) port.addEventListener("close", () => this.handle(agent, { t: "gone", agent }));
    port.unref?.();
    this.agents.set(agent, {
      send: (message, transfer = []) => port.postMessage(message, transfer),
      parent,
      alive: this.agents.get(parent)?.alive ?? false,
      close: () => port.close(),
    });
  }

  handle(from: string, message: ToHub): void {
    const sender = this.agents.get(from);
    switch (message.t) {
      case "listen":
        if (sender?.alive) this.#listeners.set(message.id, from);
        break;
      case "unlisten":
        if (this.#listeners.get(message.id) === from) this.#listeners.delete(message.id);
        break;
      case "connect": {
        if (!sender?.alive) break;
        const owner = this.#listeners.get(message.id);
        const listener = owner === undefined ? undefined : this.agents.get(owner);
        if (!listener?.alive) {
          sender.send({ t: "verdict", stream: message.stream, port: null });
          break;
        }
        // The hub makes the channel: on Deno a port that came in a message
        // cannot be unref'd (measured on 2.9.6), and the main thread's ends
        // must not keep the program alive.
        const { port1, port2 } = new MessageChannel();
        this.#streams.set(message.stream, [from, owner!]);
        const made: Rings | undefined = rings ? [newRing(), newRing()] : undefined;
        listener.send(
          { t: "incoming", id: message.id, stream: message.stream, port: port1, rings: made },
          [port1],
        );
        sender.send({ t: "verdict", stream: message.stream, port: port2, rings: made }, [port2]);
        break;
      }
      case "agent":
        this.adopt(message.agent, from, message.port as Port);
        break;
      case "gone":
        if (this.agents.get(message.agent)?.parent === from || message.agent === from) {
          this.#gone(message.agent);
        }
        break;
      case "drop":
        this.#streams.delete(message.stream);
        break;
    }
  }

  /** A worker ended: it, and every worker it started, are gone; their peers hear of it. */
  #gone(agent: string): void {
    const dead = new Set<string>([agent]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [id, record] of this.agents) {
        if (!dead.has(id) && record.parent !== null && dead.has(record.parent)) {
          dead.add(id);
          grew = true;
        }
      }
    }
    for (const id of dead) {
      const record = this.agents.get(id);
      if (!record) continue;
      record.alive = false;
      this.agents.delete(id);
      record.close();
    }
    for (const [id, owner] of this.#listeners) if (dead.has(owner)) this.#listeners.delete(id);
    for (const [stream, ends] of this.#streams) {
      const [a, b] = ends;
      if (!dead.has(a) && !dead.has(b)) continue;
      this.#streams.delete(stream);
      for (const end of ends) {
        if (!dead.has(end)) this.agents.get(end)?.send({ t: "closed", stream });
      }
    }
  }
}

/** This thread's side of the hub: its listeners, its open streams, its pending connects. */
class Agent {
  readonly #listeners = new Map<string, (stream: ByteStream) => void>();
  readonly streams = new Map<string, AgentStream>();
  readonly #verdicts = new Map<
    string,
    (verdict: { port: MessagePort | null; rings?: Rings }) => void
  >();
  #next = 0;
  #children = 0;

  constructor(
    readonly hub: string,
    readonly id: string,
    readonly toHub: (message: ToHub, transfer?: Transferable[]) => void,
    readonly keepAlive: (on: boolean) => void = () => {},
  ) {}

  receive(message: ToAgent): void {
    switch (message.t) {
      case "incoming": {
        const onConnection = this.#listeners.get(message.id);
        if (!onConnection) {
          message.port.close();
          this.toHub({ t: "drop", stream: message.stream });
          break;
        }
        onConnection(openStream(message.port, this, message.stream, message.rings, 0));
        break;
      }
      case "verdict": {
        const settle = this.#verdicts.get(message.stream);
        this.#verdicts.delete(message.stream);
        settle?.(message);
        break;
      }
      case "closed":
        this.streams.get(message.stream)?.peerGone();
        break;
    }
  }

  listen(onConnection: (stream: ByteStream) => void): { address: string; close(): void } {
    const id = `${this.id}-${this.#next++}`;
    this.#listeners.set(id, onConnection);
    this.toHub({ t: "listen", id });
    return {
      address: `mp:${this.hub}:${id}`,
      close: () => {
        if (this.#listeners.delete(id)) this.toHub({ t: "unlisten", id });
      },
    };
  }

  async connect(address: string): Promise<ByteStream> {
    const id = address.slice(`mp:${this.hub}:`.length);
    const streamId = `${this.id}/${this.#next++}`;
    const verdict = new Promise<{ port: MessagePort | null; rings?: Rings }>((resolve) =>
      this.#verdicts.set(streamId, resolve)
    );
    // A connect waiting for its verdict keeps the thread alive, as a socket's would.
    if (this.#verdicts.size === 1) this.keepAlive(true);
    this.toHub({ t: "connect", id, stream: streamId });
    let answer: { port: MessagePort | null; rings?: Rings };
    try {
      answer = await verdict;
    } finally {
      if (this.#verdicts.size === 0) this.keepAlive(false);
    }
    if (!answer.port) throw new Error(`Nothing listens at ${address}`);
    return openStream(answer.port, this, streamId, answer.rings, 1);
  }

  /** A broker for a worker this thread starts. */
  grant(): BrokerGrant & { gone(): void } {
    const agent = `${this.id}.${this.#children++}`;
    const { port1, port2 } = new MessageChannel();
    this.toHub({ t: "agent", agent, port: port1 }, [port1]);
    return {
      port: port2,
      hub: this.hub,
      agent,
      gone: () => this.toHub({ t: "gone", agent }),
    };
  }
}

/**
 * The stream over a connected port: its bytes through the two rings when
 * the hub made them (`side` 0 is the listener's, which writes the first),
 * or through the port itself.
 */
function openStream(
  port: MessagePort,
  agent: Agent,
  id: string,
  made: Rings | undefined,
  side: 0 | 1,
): ByteStream {
  if (!made) return new PortStream(port, agent, id);
  const p = port as Port;
  const stream = new RingStream(
    made[side],
    made[1 - side],
    (message) => p.postMessage(message),
    timers ?? webTimers,
    () => {
      p.onmessage = null;
      p.close();
      agent.streams.delete(id);
      agent.toHub({ t: "drop", stream: id });
    },
  );
  // The port carries only the end and the close; the rings' waits keep the
  // program alive while the stream is ref'd.
  p.onmessage = (event) => stream.signalled(event.data as RingSignal);
  if (closeEvents) p.addEventListener("close", () => stream.peerLost());
  p.unref?.();
  // Told on the broker port, which may run before the peer's last signal: one more turn first.
  agent.streams.set(id, { peerGone: () => setTimeout(() => stream.peerLost(), 0) });
  return stream;
}

/** A {@linkcode ByteStream} over one end of a `MessageChannel`. */
class PortStream implements ByteStream {
  readonly #port: Port;
  readonly #agent: Agent;
  readonly #id: string;
  #closed = false;
  /**
   * The peer closed or its thread ended: nothing more is written, and what
   * it sent before is still delivered, then the close (as a socket's EOF).
   */
  #peerClosed = false;
  /** Bytes written that the reader has not delivered (as far as it told). */
  #buffered = 0;
  readonly #drain = new DrainWaiters();
  #asked = false;
  #pending: Uint8Array[] = [];
  #flushQueued = false;
  #onData: ((chunk: Uint8Array) => void) | null = null;
  readonly #inbox: (Uint8Array | "end" | "close")[] = [];
  #paused = false;
  #unacked = 0;
  #wantAck = false;
  readonly #closeCallbacks: (() => void)[] = [];
  #endWaiter: (() => void) | null = null;

  constructor(port: MessagePort, agent: Agent, id: string) {
    this.#port = port as Port;
    this.#agent = agent;
    this.#id = id;
    agent.streams.set(id, this);
    this.#port.onmessage = (event) => this.#receive(event.data);
    // The peer's runtime was torn down, or it closed its end (see `closeEvents`).
    if (closeEvents) this.#port.addEventListener("close", () => this.#closedByPeer());
  }

  #receive(data: unknown): void {
    if (this.#closed) return;
    if (typeof data === "number") {
      this.#buffered -= data;
      this.#asked = false;
      this.#drain.wake(this.#buffered, false);
      if (this.#drain.waiting > 0) this.#ask();
    } else if (data === "want") {
      this.#wantAck = true;
      this.#deliver();
    } else {
      const item = data as Uint8Array | "end" | "close";
      // Data that arrives after the peer was found gone still goes before its close.
      const last = this.#inbox.length - 1;
      if (this.#peerClosed && last >= 0 && this.#inbox[last] === "close") {
        this.#inbox.splice(last, 0, item);
      } else this.#inbox.push(item);
      this.#deliver();
    }
  }

  /** The peer is gone: stop writing, wake the writers, deliver what came, then close. */
  #closedByPeer(): void {
    if (this.#closed || this.#peerClosed) return;
    this.#peerClosed = true;
    this.#pending = [];
    this.#buffered = 0;
    this.#drain.wake(0, true);
    const waiter = this.#endWaiter;
    this.#endWaiter = null;
    waiter?.();
    this.#inbox.push("close");
    this.#deliver();
  }

  #ask(): void {
    if (this.#asked || this.#closed) return;
    this.#asked = true;
    this.#port.postMessage("want");
  }

  #deliver(): void {
    while (!this.#paused && this.#onData && this.#inbox.length > 0 && !this.#closed) {
      const item = this.#inbox.shift()!;
      if (item === "end") {
        this.#port.postMessage("close");
        this.#fireClose();
        return;
      }
      if (item === "close") {
        this.#fireClose();
        return;
      }
      this.#unacked += item.byteLength;
      this.#onData(item);
    }
    if (this.#closed || this.#paused) return;
    if (this.#unacked >= ACK_BYTES || (this.#wantAck && this.#unacked > 0)) {
      this.#port.postMessage(this.#unacked);
      this.#unacked = 0;
      this.#wantAck = false;
    }
  }

  #flush = (): void => {
    this.#flushQueued = false;
    if (this.#closed || this.#pending.length === 0) return;
    const chunks = this.#pending;
    this.#pending = [];
    if (chunks.length === 1) {
      this.#port.postMessage(chunks[0]);
      return;
    }
    const all = concatBytes(chunks);
    this.#port.postMessage(all, [all.buffer as ArrayBuffer]); // a new array: its buffer is ours to move
  };

  write(data: Uint8Array): void {
    if (this.#closed || this.#peerClosed || data.byteLength === 0) return;
    this.#pending.push(data);
    this.#buffered += data.byteLength;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  get buffered(): number {
    return this.#buffered;
  }

  drained(limit: number): Promise<void> {
    const wait = this.#drain.wait(limit, this.#buffered, this.#closed || this.#peerClosed);
    if (this.#drain.waiting > 0) this.#ask();
    return wait;
  }

  onData(callback: (chunk: Uint8Array) => void): void {
    this.#onData = callback;
    this.#deliver();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#deliver();
  }

  onClose(callback: () => void): void {
    if (this.#closed) queueMicrotask(callback);
    else this.#closeCallbacks.push(callback);
  }

  /**
   * Flushes, says "end", and waits for the peer's "close" (sent once its
   * reader delivered everything before the end), or for the peer to be
   * found gone: like a socket's end, which waits while the peer's buffers
   * are full. No timeout: a reader that has not read yet still gets it all.
   */
  async end(): Promise<void> {
    if (this.#closed) return;
    if (!this.#peerClosed) {
      this.#flush();
      this.#port.postMessage("end");
      await new Promise<void>((resolve) => (this.#endWaiter = resolve));
    }
    this.#fireClose();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#port.postMessage("close");
    this.#fireClose();
  }

  /**
   * The hub says the peer's thread ended. That news comes on the broker
   * port, which may run before the peer's last messages on this stream's
   * port: they were posted before it ended, so one more turn of the event
   * loop lets them in first.
   */
  peerGone(): void {
    setTimeout(() => this.#closedByPeer(), 0);
  }

  ref(): void {
    this.#port.ref?.();
  }

  unref(): void {
    this.#port.unref?.();
  }

  #fireClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#inbox.length = 0;
    this.#buffered = 0;
    this.#drain.wake(0, true);
    const waiter = this.#endWaiter;
    this.#endWaiter = null;
    waiter?.();
    this.#port.onmessage = null;
    this.#port.close();
    this.#agent.streams.delete(this.#id);
    this.#agent.toHub({ t: "drop", stream: this.#id });
    for (const cb of this.#closeCallbacks.splice(0)) cb();
  }
}

let agent: Agent | null = null;
let timers: Timers | null = null;
/** Whether a port's `close` event means its peer closed it or was torn down (see `messagePortTransport`). */
let closeEvents = false;
/** Whether the hub makes rings for the streams it connects (see `MessagePortOptions.rings`). */
let rings = false;
/** Streams opened through this module, for tests and measurements. */
let opened = 0;

/** Joins the hub through `grant` (a worker, before anything listens or connects). */
export function joinHub(grant: BrokerGrant): void {
  const port = grant.port as Port;
  const self = new Agent(
    grant.hub,
    grant.agent,
    (message, transfer = []) => port.postMessage(message, transfer),
    (on) => on ? port.ref?.() : port.unref?.(),
  );
  port.onmessage = (event) => self.receive(event.data as ToAgent);
  port.unref?.();
  agent = self;
}

/** This thread's agent: the one that joined a hub, or a new hub of its own. */
function localAgent(): Agent {
  if (agent) return agent;
  const hub = new Hub();
  const self = new Agent(
    crypto.randomUUID(),
    "0",
    (message) => hub.handle("0", message),
  );
  hub.agents.set("0", {
    send: (message) => self.receive(message),
    parent: null,
    alive: true,
    close() {},
  });
  return (agent = self);
}

/** The tree transport over `MessagePort`s, with a broker for each worker this thread starts. */
export interface MessagePortTransport extends Transport {
  /** A broker port for a worker about to start; call `gone()` once it has ended. */
  grant(): BrokerGrant & { gone(): void };
  /** How many streams this thread opened or accepted through it. */
  readonly opened: number;
}

/** How the `MessagePort` transport is told of its runtime. */
export interface MessagePortOptions {
  /** Timers that let `end()` wait without keeping the program alive. */
  timers?: Timers;
  /**
   * Whether a port's `close` event is to be trusted: fired only once its
   * peer port closed or the peer's runtime was torn down (Deno 2.9.6, and
   * browsers that have the event). Bun 1.4.5 also fires it on a live
   * worker's ports (measured: a broker port closes right after the worker
   * first connects), so there the hub learns of deaths only from launchers.
   */
  closeEvents?: boolean;
  /**
   * The streams' bytes go through shared memory (two rings a stream, see
   * _ring_stream.ts) instead of being posted on their ports. Read by the
   * hub, which makes the rings: the main thread's option decides for every
   * thread of the tree.
   */
  rings?: boolean;
}

/** The `MessagePort` transport. */
export function messagePortTransport(options: MessagePortOptions = {}): MessagePortTransport {
  timers ??= options.timers ?? null;
  closeEvents = options.closeEvents ?? false;
  rings = options.rings ?? false;
  return {
    name: rings ? "ring" : "message-port",
    listen(onConnection) {
      return localAgent().listen((stream) => {
        opened++;
        onConnection(stream);
      });
    },
    reaches(address) {
      return address.startsWith(`mp:${localAgent().hub}:`);
    },
    async connect(address) {
      const stream = await localAgent().connect(address);
      opened++;
      return stream;
    },
    grant: () => localAgent().grant(),
    get opened() {
      return opened;
    },
  };
}
