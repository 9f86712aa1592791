/**
 * Unix-socket ping-pong and bulk transfer without the library, over three
 * transports: `Deno.listen`/`Deno.connect` and `Bun.listen`/`Bun.connect`
 * (the runtimes' own, which the library's adapters use), and `node:net`.
 *
 * The peer either echoes bytes as they come ("echo"), or counts them and
 * writes one byte back each time a whole batch has arrived ("sink").
 *
 * @module
 */

import * as net from "node:net";

/** A socket API. */
export type Transport = "deno" | "node" | "bun";

/** What the peer does with the bytes it receives. */
export type PeerMode = { kind: "echo" } | { kind: "sink"; batchBytes: number };

/** The listening end of a connection. */
export interface Pinger {
  /** Writes `message` and resolves once as many bytes have come back (an echo peer). */
  roundTrip(message: Uint8Array): Promise<void>;
  /** Writes `buf` `count` times and resolves on the sink peer's one-byte answer. */
  pump(buf: Uint8Array, count: number): Promise<void>;
  /** Closes the connection (the peer sees end of stream and stops). */
  close(): void;
}

/** The runtime's own socket API. */
export const NATIVE_TRANSPORT: Transport = "Bun" in globalThis ? "bun" : "deno";

/**
 * The transport the library's adapter uses on this runtime: its native
 * sockets on both (src/adapters/deno_socket.ts, src/adapters/bun_socket.ts).
 */
export const ADAPTER_TRANSPORT: Transport = NATIVE_TRANSPORT;

/** Listens on `path` and resolves with the first connection, then stops listening. */
export function listenOnce(
  path: string,
  transport: Transport,
): { accepted: Promise<Pinger>; close(): void } {
  switch (transport) {
    case "deno":
      return denoListenOnce(path);
    case "node":
      return nodeListenOnce(path);
    case "bun":
      return bunListenOnce(path);
  }
}

/** Connects to `path` and echoes or counts bytes until the other end closes. */
export function runPeer(path: string, transport: Transport, mode: PeerMode): Promise<void> {
  switch (transport) {
    case "deno":
      return denoPeer(path, mode);
    case "node":
      return nodePeer(path, mode);
    case "bun":
      return bunPeer(path, mode);
  }
}

/** Calls `answer(bytes)` with what to write back for each chunk received. */
function peerLogic(mode: PeerMode): (chunk: Uint8Array) => Uint8Array | null {
  if (mode.kind === "echo") return (chunk) => chunk;
  let count = 0;
  const one = new Uint8Array(1);
  return (chunk) => {
    count += chunk.byteLength;
    if (count < mode.batchBytes) return null;
    count -= mode.batchBytes;
    return one;
  };
}

/** Resolves waiters as bytes come back: a round trip waits for n bytes, a pump for 1. */
class Waiter {
  #expected = 0;
  #got = 0;
  #resolve: (() => void) | null = null;
  #reject: ((error: Error) => void) | null = null;

  wait(expected: number): Promise<void> {
    this.#expected = expected;
    this.#got = 0;
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  received(n: number): void {
    this.#got += n;
    if (this.#got >= this.#expected && this.#resolve) {
      const resolve = this.#resolve;
      this.#resolve = this.#reject = null;
      resolve();
    }
  }

  closed(): void {
    this.#reject?.(new Error("the peer closed the socket"));
    this.#resolve = this.#reject = null;
  }
}

function denoListenOnce(path: string): { accepted: Promise<Pinger>; close(): void } {
  const listener = Deno.listen({ transport: "unix", path });
  const accepted = listener.accept().then((conn): Pinger => {
    listener.close();
    const waiter = new Waiter();
    (async () => {
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await conn.read(buf);
          if (n === null) break;
          waiter.received(n);
        }
      } catch {
        // closed here
      }
      waiter.closed();
    })();
    const writeAll = async (data: Uint8Array) => {
      let written = 0;
      while (written < data.byteLength) written += await conn.write(data.subarray(written));
    };
    return {
      async roundTrip(message) {
        const back = waiter.wait(message.byteLength);
        await writeAll(message);
        await back;
      },
      async pump(buf, count) {
        const back = waiter.wait(1);
        for (let i = 0; i < count; i++) await writeAll(buf);
        await back;
      },
      close: () => conn.close(),
    };
  });
  return {
    accepted,
    close() {
      try {
        listener.close();
      } catch {
        // closed once the peer was accepted
      }
    },
  };
}

async function denoPeer(path: string, mode: PeerMode): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path });
  const answer = peerLogic(mode);
  const buf = new Uint8Array(256 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      const reply = answer(buf.subarray(0, n));
      let written = 0;
      while (reply && written < reply.byteLength) {
        written += await conn.write(reply.subarray(written));
      }
    }
  } catch {
    // the pinger is gone
  }
  try {
    conn.close();
  } catch {
    // already closed
  }
}

