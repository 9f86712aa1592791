/**
 * Unix domain sockets through `Deno.listen` / `Deno.connect`: they need
 * read and write permission on the socket path, not network permission
 * (`node:net` asks for `--allow-net` even for a unix path).
 *
 * @module
 */

import type { ByteStream, ServerHandle, SocketTransport } from "../core/host.ts";
import { DrainWaiters, nextWrite } from "./_drain.ts";

/** The read buffer a connection starts with: enough for the challenge and small messages. */
const READ_MIN = 4 * 1024;
/** The read buffer never grows past this. */
const READ_MAX = 256 * 1024;

/**
 * Wraps a connection. Its read buffer starts small and doubles while reads
 * fill it, halving again after a run of small reads, so an idle connection
 * costs a few KiB instead of the largest read; writes are counted until the OS has
 * taken them, for {@linkcode ByteStream.drained}.
 */
function wrap(conn: Deno.Conn): ByteStream {
  let closed = false;
  const receiver: { onData: ((chunk: Uint8Array) => void) | null } = { onData: null };
  const early: Uint8Array[] = [];
  const closeCallbacks: (() => void)[] = [];
  let pending: Uint8Array[] = [];
  let flushing: Promise<void> | null = null;
  /** Bytes written and not yet taken by the OS. */
  let buffered = 0;
  const drainWaiters = new DrainWaiters();
  /** Set while reading is paused: the read loop waits on it. */
  let paused: { promise: Promise<void>; resolve: () => void } | null = null;
  let readDone!: () => void;
  const readFinished = new Promise<void>((resolve) => (readDone = resolve));

  const wakeDrained = () => drainWaiters.wake(buffered, closed);

  const fireClose = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
    pending = [];
    buffered = 0;
    wakeDrained();
    paused?.resolve();
    for (const cb of closeCallbacks.splice(0)) cb();
  };

  (async () => {
    let buf = new Uint8Array(READ_MIN);
    let small = 0;
    try {
      for (;;) {
        const wait = paused as { promise: Promise<void> } | null;
        if (wait) await wait.promise;
        if (closed) break;
        const n = await conn.read(buf);
        if (n === null) break;
        // A full read hands over the buffer itself (no copy) and reads next
        // into a new one, twice as large up to the limit.
        const full = n === buf.byteLength;
        const chunk = full ? buf : buf.slice(0, n);
        if (full) {
          small = 0;
          buf = new Uint8Array(n < READ_MAX ? n * 2 : n);
        } else if (n <= buf.byteLength >> 2 && buf.byteLength > READ_MIN && ++small >= 8) {
          // Eight small reads in a row: the traffic is small now.
          small = 0;
          buf = new Uint8Array(buf.byteLength >> 1);
        }
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
      // Small chunks are joined into one write; a large one goes alone.
      for (let i = 0; i < chunks.length;) {
        const { data, end } = nextWrite(chunks, i);
        i = end;
        let written = 0;
        while (written < data.byteLength) {
          const n = await conn.write(data.subarray(written));
          written += n;
          if (closed) return;
          buffered -= n;
          wakeDrained();
        }
      }
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
      buffered += data.byteLength;
      startFlush();
    },
    get buffered() {
      return buffered;
    },
    drained(limit) {
      return drainWaiters.wait(limit, buffered, closed);
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
      let timer: number | undefined;
      await Promise.race([
        readFinished,
        new Promise<void>((resolve) => {
          // Deno's own timer, unref'd: `node:timers` would cost every process ~9 ms to load.
          timer = setTimeout(resolve, 5000) as unknown as number;
          Deno.unrefTimer(timer);
        }),
      ]);
      clearTimeout(timer);
      fireClose();
    },
    pause() {
      if (paused || closed) return;
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      paused = { promise, resolve };
    },
    resume() {
      const p = paused;
      paused = null;
      p?.resolve();
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
