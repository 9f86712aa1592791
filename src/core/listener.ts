/**
 * `Listener` and `Client`, as Python's `multiprocessing.connection`: they
 * connect processes that were not started by each other, on a unix socket
 * path or a TCP `[host, port]`. Both sides run the mutual HMAC-SHA256
 * challenge on the `authkey` before anything else is read: a wrong key is
 * an `AuthenticationError` on both sides and nothing is served.
 *
 * @module
 */

import { requirePermissions } from "./_permissions.ts";
import type { ByteStream, ServerHandle } from "./host.ts";
import { Connection } from "./connection.ts";
import {
  Channel,
  checkMaxMessageSize,
  DEFAULT_MAX_MESSAGE_SIZE,
  HandshakeGate,
} from "./_wire/channel.ts";
import { connectStream, localEndpoint, parseTcp, tcpAddress } from "./_wire/endpoint.ts";

export { DEFAULT_MAX_MESSAGE_SIZE };
import { getHost } from "./host.ts";
import { processState } from "./_state.ts";
import { AuthenticationError, OSError } from "./errors.ts";
import { randomId } from "./_util.ts";

/** An address: a unix socket path, or a TCP `[host, port]`. */
export type Address = string | readonly [host: string, port: number];

/** The options of `new Listener(...)`. */
export interface ListenerOptions {
  /** Where to listen; a new private unix socket when omitted; port 0 picks a free port. */
  address?: Address;
  /** The key both sides prove (default: `currentProcess().authkey`); may be empty. */
  authkey?: Uint8Array | string;
  /**
   * The largest message, in bytes, a connection accepted here sends or
   * receives (default 256 MiB, {@linkcode DEFAULT_MAX_MESSAGE_SIZE}): a
   * larger one arriving closes that connection (its `recv()` rejects with
   * `OSError`); a larger one sent rejects with `ValueError`.
   */
  maxMessageSize?: number;
}

/** The options of `Client(...)`. */
export interface ClientOptions {
  /** The key both sides prove (default: `currentProcess().authkey`). */
  authkey?: Uint8Array | string;
  /** The largest message, in bytes, sent or received (as {@linkcode ListenerOptions.maxMessageSize}). */
  maxMessageSize?: number;
}

/** @internal An address as the node writes it. */
export function addressString(address: Address): string {
  if (typeof address === "string") return address;
  if (!Array.isArray(address) || address.length !== 2 || typeof address[1] !== "number") {
    throw new TypeError(
      `An address is a unix socket path or [host, port]: received ${String(address)}`,
    );
  }
  return tcpAddress(address[0] || "127.0.0.1", address[1]);
}

/** @internal The key bytes of an authkey option. */
export function keyBytes(authkey: Uint8Array | string | undefined): Uint8Array {
  if (authkey === undefined) return processState().authkey;
  return typeof authkey === "string" ? new TextEncoder().encode(authkey) : authkey;
}

/**
 * Accepts authenticated connections on an address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Listener } from "@procs/multiprocessing";
 * await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "secret" });
 * const client = await Client(listener.address, { authkey: "secret" });
 * const server = await listener.accept();
 * await client.send("ping");
 * assert.equal(await server.recv(), "ping");
 * client.close();
 * server.close();
 * ```
 */
export class Listener implements AsyncDisposable {
  readonly #server: ServerHandle;
  readonly #address: Address;
  readonly #path: string | null;
  readonly #ready: (Connection | Error)[] = [];
  #waiters: ((value: Connection | Error) => void)[] = [];
  #closed = false;

  /**
   * Listens at once; a taken address throws `OSError`.
   *
   * @throws {OSError} when the address is in use
   */
  constructor(options: ListenerOptions = {}) {
    const key = keyBytes(options.authkey);
    const maxMessageSize = checkMaxMessageSize(options.maxMessageSize);
    // Peers that do not prove the key in time are closed; a flood of them
    // evicts the oldest, so a legitimate client still gets in.
    const gate = new HandshakeGate();
    if (options.address === undefined) requirePermissions({ method: null, modules: [] });
    const address = options.address ?? `${localEndpoint().privateDir}/listener-${randomId(6)}.sock`;
    const accept = async (stream: ByteStream) => {
      const channel = new Channel(stream, { maxMessageSize });
      channel.expectRaw();
      let conn: Connection | null = null;
      try {
        await channel.handshake(key, "server", gate);
        conn = Connection._overChannel(channel);
      } catch (error) {
        this.#deliver(error instanceof Error ? error : new AuthenticationError(String(error)));
        return;
      }
      this.#deliver(conn);
    };
    const transport = getHost().transport;
    try {
      const s = addressString(address);
      const tcp = parseTcp(s);
      if (tcp) {
        const server = transport.listenTcp(tcp.host, tcp.port, (stream) => void accept(stream));
        this.#server = server;
        this.#address = [tcp.host, server.port];
        this.#path = null;
      } else {
        this.#server = transport.listenUnix(s, (stream) => void accept(stream));
        this.#address = s;
        this.#path = s;
      }
    } catch (error) {
      throw new OSError(
        `Cannot listen on ${JSON.stringify(address)}: ${(error as Error)?.message ?? error} ` +
          `(is another Listener or manager using it?)`,
        { cause: error },
      );
    }
  }

  /** The address listened on (with the real port when 0 was asked). */
  get address(): Address {
    return this.#address;
  }

  #deliver(value: Connection | Error): void {
    if (this.#closed) {
      if (value instanceof Connection) value.close();
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(value);
    else this.#ready.push(value);
  }

  /**
   * Waits for the next connection that proves the key. A peer that fails
   * the challenge rejects this call with `AuthenticationError`; on a closed
   * listener (or when it is closed while this waits) it rejects with
   * `OSError`, as Python's does.
   */
  async accept(): Promise<Connection> {
    if (this.#closed) {
      throw new OSError("The listener is closed: make a new Listener to accept connections");
    }
    const next = this.#ready.shift() ??
      await new Promise<Connection | Error>((r) => this.#waiters.push(r));
    if (next instanceof Error) throw next;
    return next;
  }

  /** Stops listening (and removes a unix socket file). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    if (this.#path) getHost().removePrivateDir(this.#path);
    for (const w of this.#waiters.splice(0)) w(new OSError("The listener was closed"));
  }

  /** Closes (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * Connects to a `Listener` (or a manager) and proves the key; a wrong key
 * rejects with `AuthenticationError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client, Listener } from "@procs/multiprocessing";
 * const listener = new Listener({ authkey: "" });
 * const [client, server] = await Promise.all([
 *   Client(listener.address, { authkey: "" }),
 *   listener.accept(),
 * ]);
 * await server.send("welcome");
 * assert.equal(await client.recv(), "welcome");
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export async function Client(address: Address, options: ClientOptions = {}): Promise<Connection> {
  const key = keyBytes(options.authkey);
  const maxMessageSize = checkMaxMessageSize(options.maxMessageSize);
  const stream = await connectStream(addressString(address), false).catch((error) => {
    throw new OSError(
      `Cannot connect to ${JSON.stringify(address)}: ${(error as Error)?.message ?? error}`,
      {
        cause: error,
      },
    );
  });
  const channel = new Channel(stream, { maxMessageSize });
  channel.expectRaw();
  await channel.handshake(key, "client");
  return Connection._overChannel(channel);
}
