/**
 * The behaviour of `Listener`/`Client` and of managers, written once and run
 * for each start method. Cases come from CPython's _TestListener,
 * _TestListenerClient, _TestContainers, _TestMyManager, _TestRemoteManager
 * and _TestManagerRestart, ported to Promises; and what this library
 * promises beyond them: the mutual HMAC challenge before anything is read,
 * proxies that reach only exposed methods, a server that never imports or
 * runs code a client names, and bad frames that close one connection only.
 *
 * The security cases talk to live servers through raw `node:net` sockets,
 * speaking the wire format themselves (4-byte length frames, the challenge
 * with `node:crypto`, and the library's codec for well-formed messages).
 *
 * Children find their targets by export name in this module, so it
 * re-exports them; it registers no tests until `runManagerContract` is called.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { pageLacks } from "./_page.ts";
import net from "node:net";
import process from "node:process";
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  activeChildren,
  type Address,
  AuthenticationError,
  type AutoProxy,
  Client,
  type Connection,
  type DictProxy,
  EOFError,
  getContext,
  KeyError,
  Listener,
  type ListProxy,
  OSError,
  Pipe,
  type Process,
  RemoteError,
  type StartMethod,
  SyncManager,
  ValueError,
} from "../../mod.ts";
import { decode, encode, rebuildReduced } from "../../src/core/_wire/codec.ts";
import {
  mgrBarrierWait,
  type MgrCaught,
  mgrClientEcho,
  mgrErrorsInChild,
  mgrHoldThenUse,
  mgrHoldUntilKilled,
  mgrLatency,
  mgrLockedIncrements,
  MgrManager,
  mgrNotify,
  MgrQueueClient,
  mgrRecord,
  mgrSetKey,
  MgrStderrManager,
  mgrTouchNested,
  mgrUseCounter,
  mgrUsePrimitives,
} from "../testdata/manager_targets.ts";
import {
  assertSaidOnce,
  pidAlive,
  runScript,
  RUNTIME,
  type ScriptResult,
  testdata,
  waitFor,
} from "../_helpers.ts";
import { CHILD_MESSAGE } from "../testdata/uncaught_remote.ts";
import { StderrFile } from "../testdata/stderr_capture.ts";

export * from "../testdata/manager_targets.ts";

const T = { timeout: 60_000 };

const enc = new TextEncoder();
const CHALLENGE = enc.encode("#CHALLENGE#");
const WELCOME = enc.encode("#WELCOME#");
const FAILURE = enc.encode("#FAILURE#");
const READY = enc.encode("#READY#");

/** `payload` with its 4-byte big-endian length in front. */
function frameOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.byteLength);
  new DataView(out.buffer).setUint32(0, payload.byteLength);
  out.set(payload, 4);
  return out;
}

/** A 4-byte length announcing `length` bytes, followed by `body`. */
function announce(length: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  new DataView(out.buffer).setUint32(0, length);
  out.set(body, 4);
  return out;
}

/** `u32` as the codec writes it (little-endian). */
function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/**
 * A message `["req", <value>]` in the codec's bytes, where the value's tag
 * is `tag` (6 string, 22 UTF-16 string, 24 bytes) and it announces `length`
 * of it, and nothing follows.
 */
function hugeAnnouncement(tag: number, length = 2 ** 31): Uint8Array {
  return new Uint8Array([10, ...u32le(2), 6, ...u32le(3), 0x72, 0x65, 0x71, tag, ...u32le(length)]);
}

/**
 * Opens `n` connections that never answer the challenge. One the server
 * resets before this side saw it connected (evicted at once by the flood
 * behind it) is left out: it is closed already.
 */
async function idlePeers(address: Address, n: number): Promise<RawPeer[]> {
  const peers = await Promise.all(
    Array.from({ length: n }, () => RawPeer.connect(address).catch(() => null)),
  );
  return peers.filter((p): p is RawPeer => p !== null);
}

function hmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(message).digest());
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  return a.byteLength >= prefix.byteLength && bytesEqual(a.subarray(0, prefix.byteLength), prefix);
}

/**
 * A raw socket that speaks the wire format by hand: frames, the challenge,
 * and (after it) requests encoded with the library's codec. It is the
 * misbehaving peer of the security tests.
 */
class RawPeer {
  readonly #socket: net.Socket;
  #buffer: Uint8Array = new Uint8Array(0);
  #wake: (() => void) | null = null;
  #isClosed = false;
  #nextId = 1;
  readonly closed: Promise<void>;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      const joined = new Uint8Array(this.#buffer.byteLength + chunk.byteLength);
      joined.set(this.#buffer);
      joined.set(chunk, this.#buffer.byteLength);
      this.#buffer = joined;
      this.#poke();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.#isClosed = true;
        this.#poke();
        resolve();
      })
    );
  }

  static connect(address: Address): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = typeof address === "string"
        ? net.createConnection({ path: address })
        : net.createConnection({ host: address[0], port: address[1] });
      socket.once("connect", () => resolve(new RawPeer(socket)));
      socket.once("error", reject);
    });
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  write(bytes: Uint8Array): void {
    if (!this.#isClosed) this.#socket.write(bytes);
  }

  sendFrame(payload: Uint8Array): void {
    this.write(frameOf(payload));
  }

  /** The next whole frame; null once the socket is closed without one. */
  async recvFrame(timeout = 10_000): Promise<Uint8Array | null> {
    const deadline = Date.now() + timeout;
    for (;;) {
      if (this.#buffer.byteLength >= 4) {
        const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(0);
        if (this.#buffer.byteLength >= 4 + length) {
          const payload = this.#buffer.slice(4, 4 + length);
          this.#buffer = this.#buffer.slice(4 + length);
          return payload;
        }
      }
      if (this.#isClosed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No frame within ${timeout} ms`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Whether the other side closed the socket within `timeout` ms. */
  async closedWithin(timeout = 10_000): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeout))),
    ]);
    clearTimeout(timer);
    return result;
  }

  /**
   * The client's half of the mutual challenge, done by hand: answer the
   * server's challenge, challenge it back, then wait for its `#READY#`.
   */
  async handshake(key: Uint8Array): Promise<void> {
    const challenge = await this.recvFrame();
    assert.ok(challenge && startsWith(challenge, CHALLENGE), "the server challenges first");
    this.sendFrame(hmac(key, challenge.subarray(CHALLENGE.byteLength)));
    const verdict = await this.recvFrame();
    assert.ok(verdict && bytesEqual(verdict, WELCOME), "the server accepts the right digest");
    const nonce = new Uint8Array(randomBytes(32));
    const mine = new Uint8Array(CHALLENGE.byteLength + 32);
    mine.set(CHALLENGE);
    mine.set(nonce, CHALLENGE.byteLength);
    this.sendFrame(mine);
    const answer = await this.recvFrame();
    assert.ok(answer && bytesEqual(answer, hmac(key, nonce)), "the server proves the key too");
    this.sendFrame(WELCOME);
    const ready = await this.recvFrame();
    assert.ok(ready && bytesEqual(ready, READY), "the server confirms the end of the challenge");
  }

  /** Sends a request (after the challenge) and resolves with `[ok, value]` of its reply. */
  async request(op: string, ...fields: unknown[]): Promise<[boolean, unknown]> {
    const id = this.#nextId++;
    this.sendFrame(encode(["req", id, op, ...fields]));
    for (;;) {
      const payload = await this.recvFrame();
      if (payload === null) throw new Error(`The server closed the connection instead of replying`);
      const message = decode(payload) as unknown[];
      if (message[0] === "res" && message[1] === id) return [message[2] as boolean, message[3]];
    }
  }

  /** Writes `bytes`, waiting for the socket to drain when the OS did not take them. */
  async writeDrained(bytes: Uint8Array): Promise<void> {
    if (this.#isClosed || this.#socket.write(bytes)) return;
    await Promise.race([new Promise((r) => this.#socket.once("drain", r)), this.closed]);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** The junk a peer may send instead of answering the challenge. */
function junkBeforeChallenge(): [string, Uint8Array][] {
  return [
    ["garbage bytes", enc.encode("GET / HTTP/1.1\r\nHost: example\r\n\r\n")],
    ["a truncated frame", announce(100, new Uint8Array(10).fill(7))],
    ["an oversized frame", announce(0x7fff_ffff, new Uint8Array(64))],
    ["an empty frame", announce(0)],
  ];
}

/** Runs a program until `ready` matches its stdout; returns the match and a way to stop it. */
function startProgram(
  script: string,
  args: string[],
  ready: RegExp,
): Promise<{ match: RegExpExecArray; stop(): Promise<ScriptResult> }> {
  return new Promise((resolve, reject) => {
    let kill: ((signal: NodeJS.Signals) => void) | null = null;
    let found = false;
    const done = runScript(script, args, {
      onStdout(text, k) {
        kill = k;
        const match = ready.exec(text);
        if (match && !found) {
          found = true;
          resolve({
            match,
            stop: () => {
              kill?.("SIGTERM");
              return done;
            },
          });
        }
      },
    });
    done.then((result) => {
      if (!found) reject(new Error(`${script} ended before it was ready: ${result.stderr}`));
    });
  });
}

/** A directory of our own under the system's temp dir, removed by `dispose`. */
function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "procs-mgr-"));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** Resolves with `promise`'s value, or "timeout" after `ms`. */
async function within<V>(promise: Promise<V>, ms: number): Promise<V | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    promise,
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms))),
  ]);
  clearTimeout(timer);
  return result;
}