function nodePinger(socket: net.Socket): Pinger {
  socket.setNoDelay(true);
  const waiter = new Waiter();
  socket.on("data", (chunk: Uint8Array) => waiter.received(chunk.byteLength));
  socket.on("close", () => waiter.closed());
  socket.on("error", () => socket.destroy());
  return {
    roundTrip(message) {
      const back = waiter.wait(message.byteLength);
      socket.write(message);
      return back;
    },
    pump(buf, count) {
      const back = waiter.wait(1);
      for (let i = 0; i < count; i++) socket.write(buf);
      return back;
    },
    close: () => socket.destroy(),
  };
}

function nodeListenOnce(path: string): { accepted: Promise<Pinger>; close(): void } {
  const server = net.createServer();
  const accepted = new Promise<Pinger>((resolve, reject) => {
    server.once("error", reject);
    server.once("connection", (socket: net.Socket) => {
      server.close();
      resolve(nodePinger(socket));
    });
    server.listen(path);
  });
  return { accepted, close: () => server.close() };
}

function nodePeer(path: string, mode: PeerMode): Promise<void> {
  const answer = peerLogic(mode);
  return new Promise<void>((resolve) => {
    const socket = net.connect(path);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Uint8Array) => {
      const reply = answer(chunk);
      if (reply) socket.write(reply);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => resolve());
  });
}

/** The part of Bun's socket API used here. */
interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
}
interface BunSocketHandlers {
  open?(socket: BunSocket): void;
  data?(socket: BunSocket, data: Uint8Array): void;
  drain?(socket: BunSocket): void;
  close?(socket: BunSocket): void;
  error?(socket: BunSocket, error: Error): void;
}
interface BunSockets {
  listen(options: { unix: string; socket: BunSocketHandlers }): { stop(force?: boolean): void };
  connect(options: { unix: string; socket: BunSocketHandlers }): Promise<BunSocket>;
}

function bun(): BunSockets {
  return (globalThis as unknown as { Bun: BunSockets }).Bun;
}

/**
 * Writes in order without blocking: what the kernel does not take now
 * (Bun's `write` returns how much it took and buffers nothing) waits for
 * "drain".
 */
class BunWriter {
  #pending: Uint8Array[] = [];
  #flushed: (() => void)[] = [];
  constructor(readonly socket: BunSocket) {}

  write(data: Uint8Array): void {
    if (this.#pending.length === 0) {
      const n = Math.max(0, this.socket.write(data));
      if (n >= data.byteLength) return;
      this.#pending.push(data.slice(n)); // the caller may reuse `data`
    } else this.#pending.push(data.slice());
  }

  onDrain(): void {
    while (this.#pending.length > 0) {
      const head = this.#pending[0];
      const n = Math.max(0, this.socket.write(head));
      if (n < head.byteLength) {
        this.#pending[0] = head.subarray(n);
        return;
      }
      this.#pending.shift();
    }
    for (const flushed of this.#flushed.splice(0)) flushed();
  }

  /** Writes `data` and resolves once the kernel took all of it. */
  async writeAll(data: Uint8Array): Promise<void> {
    this.write(data);
    if (this.#pending.length > 0) await new Promise<void>((r) => this.#flushed.push(r));
  }
}

function bunListenOnce(path: string): { accepted: Promise<Pinger>; close(): void } {
  const waiter = new Waiter();
  let writer: BunWriter | null = null;
  let resolveAccepted!: (pinger: Pinger) => void;
  const accepted = new Promise<Pinger>((resolve) => (resolveAccepted = resolve));
  const server = bun().listen({
    unix: path,
    socket: {
      open(socket) {
        if (writer) return socket.end();
        const w = new BunWriter(socket);
        writer = w;
        server.stop();
        resolveAccepted({
          async roundTrip(message) {
            const back = waiter.wait(message.byteLength);
            await w.writeAll(message);
            await back;
          },
          async pump(buf, count) {
            const back = waiter.wait(1);
            for (let i = 0; i < count; i++) await w.writeAll(buf);
            await back;
          },
          close: () => socket.end(),
        });
      },
      data: (_socket, data) => waiter.received(data.byteLength),
      drain: () => writer?.onDrain(),
      close: () => waiter.closed(),
    },
  });
  return { accepted, close: () => server.stop() };
}

function bunPeer(path: string, mode: PeerMode): Promise<void> {
  const answer = peerLogic(mode);
  let writer: BunWriter | null = null;
  return new Promise<void>((resolve, reject) => {
    bun().connect({
      unix: path,
      socket: {
        open(socket) {
          writer = new BunWriter(socket);
        },
        data(_socket, data) {
          const reply = answer(data);
          if (reply) writer?.write(reply);
        },
        drain: () => writer?.onDrain(),
        close: () => resolve(),
        error: () => resolve(),
      },
    }).catch(reject);
  });
}
