/**
 * This process's endpoint in the process tree: it listens on every tree
 * transport the host offers (a unix socket, a `MessagePort` hub...), keeps
 * the authenticated channels to other endpoints (one per address), and
 * serves its handlers on other addresses too (a manager's TCP address).
 * Addresses are opaque: only the transport that made one reads it.
 *
 * @module
 */

import type { ByteStream, Transport } from "../host.ts";
import { OSError } from "../errors.ts";
import { getHost } from "../host.ts";
import { processState } from "../_state.ts";
import { sleep } from "../_util.ts";
import {
  Channel,
  type ChannelOptions,
  HandshakeGate,
  TREE_HANDSHAKE_DEADLINE,
  TREE_MAX_UNAUTHENTICATED,
} from "./channel.ts";
// Every process that has an endpoint answers requests.
import "./rpc.ts";

/** This process's endpoint and its connections. */
export class Endpoint {
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

let local: Endpoint | undefined;

/** This process's endpoint. */
export function localEndpoint(): Endpoint {
  return (local ??= new Endpoint());
}