/** How many connections a server's stderr says it dropped. */
function droppedReports(stderr: string): number {
  return stderr.match(/dropped a connection from an authenticated peer/g)?.length ?? 0;
}

/** The children of this process that are managers' servers. */
function serverProcesses(): Process[] {
  return activeChildren().filter((p) => /Manager-\d+$/.test(p.name));
}

/**
 * In a child: makes a Listener on a private unix socket and one on TCP,
 * closes them, and reports on `report` what `accept()` then does.
 */
export async function listenerAcceptAfterClose(report: Connection): Promise<void> {
  const outcome: Record<string, string> = {};
  for (const [name, address] of [["unix", undefined], ["tcp", ["127.0.0.1", 0]]] as const) {
    const listener = new Listener({ address, authkey: "k" });
    listener.close();
    outcome[name] = await listener.accept().then(
      () => "resolved",
      (e) =>
        e instanceof OSError && /closed/.test(e.message)
          ? "OSError: closed"
          : `${e?.name}: ${e?.message}`,
    );
  }
  await report.send(outcome);
  report.close();
}

/** Behaviour of Listener, Client and managers under one start method. */
export function runManagerContract({ startMethod }: { startMethod: StartMethod }): void {
  const ctx = getContext(startMethod);
  const P = ctx.Process;
  const osProcess = startMethod === "spawn";
  const LISTENER_SKIP = "Listener and Client do not depend on the start method: run under spawn";

  /** Runs `target` in a child with a pipe end first and returns what it sent first. */
  async function askChild<R>(
    // Any function: its first parameter takes the Connection; the rest are unchecked.
    target: (...args: never[]) => unknown,
    ...args: unknown[]
  ): Promise<R> {
    const [reader, writer] = Pipe();
    const p = new P({ target, args: [writer, ...args] });
    p.start();
    writer.close();
    try {
      let value: R;
      try {
        value = await reader.recv() as R;
      } catch (error) {
        if (!(error instanceof EOFError)) throw error;
        await p.join();
        throw new Error(
          `${target.name} ended with exitcode ${p.exitcode} before it reported (see its stderr)`,
        );
      }
      await p.join();
      assert.equal(p.exitcode, 0, `${target.name} ended with exitcode ${p.exitcode}`);
      return value;
    } finally {
      reader.close();
    }
  }

  /** Runs `target(...args)` in `n` children at once and checks they all succeed. */
  async function runChildren(
    n: number,
    target: (...args: never[]) => unknown,
    args: (i: number) => unknown[],
  ): Promise<void> {
    const ps = Array.from({ length: n }, (_, i) => new P({ target, args: args(i) }));
    ps.forEach((p) => p.start());
    for (const p of ps) await p.join();
    assert.deepEqual(ps.map((p) => p.exitcode), ps.map(() => 0));
  }

  describe(`Listener and Client [spawn only] [${startMethod}] [${RUNTIME}]`, () => {
    test("TCP port 0 picks a port that address reports; data flows both ways", T, async (t) => {
      if (!osProcess) return t.skip(LISTENER_SKIP);
      await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "secret" });
      const [host, port] = listener.address as [string, number];
      assert.equal(host, "127.0.0.1");
      assert.ok(Number.isInteger(port) && port > 0, `a real port: ${port}`);
      const [client, server] = await Promise.all([
        Client(listener.address, { authkey: "secret" }),
        listener.accept(),
      ]);
      await client.send({ map: new Map([[1, "one"]]), big: 2n ** 65n });
      const got = await server.recv() as { map: Map<number, string>; big: bigint };
      assert.equal(got.map.get(1), "one");
      assert.equal(got.big, 2n ** 65n);
      await server.sendBytes(new Uint8Array([1, 2, 3]));
      assert.deepEqual([...await client.recvBytes()], [1, 2, 3]);
      // One stream, two views: bytes of an object relayed with sendBytes
      // arrive as the object; bytes that are no object's are a ValueError.
      await client.send({ relayed: [1, 2n] });
      await server.sendBytes(await server.recvBytes());
      assert.deepEqual(await client.recv(), { relayed: [1, 2n] });
      await server.sendBytes(enc.encode("not an object"));
      await assert.rejects(client.recv(), ValueError);
      server.close();
      await assert.rejects(client.recv(), EOFError);
      client.close();
    });

    test("what the server sends as soon as accept() resolves reaches the client", T, async (t) => {
      if (!osProcess) return t.skip(LISTENER_SKIP);
      await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
      for (let round = 0; round < 5; round++) {
        const connecting = Client(listener.address, { authkey: "k" });
        const server = await listener.accept();
        await server.send(`early ${round}`); // may travel with the end of the challenge
        // Larger than a challenge frame may be: the client must not take it for one.
        await server.sendBytes(new Uint8Array(64 * 1024).fill(round));
        const client = await connecting;
        assert.equal(await client.recv(), `early ${round}`);
        const big = await client.recvBytes();
        assert.equal(big.byteLength, 64 * 1024);
        assert.equal(big[100], round);
        await client.send("reply");
        assert.equal(await server.recv(), "reply");
        client.close();
        server.close();
      }
    });

    test(
      "a unix socket path: listens there, close() removes it, the path can be bound again at once",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        using dir = tempDir();
        const path = join(dir.path, "l.sock");
        for (let round = 0; round < 3; round++) {
          const listener = new Listener({ address: path, authkey: "k" });
          assert.equal(listener.address, path);
          assert.ok(existsSync(path), "the socket file exists while listening");
          const [client, server] = await Promise.all([
            Client(path, { authkey: "k" }),
            listener.accept(),
          ]);
          await server.send(`round ${round}`);
          assert.equal(await client.recv(), `round ${round}`);
          client.close();
          server.close();
          listener.close();
          assert.equal(existsSync(path), false, "close() removes the socket file");
        }
        // Without an address: a private unix socket.
        await using own = new Listener({ authkey: "k" });
        assert.equal(typeof own.address, "string");
        const [c, s] = await Promise.all([Client(own.address, { authkey: "k" }), own.accept()]);
        await c.send("private");
        assert.equal(await s.recv(), "private");
        c.close();
        s.close();
      },
    );

    test(
      "a wrong authkey is an AuthenticationError on both sides; the listener keeps serving",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "right" });
        const [clientSide, serverSide] = await Promise.allSettled([
          Client(listener.address, { authkey: "wrong" }),
          listener.accept(),
        ]);
        assert.equal(clientSide.status, "rejected");
        assert.ok(
          (clientSide as PromiseRejectedResult).reason instanceof AuthenticationError,
          String((clientSide as PromiseRejectedResult).reason),
        );
        assert.equal(serverSide.status, "rejected");
        assert.ok(
          (serverSide as PromiseRejectedResult).reason instanceof AuthenticationError,
          String((serverSide as PromiseRejectedResult).reason),
        );
        // An empty key where a key is expected fails too.
        await assert.rejects(Client(listener.address, { authkey: "" }), AuthenticationError);
        await assert.rejects(listener.accept(), AuthenticationError);
        const [client, server] = await Promise.all([
          Client(listener.address, { authkey: enc.encode("right") }),
          listener.accept(),
        ]);
        await client.send("after the failures");
        assert.equal(await server.recv(), "after the failures");
        client.close();
        server.close();
      },
    );

    test("an empty authkey works on both sides (string or bytes)", T, async (t) => {
      if (!osProcess) return t.skip(LISTENER_SKIP);
      await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "" });
      for (const authkey of ["", new Uint8Array(0)]) {
        const [client, server] = await Promise.all([
          Client(listener.address, { authkey }),
          listener.accept(),
        ]);
        await client.send("empty key");
        assert.equal(await server.recv(), "empty key");
        client.close();
        server.close();
      }
      await assert.rejects(Client(listener.address, { authkey: "x" }), AuthenticationError);
      await assert.rejects(listener.accept(), AuthenticationError);
    });

    test("a second Listener on a taken address fails with an OSError naming it", T, async (t) => {
      if (!osProcess) return t.skip(LISTENER_SKIP);
      await using tcp = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
      const port = (tcp.address as [string, number])[1];
      assert.throws(
        () => new Listener({ address: tcp.address, authkey: "k" }),
        (e: Error) => e instanceof OSError && e.message.includes(String(port)),
      );
      using dir = tempDir();
      const path = join(dir.path, "taken.sock");
      await using unix = new Listener({ address: path, authkey: "k" });
      assert.throws(
        () => new Listener({ address: path, authkey: "k" }),
        (e: Error) => e instanceof OSError && e.message.includes(path),
      );
      // The first listeners still work.
      for (const listener of [tcp, unix]) {
        const [c, s] = await Promise.all([
          Client(listener.address, { authkey: "k" }),
          listener.accept(),
        ]);
        await c.send("still mine");
        assert.equal(await s.recv(), "still mine");
        c.close();
        s.close();
      }
    });

    test("a closed Listener's TCP port can be listened on again at once", T, async (t) => {
      if (!osProcess) return t.skip(LISTENER_SKIP);
      const first = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
      const address = first.address;
      const [c, s] = await Promise.all([Client(address, { authkey: "k" }), first.accept()]);
      c.close();
      s.close();
      first.close();
      // As Python's Listener, whose socket sets SO_REUSEADDR. Deno frees a
      // TCP listener's port only once its pending accept is cancelled, on
      // the next turn of the event loop: one macrotask there, none on Bun.
      if (RUNTIME === "deno") await new Promise((r) => setTimeout(r, 0));
      await using again = new Listener({ address, authkey: "k" });
      assert.deepEqual(again.address, address);
      const [c2, s2] = await Promise.all([Client(address, { authkey: "k" }), again.accept()]);
      await c2.send("again");
      assert.equal(await s2.recv(), "again");
      c2.close();
      s2.close();
    });

    test(
      "a connection the client used and closed before accept() still delivers; poll() sees it",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
        const client = await Client(listener.address, { authkey: "k" });
        await client.send("sent before accept");
        client.close();
        // Best effort for the close to come first, not a synchronisation: the
        // message is delivered and EOF follows whichever comes first.
        await new Promise((r) => setTimeout(r, 50));
        const server = await listener.accept();
        assert.equal(await server.poll(), true);
        assert.equal(await server.recv(), "sent before accept");
        await assert.rejects(server.recv(), EOFError);
        server.close();
      },
    );

    test(
      "junk instead of the challenge's answer closes that connection only, and nothing is delivered",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
        const cases = [
          ...junkBeforeChallenge(),
          // A well-formed message where the digest belongs: never decoded.
          ["a message instead of the digest", frameOf(encode(["hello", "world"]))] as [
            string,
            Uint8Array,
          ],
        ];
        for (const [what, junk] of cases) {
          const peer = await RawPeer.connect(listener.address);
          peer.write(junk);
          if (what !== "a truncated frame") {
            assert.ok(
              await peer.closedWithin(),
              `the listener closed the connection after ${what}`,
            );
          } else {
            peer.destroy(); // the peer gives up half-way
          }
          await assert.rejects(
            listener.accept(),
            (e: Error) => e instanceof AuthenticationError,
            `accept() reports ${what} as an AuthenticationError`,
          );
          peer.destroy();
        }
        const [client, server] = await Promise.all([
          Client(listener.address, { authkey: "k" }),
          listener.accept(),
        ]);
        await client.send("good client");
        assert.equal(await server.recv(), "good client");
        client.close();
        server.close();
      },
    );

    test(
      "a Listener closes peers that never prove the key, and lets a client in during a flood of them",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
        const idle = await idlePeers(listener.address, 300);
        try {
          const [client, server] = await Promise.all([
            Client(listener.address, { authkey: "k" }),
            (async () => {
              for (;;) {
                // Peers closed for waiting too long are reported as failed challenges.
                const next = await listener.accept().catch((e) => e as Error);
                if (!(next instanceof Error)) return next;
              }
            })(),
          ]);
          await client.send("still served");
          assert.equal(await server.recv(), "still served");
          client.close();
          server.close();
          for (const [i, peer] of idle.entries()) {
            assert.ok(await peer.closedWithin(30_000), `idle peer ${i} was closed`);
          }
        } finally {
          for (const peer of idle) peer.destroy();
        }
      },
    );

    test(
      "a message above maxMessageSize: the sender gets a ValueError, a receiver's recv() an OSError",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        await using listener = new Listener({
          address: ["127.0.0.1", 0],
          authkey: "k",
          maxMessageSize: 1024,
        });
        const small = await Client(listener.address, { authkey: "k", maxMessageSize: 1024 });
        await assert.rejects(
          small.sendBytes(new Uint8Array(2000)),
          (e: Error) => e instanceof ValueError && /maxMessageSize 1024/.test(e.message),
        );
        await small.sendBytes(new Uint8Array(1000)); // 1 byte of kind + 1000 fits
        const first = await listener.accept();
        assert.equal((await first.recvBytes()).byteLength, 1000);
        small.close();
        first.close();

        const [big, server] = await Promise.all([
          Client(listener.address, { authkey: "k" }),
          listener.accept(),
        ]);
        await big.sendBytes(new Uint8Array(5000));
        await assert.rejects(
          server.recv(),
          (e: Error) => e instanceof OSError && /maxMessageSize 1024/.test(e.message),
        );
        big.close();
        server.close();
        assert.throws(
          () => new Listener({ maxMessageSize: -1 }),
          (e: Error) => e instanceof RangeError,
        );
      },
    );

    test(
      "Client proves the server too: a server that cannot answer the challenge is refused",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        const impostorSaw: Uint8Array[] = [];
        const impostor = net.createServer((socket) => {
          const peer = new RawPeer(socket);
          void (async () => {
            const nonce = new Uint8Array(randomBytes(32));
            const challenge = new Uint8Array(CHALLENGE.byteLength + 32);
            challenge.set(CHALLENGE);
            challenge.set(nonce, CHALLENGE.byteLength);
            peer.sendFrame(challenge);
            await peer.recvFrame(); // the client's digest: accepted without checking
            peer.sendFrame(WELCOME);
            const theirs = await peer.recvFrame(); // the client's own challenge
            impostorSaw.push(theirs ?? new Uint8Array(0));
            peer.sendFrame(new Uint8Array(32).fill(1)); // a digest made without the key
            const verdict = await peer.recvFrame();
            impostorSaw.push(verdict ?? new Uint8Array(0));
            await peer.closedWithin();
            peer.destroy();
          })().catch(() => peer.destroy());
        });
        await new Promise<void>((resolve) => impostor.listen(0, "127.0.0.1", resolve));
        try {
          const port = (impostor.address() as net.AddressInfo).port;
          await assert.rejects(
            Client(["127.0.0.1", port], { authkey: "k" }),
            AuthenticationError,
          );
          await waitFor(() => impostorSaw.length === 2, "the impostor to hear the verdict", 10_000);
          assert.ok(startsWith(impostorSaw[0], CHALLENGE), "the client challenged the server");
          assert.ok(bytesEqual(impostorSaw[1], FAILURE), "the client sent #FAILURE#");
        } finally {
          await new Promise((resolve) => impostor.close(resolve));
        }
      },
    );

    test(
      "accept() waiting when close() is called rejects; accept() after close is an OSError; " +
        "Client to nothing is an OSError",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        const listener = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
        const address = listener.address;
        const waiting = listener.accept();
        listener.close();
        await assert.rejects(waiting, OSError);
        await assert.rejects(listener.accept(), (error: unknown) => {
          assert.ok(error instanceof OSError, `expected an OSError, got ${error}`);
          assert.match(error.message, /closed/);
          return true;
        });
        listener.close(); // twice is harmless
        await assert.rejects(listener.accept(), OSError, "still an OSError after closing twice");
        await assert.rejects(Client(address, { authkey: "k" }), OSError);
      },
    );

    test(
      "accept() on a closed Listener is an OSError in a child of this start method too",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        assert.deepEqual(await askChild(listenerAcceptAfterClose), {
          unix: "OSError: closed",
          tcp: "OSError: closed",
        });
      },
    );

    test(
      "a child started with Process connects to the parent's Listener with Client",
      T,
      async (t) => {
        if (!osProcess) return t.skip(LISTENER_SKIP);
        for (const address of [["127.0.0.1", 0] as const, undefined]) {
          await using listener = new Listener({ address, authkey: "family" });
          const p = new P({ target: mgrClientEcho, args: [listener.address, "family"] });
          p.start();
          const conn = await listener.accept();
          await conn.send(["ping", 1]);
          const reply = await conn.recv() as { echo: unknown; pid: number };
          assert.deepEqual(reply.echo, ["ping", 1]);
          assert.equal(reply.pid, p.pid);
          await assert.rejects(conn.recv(), EOFError);
          conn.close();
          await p.join();
          assert.equal(p.exitcode, 0);
        }
      },
    );
  });

  describe(`Manager [${startMethod}] [${RUNTIME}]`, () => {
    test(
      "a method's error nobody catches is printed once, with the server's stack as its cause",
      { ...T, skip: pageLacks("processes") },
      async () => {
        const run = await runScript(testdata("uncaught_remote.ts"), ["manager", startMethod]);
        assert.notEqual(run.code, 0, "the program fails");
        assertSaidOnce(
          run.stderr,
          CHILD_MESSAGE,
          /at (UncaughtThing\.)?explode \(.*uncaught_remote\.ts:\d+:\d+\)/,
          "the manager's server process",
        );
      },
    );

    test(
      "Manager() starts a server process named SyncManager-N that ends with exitcode 0 at shutdown",
      T,
      async () => {
        const before = new Set(serverProcesses());
        await using manager = await ctx.Manager();
        assert.ok(manager instanceof SyncManager);
        const servers = serverProcesses().filter((p) => !before.has(p));
        assert.equal(servers.length, 1, "one new server process");
        const server = servers[0];
        assert.match(server.name, /^SyncManager-\d+$/);
        assert.equal(server.isAlive(), true);
        if (osProcess) assert.notEqual(server.pid, process.pid);
        else assert.equal(server.pid, process.pid, "a worker server shares our pid");
        assert.equal(typeof manager.address, "string", "a private unix socket by default");
        await using second = await ctx.Manager();
        const names = serverProcesses().filter((p) => !before.has(p)).map((p) => p.name);
        assert.equal(new Set(names).size, 2, `distinct names: ${names}`);
        await second.shutdown();
        await manager.shutdown();
        assert.equal(server.isAlive(), false);
        assert.equal(server.exitcode, 0);
        assert.equal(activeChildren().includes(server), false);
      },
    );

    test("dict proxy: every method", T, async () => {
      await using manager = await ctx.Manager();
      const d = await manager.dict<string | number, unknown>({ a: 1 });
      assert.deepEqual(await d.toObject(), { a: 1 });
      const fromPairs = await manager.dict<number, string>([[1, "one"], [2, "two"]]);
      assert.deepEqual(await fromPairs.items(), [[1, "one"], [2, "two"]]);
      await d.set("b", [1, 2]);
      await d.set(3, new Map([["x", 1]]));
      assert.deepEqual(await d.get("b"), [1, 2]);
      assert.deepEqual(await d.get(3), new Map([["x", 1]]));
      assert.equal(await d.get("missing"), undefined);
      assert.equal(await d.get("missing", "fallback"), "fallback");
      assert.equal(await d.has("a"), true);
      assert.equal(await d.has("missing"), false);
      assert.deepEqual(await d.keys(), ["a", "b", 3]);
      assert.equal(await d.size(), 3);
      await d.update({ c: 3, a: 10 });
      await d.update(new Map([["e", 5]]));
      await d.update([["f", 6]]);
      assert.deepEqual(await d.values(), [10, [1, 2], new Map([["x", 1]]), 3, 5, 6]);
      assert.equal(await d.pop("c"), 3);
      assert.equal(await d.pop("c", "gone"), "gone");
      assert.equal(await d.setdefault("g", 7), 7);
      assert.equal(await d.setdefault("g", 8), 7);
      await d.delete("g");
      assert.equal(await d.has("g"), false);
      assert.deepEqual(await d.items(), [["a", 10], ["b", [1, 2]], [3, new Map([["x", 1]])], [
        "e",
        5,
      ], ["f", 6]]);
      assert.deepEqual(Object.keys(await d.toObject()), ["3", "a", "b", "e", "f"]);
      await d.clear();
      assert.equal(await d.size(), 0);
    });

    test("list proxy: every method", T, async () => {
      await using manager = await ctx.Manager();
      const l = await manager.list<number>([5, 3]);
      await l.append(4);
      await l.extend([1, 2]);
      await l.extend(new Set([9]));
      assert.deepEqual(await l.toArray(), [5, 3, 4, 1, 2, 9]);
      assert.equal(await l.length(), 6);
      assert.equal(await l.get(0), 5);
      assert.equal(await l.get(-1), 9);
      await l.set(-1, 0);
      await l.insert(1, 7);
      await l.insert(-100, -1);
      await l.insert(100, 100);
      assert.deepEqual(await l.toArray(), [-1, 5, 7, 3, 4, 1, 2, 0, 100]);
      assert.equal(await l.pop(), 100);
      assert.equal(await l.pop(0), -1);
      await l.remove(7);
      assert.equal(await l.index(4), 2);
      await l.extend([3, 3]);
      assert.equal(await l.count(3), 3);
      await l.sort();
      assert.deepEqual(await l.toArray(), [0, 1, 2, 3, 3, 3, 4, 5]);
      await l.sort({ reverse: true });
      assert.deepEqual(await l.slice(0, 3), [5, 4, 3]);
      await l.reverse();
      assert.deepEqual(await l.slice(-2), [4, 5]);
      assert.deepEqual(await l.slice(), [0, 1, 2, 3, 3, 3, 4, 5]);
      const objects = await manager.list<unknown>([{ a: [1] }]);
      assert.equal(await objects.index({ a: [1] }), 0, "equal by value, as Python's ==");
      assert.equal((await manager.list()) instanceof Object, true);
      assert.equal(await (await manager.list()).length(), 0);
    });

    test("Namespace proxy: get, set, delete, toObject", T, async () => {
      await using manager = await ctx.Manager();
      const ns = await manager.Namespace({ name: "Bob" });
      await ns.set("job", "Builder");
      await ns.set("_hidden", "too");
      assert.equal(await ns.get("name"), "Bob");
      assert.deepEqual(await ns.toObject(), { name: "Bob", job: "Builder", _hidden: "too" });
      await ns.delete("name");
      assert.deepEqual(await ns.toObject(), { job: "Builder", _hidden: "too" });
      await assert.rejects(ns.get("name"), KeyError);
      await assert.rejects(ns.delete("name"), KeyError);
    });

    test(
      "an error raised by the referent comes back with its own class, here and in a child",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const d = await manager.dict<string, number>({ a: 1 });
        const l = await manager.list<number>([1, 2]);
        const ns = await manager.Namespace();
        await assert.rejects(
          d.delete("missing"),
          (e: Error) => e instanceof KeyError && e.name === "KeyError" && /missing/.test(e.message),
        );
        await assert.rejects(d.pop("missing"), KeyError);
        await assert.rejects(
          l.get(2),
          (e: Error) => e instanceof RangeError && /2/.test(e.message),
        );
        await assert.rejects(l.set(-3, 0), RangeError);
        await assert.rejects(l.pop(5), RangeError);
        await assert.rejects((await manager.list()).pop(), RangeError);
        await assert.rejects(l.get(0.5), TypeError);
        await assert.rejects(l.remove(42), ValueError);
        await assert.rejects(l.index(42), ValueError);
        const inChild = await askChild<Record<string, MgrCaught>>(mgrErrorsInChild, d, l, ns);
        assert.equal(inChild.dictDelete.isKeyError, true, JSON.stringify(inChild.dictDelete));
        assert.equal(inChild.dictPop.isKeyError, true);
        assert.equal(inChild.listGet.isRangeError, true);
        assert.equal(inChild.listRemove.isValueError, true);
        assert.equal(inChild.nsGet.isKeyError, true);
        assert.equal(inChild.nsGet.name, "KeyError");
        // The referents are unchanged and the manager still serves.
        assert.deepEqual(await d.toObject(), { a: 1 });
        assert.deepEqual(await l.toArray(), [1, 2]);
      },
    );

    test(
      "ten children appending to one list and setting one dict give the exact result",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const d = await manager.dict<number, number>();
        const l = await manager.list<number>();
        await runChildren(10, mgrRecord, (i) => [d, l, i]);
        assert.deepEqual((await l.toArray()).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert.equal(await d.size(), 10);
        const items = (await d.items()).sort((a, b) => a[0] - b[0]);
        assert.deepEqual(items, Array.from({ length: 10 }, (_, i) => [i, i * i]));
      },
    );

    test(
      "a proxy stored inside a proxied container stays a live proxy, here and in a child",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const outer = await manager.dict<string, unknown>();
        const inner = await manager.list<unknown>();
        const deepest = await manager.dict<string, unknown>({ depth: 2 });
        await inner.append(deepest);
        await outer.set("inner", inner);
        // CPython's test_list_proxy_in_list / test_dict_proxy_nested, both ways.
        const again = await outer.get("inner") as ListProxy<unknown>;
        assert.equal(typeof again.append, "function", "a ListProxy came back, not a copy");
        await again.append("from parent");
        assert.deepEqual((await inner.toArray()).slice(1), ["from parent"]);
        const deep = await again.get(0) as DictProxy<string, unknown>;
        assert.equal(await deep.get("depth"), 2);
        await runChildren(1, mgrTouchNested, () => [outer, 7]);
        assert.deepEqual((await inner.toArray()).slice(1), ["from parent", "from child"]);
        assert.equal(await deepest.get("child"), 7);
        // A list of lists.
        const a = await manager.list<number>([1, 2]);
        const b = await manager.list<unknown>([a]);
        await a.append(3);
        const nested = await b.get(0) as ListProxy<number>;
        assert.deepEqual(await nested.toArray(), [1, 2, 3]);
        await nested.append(4);
        assert.deepEqual(await a.toArray(), [1, 2, 3, 4]);
      },
    );

    test(
      "queues, locks, semaphores, event, value, array and namespace from the manager work in a child",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const q = await manager.Queue<string>();
        const jq = await manager.JoinableQueue<number>();
        const lock = await manager.Lock();
        const rlock = await manager.RLock();
        const sem = await manager.Semaphore(2);
        const bsem = await manager.BoundedSemaphore(1);
        const ev = await manager.Event();
        const v = await manager.Value("i", 41);
        const arr = await manager.Array("d", [0.5, 1.5, 2.5]);
        const ns = await manager.Namespace();
        for (const x of [1, 2, 3]) await jq.put(x);
        assert.equal(await ev.isSet(), false);
        const [reader, writer] = Pipe();
        const p = new P({
          target: mgrUsePrimitives,
          args: [writer, q, jq, lock, rlock, sem, bsem, ev, v, arr, ns],
        });
        p.start();
        writer.close();
        assert.equal(await q.get({ timeout: 20_000 }), "from child");
        await jq.join();
        await ev.set();
        const report = await reader.recv() as {
          total: number;
          overRelease: MgrCaught;
          eventSeen: boolean;
        };
        await p.join();
        reader.close();
        assert.equal(p.exitcode, 0);
        assert.equal(report.total, 6);
        assert.equal(report.overRelease.isValueError, true, JSON.stringify(report.overRelease));
        assert.equal(report.eventSeen, true);
        assert.equal(await v.get(), 42);
        assert.deepEqual(await arr.toArray(), [0.5, 42, 2.5]);
        assert.equal(await ns.get("child"), "was here");
        assert.equal(await sem.getValue(), 2);
        assert.equal(await lock.acquire({ block: false }), true, "the child released the lock");
        await lock.release();
      },
    );

    test(
      "a manager Lock makes increments of a manager Value exact across children",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const v = await manager.Value("i", 0);
        const lock = await manager.Lock();
        await runChildren(4, mgrLockedIncrements, () => [v, lock, 25]);
        assert.equal(await v.get(), 100);
      },
    );

    test("a manager Condition and Barrier coordinate children", T, async () => {
      await using manager = await ctx.Manager();
      const cond = await manager.Condition();
      const ns = await manager.Namespace({ flag: false });
      {
        await using _ = await cond.hold();
        const p = new P({ target: mgrNotify, args: [cond, ns] });
        p.start();
        const seen = await cond.waitFor(() => ns.get("flag"), 20_000);
        assert.equal(seen, true);
        await p.join();
        assert.equal(p.exitcode, 0);
      }
      const barrier = await manager.Barrier(3);
      assert.equal(barrier.parties, 3);
      const pipes = [Pipe(), Pipe()];
      const ps = pipes.map(([, w]) => new P({ target: mgrBarrierWait, args: [w, barrier] }));
      ps.forEach((p) => p.start());
      pipes.forEach(([, w]) => w.close());
      const mine = await barrier.wait(20_000);
      const indices = [mine, ...await Promise.all(pipes.map(([r]) => r.recv() as Promise<number>))];
      for (const p of ps) await p.join();
      pipes.forEach(([r]) => r.close());
      assert.deepEqual(indices.sort(), [0, 1, 2]);
      await assert.rejects(manager.Barrier(0), ValueError);
    });

    test(
      "shutdown(): use afterwards fails clearly, twice is harmless, await using shuts down",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const d = await manager.dict({ a: 1 });
        await manager.shutdown();
        await manager.shutdown();
        await assert.rejects(
          manager.dict(),
          (e: Error) => e instanceof ValueError && /shut down/.test(e.message),
        );
        await assert.rejects(manager.start(), ValueError);
        await assert.rejects(
          d.get("a"),
          (e: Error) => e instanceof OSError && e.message.length > 0,
          "a proxy to a shut-down manager rejects with an OSError",
        );
        let server: Process | undefined;
        {
          await using scoped = await ctx.Manager();
          server = serverProcesses().at(-1);
          assert.equal(server?.isAlive(), true);
          await (await scoped.list([1])).append(2);
        }
        assert.equal(server?.isAlive(), false, "await using shut the manager down");
        assert.equal(server?.exitcode, 0);
      },
    );

    test(
      "a program that ends without shutdown() exits, and its manager ends with it",
      { ...T, skip: pageLacks("processes") },
      async () => {
        let pid = 0;
        let killed = false;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const result = await runScript(testdata("manager_owner.ts"), [startMethod, "forget"], {
          onStdout(text, kill) {
            const m = /manager pid (\d+) answer 42/.exec(text);
            if (m && !pid) {
              pid = Number(m[1]);
              timer = setTimeout(() => {
                killed = true;
                kill("SIGKILL");
              }, 8_000);
            }
          },
        });
        clearTimeout(timer);
        assert.ok(pid > 0, result.stderr);
        assert.match(result.stdout, /main done/);
        assert.equal(killed, false, "the program was still running 8 s after its main ended");
        assert.equal(result.code, 0, result.stderr);
        if (osProcess) {
          await waitFor(() => !pidAlive(pid), `the manager ${pid} to end with its owner`, 10_000);
        }
      },
    );

    test("when the owner is killed with SIGKILL its manager exits: no orphan", T, async (t) => {
      if (!osProcess) {
        return t.skip("a worker manager is a thread of its owner: it cannot outlive it");
      }
      let pid = 0;
      const result = await runScript(testdata("manager_owner.ts"), [startMethod, "linger"], {
        onStdout(text, kill) {
          const m = /manager pid (\d+) answer 42/.exec(text);
          if (m && !pid) {
            pid = Number(m[1]);
            kill("SIGKILL");
          }
        },
      });
      assert.equal(result.signal, "SIGKILL");
      assert.ok(pid > 0, result.stderr);
      await waitFor(() => !pidAlive(pid), `the manager ${pid} to exit after its owner died`);
    });

    test(
      "BaseManager subclass: registered types through create() and the dynamic method; " +
        "only exposed methods; errors keep their class; a failing factory is a RemoteError",
      T,
      async () => {
        await using manager = new MgrManager({ context: ctx });
        await manager.start();
        const server = serverProcesses().at(-1)!;
        assert.match(server.name, /^MgrManager-\d+$/);
        const counter = await manager.create("Counter", 10);
        assert.equal(await counter.increment(), 11);
        assert.equal(await counter.increment(4), 15);
        assert.equal(await counter.value(), 15);
        assert.equal(await counter.later(20), 15, "an async method is awaited in the server");
        assert.equal(await counter.pid(), osProcess ? server.pid : process.pid);
        assert.equal(counter._secret, undefined, "a _private method is not exposed by default");
        assert.equal("_secret" in counter, false);
        assert.equal("increment" in counter, true);
        assert.equal((counter as Record<string, unknown>).then, undefined, "not a thenable");
        await assert.rejects(
          counter.fail("server"),
          (e: Error) => e instanceof RangeError && /counter failed in server/.test(e.message),
        );
        await assert.rejects(counter.missing("k"), KeyError);
        const dynamic =
          (manager as unknown as Record<string, (...a: unknown[]) => Promise<AutoProxy>>)
            .Counter;
        const viaMethod = await dynamic.call(manager, 1);
        assert.equal(await viaMethod.value(), 1);
        const narrow = await manager.create("Narrow", 3);
        assert.equal(await narrow.value(), 3);
        assert.equal(await narrow._secret(), "should not be reachable", "exposed explicitly");
        assert.equal(narrow.increment, undefined, "not in exposed");
        await assert.rejects(
          manager.create("Broken"),
          (e: Error) => e instanceof RemoteError && /the factory refused/.test(e.message),
        );
        await assert.rejects(manager.create("Number"), RemoteError);
        await assert.rejects(manager.create("NotRegistered"), TypeError);
        assert.equal(await counter.value(), 15, "the server still serves");
        await manager.shutdown();
        assert.equal(server.exitcode, 0);
      },
    );

    test("a registered type's proxy travels to a child and works there", T, async () => {
      await using manager = new MgrManager({ context: ctx });
      await manager.start();
      const counter = await manager.create("Counter", 1);
      const report = await askChild<{ value: number; failure: MgrCaught; hidden: string }>(
        mgrUseCounter,
        counter,
      );
      assert.equal(report.value, 6);
      assert.equal(report.failure.isRangeError, true, JSON.stringify(report.failure));
      assert.equal(report.hidden, "undefined");
      assert.equal(await counter.value(), 6);
    });

    test(
      "a result the server cannot send back is a RemoteError, and the server keeps serving",
      T,
      async () => {
        await using manager = new MgrManager({ context: ctx });
        await manager.start();
        const counter = await manager.create("Counter", 2);
        const outcome = await within(
          counter.unsendable().then(
            (value) => ({ ok: true, value }),
            (error) => ({ ok: false, error: error as Error }),
          ),
          5_000,
        );
        assert.notEqual(outcome, "timeout", "the call got no answer at all");
        if (outcome === "timeout") return;
        assert.equal(outcome.ok, false, "a function cannot come back as a result");
        assert.ok(
          (outcome as { error: Error }).error instanceof RemoteError,
          `expected a RemoteError, got ${(outcome as { error: Error }).error}`,
        );
        assert.equal(await within(counter.value(), 5_000), 2, "the server still serves");
      },
    );

    test(
      "a manager on a TCP address with its own authkey: address has the real port, " +
        "a wrong key is refused, a child uses the proxies",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        await using manager = await ctx.Manager({ address: ["127.0.0.1", 0], authkey: "tcp-key" });
        const [host, port] = manager.address as [string, number];
        assert.equal(host, "127.0.0.1");
        assert.ok(port > 0);
        const d = await manager.dict<string, unknown>();
        await runChildren(2, mgrSetKey, (i) => [d, `child-${i}`, i]);
        assert.deepEqual(await d.toObject(), { "child-0": 0, "child-1": 1 });
        await assert.rejects(Client(manager.address!, { authkey: "wrong" }), AuthenticationError);
        await assert.rejects(Client(manager.address!, { authkey: "" }), AuthenticationError);
        const proven = await Client(manager.address!, { authkey: "tcp-key" });
        proven.close();
        assert.equal(await d.size(), 2);
      },
    );

    test(
      "a new manager binds the same TCP address and unix path at once after shutdown",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        using dir = tempDir();
        let port = 0;
        for (let round = 0; round < 3; round++) {
          await using manager = await ctx.Manager({
            address: ["127.0.0.1", port],
            authkey: `key-${round}`,
          });
          const bound = (manager.address as [string, number])[1];
          if (round === 0) port = bound;
          assert.equal(bound, port, `round ${round} bound the same port`);
          const q = await manager.Queue<number>();
          await q.put(round);
          assert.equal(await q.get(), round);
          const d = await manager.dict({ round });
          assert.deepEqual(await d.toObject(), { round });
          await manager.shutdown();
        }
        const path = join(dir.path, "m.sock");
        for (let round = 0; round < 3; round++) {
          await using manager = await ctx.Manager({ address: path, authkey: "unix" });
          assert.equal(manager.address, path);
          const l = await manager.list([round]);
          assert.deepEqual(await l.toArray(), [round]);
          await manager.shutdown();
        }
      },
    );

    test(
      "a manager on a taken address fails to start and leaves no server running",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        // In a program of its own, whose stderr (the server's report) is read here.
        const run = await runScript(testdata("manager_taken_address.ts"), [startMethod]);
        assert.equal(run.code, 0, run.stderr);
        const { failure, left } = JSON.parse(run.stdout) as {
          failure: { name: string; message: string } | null;
          left: string[];
        };
        assert.ok(failure, "the manager did not start");
        assert.match(failure.name, /^(RemoteError|OSError)$/);
        assert.ok(failure.message.length > 0);
        assert.deepEqual(left, [], "no server process is left running");
        assert.match(run.stderr, /^Process SyncManager-\d+:\n/m);
      },
    );

    test(
      "junk before the challenge (garbage, truncated, oversized) closes that connection only",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        await using manager = await ctx.Manager({ address: ["127.0.0.1", 0], authkey: "k" });
        const d = await manager.dict<string, unknown>();
        const others = [await RawPeer.connect(manager.address!)]; // a peer waiting politely
        for (const [what, junk] of junkBeforeChallenge()) {
          const peer = await RawPeer.connect(manager.address!);
          peer.write(junk);
          if (what === "a truncated frame") peer.destroy();
          else {assert.ok(
              await peer.closedWithin(),
              `the server closed the connection after ${what}`,
            );}
        }
        // A wrong digest: #FAILURE# and the end.
        const wrong = await RawPeer.connect(manager.address!);
        const challenge = await wrong.recvFrame();
        assert.ok(challenge && startsWith(challenge, CHALLENGE));
        wrong.sendFrame(hmac(enc.encode("not-k"), challenge.subarray(CHALLENGE.byteLength)));
        assert.deepEqual(await wrong.recvFrame(), FAILURE);
        assert.ok(await wrong.closedWithin());
        // The polite peer can still finish its challenge; a new process still works.
        await others[0].handshake(enc.encode("k"));
        const [ok, size] = await others[0].request("obj", d._ref.state().id, "size", 1, []);
        assert.deepEqual([ok, size], [true, 0]);
        others[0].destroy();
        await runChildren(1, mgrSetKey, () => [d, "after junk", true]);
        assert.equal(await d.get("after junk"), true);
      },
    );

    test(
      "the server decodes nothing from a peer that has not passed the challenge",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        await using manager = await ctx.Manager({ address: ["127.0.0.1", 0], authkey: "k" });
        const d = await manager.dict<string, unknown>();
        const id = d._ref.state().id;
        const request = encode(["req", 1, "obj", id, "set", 1, ["pwned", true]]);
        // Sent at once, before the challenge even arrives ...
        const eager = await RawPeer.connect(manager.address!);
        eager.sendFrame(request);
        assert.ok(await eager.closedWithin(), "the server hung up on the eager peer");
        // ... and in place of the digest.
        const sly = await RawPeer.connect(manager.address!);
        assert.ok(startsWith((await sly.recvFrame())!, CHALLENGE));
        sly.sendFrame(request);
        assert.deepEqual(await sly.recvFrame(), FAILURE);
        assert.equal(await sly.recvFrame(), null, "no reply follows");
        assert.equal(await d.has("pwned"), false);
      },
    );

    test(
      "after the challenge, garbage and oversized frames close that connection only",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        using stderr = new StderrFile();
        await using manager = new MgrStderrManager({
          context: ctx,
          address: ["127.0.0.1", 0],
          authkey: "k",
        });
        await manager.start();
        await manager.create("captureStderr", stderr.path);
        const d = await manager.dict<string, unknown>({ kept: 1 });
        const key = enc.encode("k");
        const cases: [string, Uint8Array][] = [
          ["a garbage frame", frameOf(enc.encode("\xff\xfe definitely not a message"))],
          ["a frame that is not a message", frameOf(encode({ not: "an array" }))],
          ["an unknown message type", frameOf(encode(["launch-missiles", 1]))],
          ["an oversized frame", announce(0xffff_fff0, new Uint8Array(16))],
          ["bytes announcing 2^31", frameOf(hugeAnnouncement(24))],
          ["a string announcing 2^31 bytes", frameOf(hugeAnnouncement(6))],
          ["a UTF-16 string announcing 2^31 units", frameOf(hugeAnnouncement(22))],
        ];
        const bystander = await RawPeer.connect(manager.address!);
        await bystander.handshake(key);
        for (const [what, junk] of cases) {
          const peer = await RawPeer.connect(manager.address!);
          await peer.handshake(key);
          peer.write(junk);
          assert.ok(await peer.closedWithin(), `the server closed the connection after ${what}`);
        }
        const [ok, value] = await bystander.request("obj", d._ref.state().id, "get", 1, ["kept"]);
        assert.deepEqual([ok, value], [true, 1], "another connection is still served");
        bystander.destroy();
        assert.equal(await d.get("kept"), 1);
        // The server said on its stderr why it dropped each one.
        await waitFor(
          () => droppedReports(stderr.read()) === cases.length,
          `${cases.length} reports of a dropped connection on the server's stderr`,
        );
        assert.match(stderr.read(), /'launch-missiles' is not an operation this process knows/);
      },
    );

    test(
      "peers that never prove the key are closed after a deadline; a flood of them does not lock out a client",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        await using manager = await ctx.Manager({ address: ["127.0.0.1", 0], authkey: "k" });
        const d = await manager.dict<string, unknown>({ kept: 1 });
        // More idle peers than an endpoint lets wait at once (256).
        const idle = await idlePeers(manager.address!, 300);
        try {
          const client = await RawPeer.connect(manager.address!);
          await client.handshake(enc.encode("k"));
          const [ok, value] = await client.request("obj", d._ref.state().id, "get", 1, ["kept"]);
          assert.deepEqual([ok, value], [true, 1], "a client that proves the key is served");
          client.destroy();
          for (const [i, peer] of idle.entries()) {
            assert.ok(await peer.closedWithin(30_000), `idle peer ${i} was closed`);
          }
        } finally {
          for (const peer of idle) peer.destroy();
        }
        assert.equal(await d.get("kept"), 1);
      },
    );

    test(
      "what a peer sent of a frame it never finished is freed in the server when it leaves",
      T,
      async (t) => {
        if (!osProcess || process.platform !== "linux") {
          return t.skip("reads the server process's RSS from /proc: spawn on Linux only");
        }
        await using manager = await ctx.Manager({ address: ["127.0.0.1", 0], authkey: "k" });
        const d = await manager.dict<string, unknown>({ kept: 1 });
        const server = activeChildren().find((p) => p.name.startsWith("SyncManager"))!;
        const MB = 1024 * 1024;
        const rss = () => {
          const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
          return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
        };
        const before = rss();
        const peer = await RawPeer.connect(manager.address!);
        await peer.handshake(enc.encode("k"));
        peer.write(announce(250_000_000));
        const chunk = new Uint8Array(MB).fill(7);
        for (let i = 0; i < 150; i++) await peer.writeDrained(chunk);
        await waitFor(() => rss() - before > 100 * MB, "the bytes to arrive", 30_000);
        peer.destroy();
        // Lower bound only: the 150 MB are gone, not held until some later GC.
        let now = rss();
        await waitFor(
          () => (now = rss()) - before < 60 * MB,
          "the server's RSS to fall back",
          20_000,
        ).catch(() => {
          throw new Error(`The server still holds ${((now - before) / MB).toFixed(0)} MB more`);
        });
        assert.equal(await d.get("kept"), 1, "the server still serves");
      },
    );

    test(
      "a frame above maxMessageSize closes that connection; a proxy call above it is a ValueError",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        using stderr = new StderrFile();
        await using manager = new MgrStderrManager({
          context: ctx,
          address: ["127.0.0.1", 0],
          authkey: "k",
          maxMessageSize: 64 * 1024,
        });
        await manager.start();
        await manager.create("captureStderr", stderr.path);
        const d = await manager.dict<string, unknown>({ kept: 1 });
        const key = enc.encode("k");
        const bystander = await RawPeer.connect(manager.address!);
        await bystander.handshake(key);
        const peer = await RawPeer.connect(manager.address!);
        await peer.handshake(key);
        peer.write(announce(100_000, new Uint8Array(16)));
        assert.ok(await peer.closedWithin(), "the server closed the connection");
        await waitFor(
          () => droppedReports(stderr.read()) === 1,
          "a report of the dropped connection on the server's stderr",
        );
        assert.match(stderr.read(), /larger than maxMessageSize 65536/);
        const [ok, value] = await bystander.request("obj", d._ref.state().id, "get", 1, ["kept"]);
        assert.deepEqual([ok, value], [true, 1], "another connection is still served");
        bystander.destroy();
        await assert.rejects(
          d.set("big", new Uint8Array(100_000)),
          (e: Error) => e instanceof ValueError && /maxMessageSize 65536/.test(e.message),
        );
        assert.equal(await d.get("kept"), 1, "the proxy still works");
        assert.throws(
          () => new SyncManager({ maxMessageSize: 0 }),
          (e: Error) => e instanceof RangeError && /maxMessageSize/.test(e.message),
        );
      },
    );

    test(
      "a proxy reaches only exposed methods, and no client can make the server import or run code",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        using dir = tempDir();
        const marks = () => readdirSync(dir.path);
        process.env.PROCS_MGR_EVIL_DIR = dir.path;
        try {
          // The probe works: importing its module leaves a mark.
          await import(`../testdata/manager_evil.ts?control=${startMethod}`);
          assert.equal(marks().length, 1, "the probe marks its import");
          const evil = pathToFileURL(testdata("manager_evil.ts")).href;
          const spec = { modules: [evil], name: "mgrEvil", source: "function mgrEvil() {}" };

          await using manager = new MgrManager({
            context: ctx,
            address: ["127.0.0.1", 0],
            authkey: "k",
          });
          await manager.start();
          const counter = await manager.create("Counter", 1);
          assert.equal(
            await counter.env("PROCS_MGR_EVIL_DIR"),
            dir.path,
            "the server would see the probe's directory",
          );
          const reduce = Symbol.for("@procs/multiprocessing.reduce");
          const counterId = (counter as unknown as Record<
            symbol,
            () => { state: { ref: { id: string } } }
          >)[reduce]().state.ref.id;
          const peer = await RawPeer.connect(manager.address!);
          await peer.handshake(enc.encode("k"));
          const attempts: [string, ...unknown[]][] = [
            ["obj", counterId, "constructor", 1, []],
            ["obj", counterId, "methods", 1, []],
            ["obj", counterId, "instance", 1, []],
            ["obj", counterId, "dropChannel", 1, [null]],
            ["obj", counterId, "__proto__", 1, []],
            ["obj", counterId, "invoke", 1, ["_secret", []]],
            ["obj", counterId, "invoke", 1, ["constructor", []]],
            ["obj", counterId, "invoke", 1, ["toString", []]],
            ["obj", counterId, "invoke", 1, ["__proto__", []]],
            ["manager.create", evil, []],
            ["manager.create", "mgrEvil", [spec]],
            ["manager.create", "constructor", []],
            ["manager.create", "__proto__", []],
            ["manager.create", "toString", []],
            ["eval", "globalThis.pwned = true"],
            ["import", evil],
          ];
          for (const [op, ...fields] of attempts) {
            const [ok, error] = await peer.request(op, ...fields);
            const what = `${op} ${JSON.stringify(fields)}`;
            assert.equal(ok, false, `${what} was refused`);
            assert.ok(error instanceof TypeError, `${what}: a TypeError, got ${error}`);
          }
          // A child's start message naming a module and a function: a running
          // server does not start again.
          peer.sendFrame(encode([
            "start",
            {
              name: "evil",
              identity: [],
              daemon: false,
              authkey: new Uint8Array(0),
              pid: 1,
              ident: 1,
              parent: null,
              target: spec,
              cls: spec,
              functions: [spec],
            },
            encode([]),
            encode(undefined),
            encode({}),
          ]));
          const [ok, value] = await peer.request("obj", counterId, "invoke", 1, ["value", []]);
          assert.deepEqual([ok, value], [true, 1], "the connection still works");
          peer.destroy();
          assert.equal(await counter.value(), 1);
          // A window for a wrong import or call to show, not a synchronisation:
          // under load it can only miss one, never fail a server that ran nothing.
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(marks().length, 1, `the server imported or ran nothing: ${marks()}`);
        } finally {
          delete process.env.PROCS_MGR_EVIL_DIR;
        }
      },
    );

    test(
      "a remote manager over TCP: a queue served by one program, used by another program's processes",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        const authkey = `remote-${process.pid}`;
        const server = await startProgram(
          testdata("manager_server.ts"),
          [authkey],
          /listening (\d+) pid (\d+)/,
        );
        try {
          const port = Number(server.match[1]);
          const serverPid = Number(server.match[2]);
          const client = await runScript(testdata("manager_client.ts"), [
            String(port),
            authkey,
            startMethod,
            "3",
          ]);
          assert.match(client.stdout, /done 0,0,0/, client.stderr);
          const refused = await runScript(testdata("manager_client.ts"), [
            String(port),
            "wrong",
            startMethod,
            "0",
          ]);
          assert.match(refused.stdout, /connect failed: AuthenticationError/, refused.stderr);
          // This program connects too and drains the queue.
          const manager = new MgrQueueClient({ address: ["127.0.0.1", port], authkey });
          await manager.connect();
          assert.deepEqual(manager.address, ["127.0.0.1", port]);
          const queue = await manager.create("getQueue");
          const items: string[] = [];
          for (let i = 0; i < 4; i++) items.push(await queue.get({ timeout: 10_000 }) as string);
          assert.deepEqual(items.sort(), ["child-0", "child-1", "child-2", "client"]);
          assert.equal(await queue.empty(), true);
          // CPython's _TestRemoteManager values make the round trip intact.
          const values = [
            null,
            true,
            2.25,
            "hall\u00e5 v\u00e4rlden",
            "\u043f\u0440\u0438\u0432\u0456\u0442",
            [
              1,
              new Map([["k", 2n]]),
            ],
          ];
          await queue.put(values);
          assert.deepEqual(await queue.get({ timeout: 10_000 }), values);
          const counter = await manager.create("Counter", 5);
          assert.equal(await counter.increment(), 6);
          assert.equal(await counter.pid(), serverPid, "the counter lives in the server program");
          await manager.shutdown(); // disconnects only
          await assert.rejects(manager.create("Counter"), ValueError);
          const wrongKey = await Promise.allSettled([
            Client(["127.0.0.1", port], { authkey: "wrong" }),
          ]);
          assert.ok(
            (wrongKey[0] as PromiseRejectedResult).reason instanceof AuthenticationError,
          );
        } finally {
          const result = await server.stop();
          assert.equal(result.signal ?? "exited", "SIGTERM", result.stderr);
        }
      },
    );

    test("latency of dict.set + dict.get from a child (reported)", T, async () => {
      await using manager = await ctx.Manager();
      const d = await manager.dict<string, number>();
      const n = 1000;
      const { micros, last } = await askChild<{ micros: number; last: number }>(mgrLatency, d, n);
      assert.equal(last, n - 1);
      assert.equal(await d.get("k"), n - 1);
      assert.ok(micros > 0);
      console.log(
        `[manager latency] ${RUNTIME} ${startMethod}: ${
          micros.toFixed(1)
        } µs per dict.set + dict.get pair from a child (${n} pairs)`,
      );
    });
  });
  describe(`Manager lifetimes [${startMethod}] [${RUNTIME}]`, () => {
    test(
      "lifetime: making and closing dicts, lists, namespaces, primitives and registered types " +
        "leaves the server's object count where it started",
      T,
      async () => {
        await using manager = new MgrManager({ context: ctx });
        await manager.start();
        await using sync = await ctx.Manager();
        const before = await manager._serverObjectCount();
        const syncBefore = await sync._serverObjectCount();
        const n = 150;
        for (let i = 0; i < n; i++) {
          const d = await sync.dict({ i });
          await d.set("j", i);
          assert.equal(await d.get("i"), i);
          d.close();
          {
            using l = await sync.list([i]);
            using ns = await sync.Namespace({ i });
            await l.append(await ns.get("i"));
          }
          const q = await sync.Queue<number>();
          await q.put(i);
          assert.equal(await q.get(), i);
          q.close();
          const lock = await sync.Lock();
          await lock.acquire();
          await lock.release();
          lock.close();
          if (i % 10 === 0) {
            // Every other type the SyncManager makes, less often.
            using jq = await sync.JoinableQueue<number>();
            const rlock = await sync.RLock();
            const sem = await sync.Semaphore(2);
            const bsem = await sync.BoundedSemaphore(2);
            using ev = await sync.Event();
            const cond = await sync.Condition();
            using barrier = await sync.Barrier(1);
            using v = await sync.Value("i", i);
            using arr = await sync.Array("i", [i, i]);
            await jq.put(i);
            await rlock.acquire();
            await rlock.release();
            await sem.acquire();
            await bsem.acquire();
            await ev.set();
            await cond.acquire();
            await cond.notifyAll();
            await cond.release();
            await barrier.wait();
            assert.equal(await v.get(), i);
            assert.equal(await arr.get(1), i);
            for (const handle of [rlock, sem, bsem, cond]) handle.close();
          }
          using counter = await manager.create("Counter", i);
          assert.equal(await counter.increment(), i + 1);
        }
        await waitFor(
          async () => (await sync._serverObjectCount()) === syncBefore,
          `the SyncManager's object count to come back to ${syncBefore}`,
        );
        await waitFor(
          async () => (await manager._serverObjectCount()) === before,
          `the MgrManager's object count to come back to ${before}`,
        );
      },
    );

    test(
      "lifetime: a proxy passed to a child keeps the object after the parent closes its own, " +
        "until the child's is gone",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const before = await manager._serverObjectCount();
        const d = await manager.dict<string, unknown>({ seen: "by parent" });
        const [mine, theirs] = Pipe();
        const p = new P({ target: mgrHoldThenUse, args: [theirs, d] });
        p.start();
        theirs.close();
        d.close(); // at once: the child's reference is still on its way
        await assert.rejects(
          d.get("seen"),
          (e: Error) => e instanceof OSError && /closed/.test(e.message),
        );
        assert.equal(await mine.recv(), "holding");
        assert.equal(await manager._serverObjectCount(), before + 1, "the child holds the dict");
        await mine.send("go");
        assert.equal(await mine.recv(), "by parent");
        await mine.send("bye");
        await p.join();
        mine.close();
        assert.equal(p.exitcode, 0);
        await waitFor(
          async () => (await manager._serverObjectCount()) === before,
          "the dict to be freed once the child ended",
        );
      },
    );

    test(
      "lifetime: a dict stored in a managed list survives closing its proxy; " +
        "closing the list frees both",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const before = await manager._serverObjectCount();
        const l = await manager.list<unknown>();
        {
          using d = await manager.dict<string, number>({ a: 1 });
          await l.append(d);
          const outer = await manager.dict<string, unknown>();
          await outer.set("inner", d);
          await l.append(outer);
          outer.close();
        }
        // The proxies this program made are closed; the list holds both dicts.
        for (let i = 0; i < 3; i++) {
          assert.equal(await manager._serverObjectCount(), before + 3);
        }
        const got = await l.get(0) as DictProxy<string, number>;
        assert.equal(await got.get("a"), 1);
        const outer = await l.get(1) as DictProxy<string, unknown>;
        const inner = await outer.get("inner") as DictProxy<string, number>;
        await inner.set("b", 2);
        assert.deepEqual(await got.toObject(), { a: 1, b: 2 });
        got.close();
        inner.close();
        outer.close();
        l.close();
        await waitFor(
          async () => (await manager._serverObjectCount()) === before,
          "the list and the dicts it stored to be freed",
        );
      },
    );

    test(
      "lifetime: a proxy inside a queue item keeps its object while the item waits (library " +
        "and manager queues)",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const before = await manager._serverObjectCount();
        const mq = await manager.Queue<DictProxy<string, number>>();
        using lq = new ctx.Queue<DictProxy<string, number>>();
        for (const q of [lq, mq]) {
          const d = await manager.dict<string, number>({ a: 1 });
          await q.put(d);
          d.close();
          // Asked after the close on the same connection: the item still holds the dict.
          assert.equal(await manager._serverObjectCount(), before + 2);
          const got = await q.get();
          assert.equal(await got.get("a"), 1);
          got.close();
        }
        mq.close();
        await waitFor(
          async () => (await manager._serverObjectCount()) === before,
          "the queue and the dicts to be freed",
        );
      },
    );

    test(
      "lifetime: proxies dropped without close() are released when garbage-collected",
      { ...T, skip: pageLacks("processes") },
      async () => {
        // Its own program, so that the collector can be run (Deno: --expose-gc).
        const result = await runScript(
          testdata("manager_rss_loop.ts"),
          [startMethod, "drop", "300", "600"],
          { denoFlags: ["-A", "--v8-flags=--expose-gc"] },
        );
        assert.equal(result.code, 0, result.stderr);
        const { objects } = JSON.parse(result.stdout) as { objects: [number, number][] };
        assert.deepEqual(objects, [[300, 0], [600, 0]], "the server freed every dropped dict");
      },
    );

    test("lifetime: a killed child's proxies are released", T, async () => {
      await using manager = await ctx.Manager();
      const before = await manager._serverObjectCount();
      const d = await manager.dict<string, unknown>();
      const l = await manager.list<unknown>();
      const [mine, theirs] = Pipe();
      const p = new P({ target: mgrHoldUntilKilled, args: [theirs, d, l] });
      p.start();
      theirs.close();
      assert.equal(await mine.recv(), "holding");
      d.close();
      l.close();
      assert.equal(await manager._serverObjectCount(), before + 2, "the child holds both");
      p.kill();
      await p.join();
      mine.close();
      await waitFor(
        async () => (await manager._serverObjectCount()) === before,
        "the killed child's holds to go",
      );
    });

    test(
      "lifetime: an object whose last proxy went is gone, and its id fails with a clear OSError",
      T,
      async () => {
        await using manager = await ctx.Manager();
        const before = await manager._serverObjectCount();
        const d = await manager.dict<string, number>({ a: 1 });
        d.close();
        await waitFor(
          async () => (await manager._serverObjectCount()) === before,
          "the dict to be freed",
        );
        // The same id again, as a message naming it would rebuild it.
        const again = rebuildReduced("DictProxy", d._ref.state()) as DictProxy<string, number>;
        await assert.rejects(
          again.get("a"),
          (e: Error) => e instanceof OSError && /shared object is gone/.test(e.message),
        );
      },
    );

    test(
      "lifetime: a proxy in a reply that its client never read is given back when the client's " +
        "connection closes",
      T,
      async (t) => {
        if (!osProcess) return t.skip("the server's start method does not matter: run under spawn");
        await using manager = await ctx.Manager({ address: ["127.0.0.1", 0], authkey: "reply" });
        const before = await manager._serverObjectCount();
        const l = await manager.list<unknown>();
        {
          using d = await manager.dict<string, number>({ a: 1 });
          await l.append(d);
        }
        // A client asks for the stored dict (its reply carries a reference
        // with a ticket) and goes away without rebuilding it.
        const peer = await RawPeer.connect(manager.address!);
        try {
          await peer.handshake(enc.encode("reply"));
          peer.sendFrame(encode(["req", 1, "obj", l._ref.id, "get", 4242, [0]]));
          assert.ok(await peer.recvFrame(), "the server replied");
        } finally {
          peer.destroy();
        }
        await peer.closed;
        l.close();
        await waitFor(
          async () => (await manager._serverObjectCount()) === before,
          "the list and the dict its unread reply named to be freed",
        );
      },
    );

    test(
      "lifetime: a remote program's objects go when its connection closes (killed or ended)",
      T,
      async (t) => {
        if (!osProcess) return t.skip("the remote program is its own program: run under spawn");
        await using manager = await ctx.Manager({ address: ["127.0.0.1", 0], authkey: "held" });
        const port = String((manager.address as [string, number])[1]);
        const before = await manager._serverObjectCount();
        for (const mode of ["linger", "exit"]) {
          let held = -1;
          const result = await runScript(testdata("manager_holder.ts"), [port, "held", "5", mode], {
            onStdout(text, kill) {
              if (held < 0 && /holding 6/.test(text)) {
                held = 0;
                manager._serverObjectCount().then((count) => {
                  held = count;
                  kill("SIGKILL");
                });
              }
            },
          });
          assert.match(result.stdout, /holding 6/, result.stderr);
          if (mode === "linger") {
            assert.equal(result.signal, "SIGKILL");
            assert.equal(held, before + 7, "5 dicts, a list and the dict it stores");
          }
          await waitFor(
            async () => (await manager._serverObjectCount()) === before,
            `the objects of a program that ${mode === "linger" ? "was killed" : "ended"} to go`,
          );
        }
      },
    );
  });
}
