/**
 * Unix and TCP sockets through `Bun.listen` / `Bun.connect`: listening is
 * synchronous (a taken address fails at once, the real port is known at
 * once) and writes that the kernel does not take whole are queued until
 * the socket drains.
 *
 * @module
 */

import * as fs from "node:fs";
import type { ByteStream, ServerHandle, SocketTransport } from "../core/host.ts";
import { DrainWaiters, nextWrite } from "./_drain.ts";

/** The part of Bun's socket API this file uses. */
interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
  terminate?(): void;
  ref(): void;
  unref(): void;
  pause(): void;
  resume(): void;
  setNoDelay?(on: boolean): void;
  data: SocketState;
}
interface BunListener {
  port?: number;
  stop(closeActive?: boolean): void;
  unref(): void;
}
interface SocketHandlers {
  open?(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  close(socket: BunSocket): void;
  error?(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}
interface BunSockets {
  listen(options: Record<string, unknown>): BunListener;
  connect(options: Record<string, unknown>): Promise<BunSocket>;
}

interface SocketState {
  stream: ByteStream;
  deliver(chunk: Uint8Array): void;
  drain(): void;
  closed(): void;
}

function bun(): BunSockets {
  return (globalThis as unknown as { Bun: BunSockets }).Bun;
}

function attach(socket: BunSocket): SocketState {
  let closed = false;
  let onData: ((chunk: Uint8Array) => void) | null = null;
  const early: Uint8Array[] = [];
  const closeCallbacks: (() => void)[] = [];
  // Writes made in one tick go out together at its end (one system call for
  // a burst of small messages, e.g. queue puts); bytes the kernel did not
  // take wait for `drain`.
  let pending: Uint8Array[] = [];
  let scheduled = false;
  let blocked = false;
  let ending: (() => void) | null = null;
  /** Bytes written and not yet taken by the OS. */
  let buffered = 0;
  const drainWaiters = new DrainWaiters();

  const wakeDrained = () => drainWaiters.wake(buffered, closed);

  /** Writes `data`; false when the kernel did not take all of it (the rest waits for drain). */
  const put = (data: Uint8Array, rest: Uint8Array[]): boolean => {
    const n = socket.write(data);
    if (n < 0) return false; // closed
    buffered -= n;
    if (n < data.byteLength) {
      pending = [data.subarray(n), ...rest];
      blocked = true;
      return false;
    }
    return true;
  };

  const flush = () => {
    scheduled = false;
    if (closed || blocked) return;
    while (pending.length > 0) {
      // Small chunks are joined into one write; a large one goes alone.
      const chunks = pending;
      pending = [];
      let i = 0;
      while (i < chunks.length) {
        const { data, end } = nextWrite(chunks, i);
        if (!put(data, chunks.slice(end))) {
          wakeDrained();
          return;
        }
        i = end;
      }
    }
    wakeDrained();
    if (ending) {
      const done = ending;
      ending = null;
      done();
    }
  };

  const stream: ByteStream = {
    write(data) {
      if (closed) return;
      pending.push(data);
      buffered += data.byteLength;
      if (!scheduled && !blocked) {
        scheduled = true;
        queueMicrotask(flush);
      }
    },
    get buffered() {
      return buffered;
    },
    drained(limit) {
      return drainWaiters.wait(limit, buffered, closed);
    },
    onData(callback) {
      onData = callback;
      for (const chunk of early.splice(0)) callback(chunk);
    },
    onClose(callback) {
      if (closed) queueMicrotask(callback);
      else closeCallbacks.push(callback);
    },
    end() {
      if (closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        closeCallbacks.push(resolve);
        const finish = () => socket.end();
        if (pending.length === 0) finish();
        else ending = finish;
        // A peer that never closes must not hold us forever.
        const timer = setTimeout(() => socket.terminate?.() ?? socket.end(), 5000);
        (timer as { unref?: () => void }).unref?.();
      });
    },
    destroy() {
      // What was written before goes out first, as it would have unbatched.
      if (!closed && !blocked) flush();
      pending = [];
      if (socket.terminate) socket.terminate();
      else socket.end();
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    ref: () => socket.ref(),
    unref: () => socket.unref(),
  };
  const state: SocketState = {
    stream,
    deliver(chunk) {
      // Bun reuses its read buffer: copy before handing the chunk on.
      const copy = new Uint8Array(chunk);
      if (onData) onData(copy);
      else early.push(copy);
    },
    drain() {
      blocked = false;
      flush();
    },
    closed() {
      if (closed) return;
      closed = true;
      pending = [];
      buffered = 0;
      wakeDrained();
      for (const cb of closeCallbacks.splice(0)) cb();
    },
  };
  socket.data = state;
  socket.setNoDelay?.(true);
  return state;
}

const handlers: SocketHandlers = {
  data: (socket, data) => socket.data.deliver(data),
  drain: (socket) => socket.data.drain(),
  close: (socket) => socket.data?.closed(),
  error: (socket) => socket.data?.closed(),
};

function listen(
  options: Record<string, unknown>,
  onConnection: (stream: ByteStream) => void,
): BunListener {
  return bun().listen({
    ...options,
    socket: { ...handlers, open: (socket: BunSocket) => onConnection(attach(socket).stream) },
  });
}

/** The native Bun socket transport. */
export const bunSocketTransport: SocketTransport = {
  listenUnix(path, onConnection): ServerHandle {
    const listener = listen({ unix: path }, onConnection);
    fs.chmodSync(path, 0o600);
    listener.unref();
    return { close: () => listener.stop(true) };
  },
  async connectUnix(path) {
    let state: SocketState | null = null;
    await bun().connect({
      unix: path,
      socket: { ...handlers, open: (socket: BunSocket) => void (state = attach(socket)) },
    });
    return (state as unknown as SocketState).stream;
  },
  listenTcp(hostname, port, onConnection) {
    const listener = listen({ hostname, port }, onConnection);
    return { port: listener.port ?? port, close: () => listener.stop(true) };
  },
  async connectTcp(hostname, port) {
    let state: SocketState | null = null;
    await bun().connect({
      hostname,
      port,
      socket: { ...handlers, open: (socket: BunSocket) => void (state = attach(socket)) },
    });
    return (state as unknown as SocketState).stream;
  },
};
