/**
 * Unix domain sockets through `node:net`, which Deno and Bun both provide.
 *
 * @module
 */

import * as net from "node:net";
import * as fs from "node:fs";
import type { ByteStream, ServerHandle, SocketTransport } from "./types.ts";

function wrap(socket: net.Socket): ByteStream {
  let closed = false;
  const closeCallbacks: (() => void)[] = [];
  const fireClose = () => {
    if (closed) return;
    closed = true;
    for (const cb of closeCallbacks) cb();
  };
  socket.on("close", fireClose);
  socket.on("error", () => socket.destroy());
  socket.setNoDelay?.(true);
  return {
    write(data) {
      if (!closed && !socket.destroyed) socket.write(data);
    },
    onData(callback) {
      socket.on("data", (chunk: Uint8Array) => callback(chunk));
    },
    onClose(callback) {
      if (closed) queueMicrotask(callback);
      else closeCallbacks.push(callback);
    },
    end() {
      if (closed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        closeCallbacks.push(resolve);
        socket.end();
        // A peer that never closes its side must not hold us forever.
        const timer = setTimeout(() => socket.destroy(), 5000);
        (timer as { unref?: () => void }).unref?.();
      });
    },
    destroy() {
      socket.destroy();
    },
    ref() {
      socket.ref();
    },
    unref() {
      socket.unref();
    },
  };
}

/** The `node:net` socket transport. */
export const nodeSocketTransport: SocketTransport = {
  listenUnix(path, onConnection) {
    return new Promise<ServerHandle>((resolve, reject) => {
      const server = net.createServer((socket) => onConnection(wrap(socket)));
      server.once("error", reject);
      server.listen(path, () => {
        fs.chmodSync(path, 0o600);
        server.unref();
        resolve({
          close: () => new Promise<void>((r) => server.close(() => r())),
        });
      });
    });
  },
  connectUnix(path) {
    return new Promise<ByteStream>((resolve, reject) => {
      const socket = net.connect(path);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(wrap(socket));
      });
    });
  },
};
