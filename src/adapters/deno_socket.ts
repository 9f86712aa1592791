/**
 * Unix domain sockets through `Deno.listen` / `Deno.connect`: they need
 * read and write permission on the socket path, not network permission
 * (`node:net` asks for `--allow-net` even for a unix path).
 *
 * @module
 */

import { setTimeout as nodeSetTimeout } from "node:timers";
import type { ByteStream, ServerHandle, SocketTransport } from "./types.ts";

function wrap(conn: Deno.Conn): ByteStream {
  let closed = false;
  const receiver: { onData: ((chunk: Uint8Array) => void) | null } = { onData: null };
  const early: Uint8Array[] = [];
  const closeCallbacks: (() => void)[] = [];
  let pending: Uint8Array[] = [];
  let flushing: Promise<void> | null = null;
  let readDone!: () => void;
  const readFinished = new Promise<void>((resolve) => (readDone = resolve));

  const fireClose = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
    for (const cb of closeCallbacks.splice(0)) cb();
  };

  (async () => {
    const buf = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        const chunk = buf.slice(0, n);
        if (receiver.onData) receiver.onData(chunk);
        else early.push(chunk);
      }
    } catch {
      // reset by the peer, or closed here
    }
    readDone();
    fireClose();
  })();

  async function flush(): Promise<void> {
    while (pending.length > 0) {
      const chunks = pending;
      pending = [];
      let data: Uint8Array;
      if (chunks.length === 1) data = chunks[0];
      else {
        let size = 0;
        for (const c of chunks) size += c.byteLength;
        data = new Uint8Array(size);
        let at = 0;
        for (const c of chunks) {
          data.set(c, at);
          at += c.byteLength;
        }
      }
      let written = 0;
      while (written < data.byteLength) written += await conn.write(data.subarray(written));
    }
  }

  function startFlush(): Promise<void> {
    flushing ??= (async () => {
      try {
        await flush();
      } catch {
        fireClose();
      } finally {
        flushing = null;
      }
      // A write that came after the loop ended but before `flushing` was
      // cleared found a flush "running": start another for it.
      if (pending.length > 0 && !closed) await startFlush();
    })();
    return flushing;
  }

  return {
    write(data) {
      if (closed) return;
      pending.push(data);
      startFlush();
    },
    onData(callback) {
      receiver.onData = callback;
      for (const chunk of early.splice(0)) callback(chunk);
    },
    onClose(callback) {
      if (closed) queueMicrotask(callback);
      else closeCallbacks.push(callback);
    },
    async end() {
      if (closed) return;
      while (flushing || pending.length > 0) await startFlush();
      try {
        await conn.closeWrite();
      } catch {
        // the peer is gone already
      }
      // Wait for the peer to close its side, but never forever.
      let timer: ReturnType<typeof nodeSetTimeout> | undefined;
      await Promise.race([
        readFinished,
        new Promise<void>((resolve) => {
          timer = nodeSetTimeout(resolve, 5000);
          timer.unref();
        }),
      ]);
      clearTimeout(timer);
      fireClose();
    },
    destroy: fireClose,
    ref: () => conn.ref(),
    unref: () => conn.unref(),
  };
}

/** The native Deno socket transport. */
export const denoSocketTransport: SocketTransport = {
  listenUnix(path, onConnection): ServerHandle {
    const listener = Deno.listen({ transport: "unix", path });
    Deno.chmodSync(path, 0o600);
    listener.unref();
    (async () => {
      for await (const conn of listener) onConnection(wrap(conn));
    })().catch(() => {});
    return {
      close() {
        try {
          listener.close();
        } catch {
          // already closed
        }
      },
    };
  },
  async connectUnix(path) {
    return wrap(await Deno.connect({ transport: "unix", path }));
  },
  listenTcp(hostname, port, onConnection) {
    const listener = Deno.listen({ hostname, port });
    (async () => {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        onConnection(wrap(conn));
      }
    })().catch(() => {});
    return {
      port: (listener.addr as Deno.NetAddr).port,
      close() {
        try {
          listener.close();
        } catch {
          // already closed
        }
      },
    };
  },
  async connectTcp(hostname, port) {
    const conn = await Deno.connect({ hostname, port });
    conn.setNoDelay(true);
    return wrap(conn);
  },
};
