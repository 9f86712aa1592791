/**
 * Hostile peers: a server's memory and a legitimate client's latency while
 * 1,000 connections sit idle without finishing the challenge and 50 hostile
 * peers misbehave, against a manager's server and a `Listener` (each in its
 * own "spawn" child, on 127.0.0.1). Linux only (it reads `/proc`).
 *
 *     deno run -A bench/hostile.ts [--idle 1000] [--hostile 50] [--seconds 10] [--only manager|listener]
 *     bun bench/hostile.ts [same options]
 *
 * For each server it prints, before, during and after the attack: the
 * server's RSS and open descriptors, and the p50/p99 of a legitimate
 * client's round trip (a managed dict's `get`, or a `send` + `recv` echo
 * over a `Client` connection), plus how long a new legitimate client takes
 * to connect during the attack. The attack is bounded in count and time:
 *
 * - idle: `--idle` connections that never answer the challenge; one that
 *   the server closes is opened again after 1 s, until the attack ends;
 * - hostile (`--hostile`, split in three): peers that drip the challenge's
 *   answer one byte every 200 ms; peers that prove the key and then send a
 *   message announcing a 2^31-byte byte string and a 2^31-character string;
 *   peers that prove the key, announce a 500 MB frame, send 20 MB of it and
 *   close. Each kind reconnects (after 200 ms) until the attack ends.
 *
 * @module
 */

import net from "node:net";
import process from "node:process";
import { createHmac, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  activeChildren,
  type Address,
  Client,
  type Connection,
  getContext,
  Listener,
  Pipe,
} from "../mod.ts";

const enc = new TextEncoder();
const CHALLENGE = enc.encode("#CHALLENGE#");
const WELCOME = enc.encode("#WELCOME#");
const KEY = enc.encode("bench-key");

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
function only(): string | null {
  const i = process.argv.indexOf("--only");
  return i >= 0 ? process.argv[i + 1] : null;
}

/** The resident memory of a process, in MiB. */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}
function fds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function frameOf(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.byteLength);
  new DataView(out.buffer).setUint32(0, payload.byteLength);
  out.set(payload, 4);
  return out;
}

function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** A message `["req", <what>]` in the codec's bytes, where <what> announces 2^31 of something. */
function hugeAnnouncement(tag: number): Uint8Array {
  // Array(2) ["req", tag + 2^31 length] (tags: 6 string, 10 array, 24 bytes).
  return new Uint8Array([
    10,
    ...u32le(2),
    6,
    ...u32le(3),
    0x72,
    0x65,
    0x71,
    tag,
    ...u32le(2 ** 31),
  ]);
}

/** A raw socket that speaks the wire format by hand (the attacker). */
class Peer {
  readonly socket: net.Socket;
  #buffer = new Uint8Array(0);
  #wake: (() => void) | null = null;
  closed = false;
  readonly done: Promise<void>;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      const joined = new Uint8Array(this.#buffer.byteLength + chunk.byteLength);
      joined.set(this.#buffer);
      joined.set(chunk, this.#buffer.byteLength);
      this.#buffer = joined;
      this.#poke();
    });
    socket.on("error", () => {});
    this.done = new Promise((resolve) =>
      socket.on("close", () => {
        this.closed = true;
        this.#poke();
        resolve();
      })
    );
  }

  static connect(port: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => resolve(new Peer(socket)));
      socket.once("error", reject);
    });
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async frame(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#buffer.byteLength >= 4) {
        const n = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(0);
        if (this.#buffer.byteLength >= 4 + n) {
          const f = this.#buffer.slice(4, 4 + n);
          this.#buffer = this.#buffer.slice(4 + n);
          return f;
        }
      }
      if (this.closed) return null;
      await new Promise<void>((r) => (this.#wake = r));
    }
  }

  write(bytes: Uint8Array): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** The client's half of the challenge; false when the server closed first. */
  async handshake(): Promise<boolean> {
    const challenge = await this.frame();
    if (!challenge) return false;
    const hmac = (m: Uint8Array) => new Uint8Array(createHmac("sha256", KEY).update(m).digest());
    this.write(frameOf(hmac(challenge.subarray(CHALLENGE.byteLength))));
    if (!(await this.frame())) return false; // #WELCOME#
    const nonce = new Uint8Array(randomBytes(32));
    const mine = new Uint8Array(CHALLENGE.byteLength + 32);
    mine.set(CHALLENGE);
    mine.set(nonce, CHALLENGE.byteLength);
    this.write(frameOf(mine));
    if (!(await this.frame())) return false; // the server's digest
    this.write(frameOf(WELCOME));
    return (await this.frame()) !== null; // #READY#
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the attack on `port` until `stop` resolves; returns what it did. */
function attack(port: number, idle: number, hostile: number, stop: Promise<void>) {
  let running = true;
  stop.then(() => (running = false));
  const open = new Set<Peer>();
  const counts = { idleOpened: 0, idleClosedByServer: 0, hostileRuns: 0 };
  const loops: Promise<void>[] = [];

  const idleSlot = async () => {
    while (running) {
      let peer: Peer;
      try {
        peer = await Peer.connect(port);
      } catch {
        await sleep(1000);
        continue;
      }
      counts.idleOpened++;
      open.add(peer);
      await Promise.race([peer.done, stop]);
      open.delete(peer);
      if (!running) {
        peer.destroy();
        break;
      }
      counts.idleClosedByServer++;
      await sleep(1000);
    }
  };
  const drip = async (peer: Peer) => {
    await peer.frame(); // the challenge
    const answer = frameOf(new Uint8Array(32));
    for (let i = 0; i < answer.byteLength && running && !peer.closed; i++) {
      peer.write(answer.subarray(i, i + 1));
      await Promise.race([sleep(200), peer.done]);
    }
  };
  const huge = async (peer: Peer) => {
    if (!(await peer.handshake())) return;
    peer.write(frameOf(hugeAnnouncement(24))); // bytes announcing 2^31
    await Promise.race([peer.done, sleep(500)]);
    peer.write(frameOf(hugeAnnouncement(6))); // a string announcing 2^31
    await Promise.race([peer.done, sleep(500)]);
  };
  const partial = async (peer: Peer) => {
    if (!(await peer.handshake())) return;
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, 250_000_000);
    peer.write(header);
    const chunk = new Uint8Array(1024 * 1024).fill(7);
    for (let i = 0; i < 20 && running && !peer.closed; i++) {
      if (!peer.socket.write(chunk)) {
        await Promise.race([new Promise((r) => peer.socket.once("drain", r)), peer.done]);
      }
    }
  };
  const hostileSlot = async (kind: (peer: Peer) => Promise<void>) => {
    while (running) {
      let peer: Peer;
      try {
        peer = await Peer.connect(port);
      } catch {
        await sleep(200);
        continue;
      }
      open.add(peer);
      counts.hostileRuns++;
      try {
        await kind(peer);
      } catch {
        // the server closed it
      }
      peer.destroy();
      open.delete(peer);
      await sleep(200);
    }
  };

  for (let i = 0; i < idle; i++) loops.push(idleSlot());
  const kinds = [drip, huge, partial];
  for (let i = 0; i < hostile; i++) loops.push(hostileSlot(kinds[i % kinds.length]));
  return {
    counts,
    async finish() {
      await Promise.all(loops);
      for (const peer of open) peer.destroy();
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Round trips of `roundTrip` for `ms` milliseconds: p50 and p99 (ms) and failures. */
async function latency(roundTrip: () => Promise<void>, ms: number) {
  const times: number[] = [];
  const errors = new Set<string>();
  let failures = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t = performance.now();
    try {
      await roundTrip();
      times.push(performance.now() - t);
    } catch (error) {
      failures++;
      errors.add(String((error as Error)?.message ?? error));
      await sleep(50);
    }
  }
  times.sort((a, b) => a - b);
  return {
    p50: percentile(times, 0.5),
    p99: percentile(times, 0.99),
    n: times.length,
    failures,
    errors: [...errors],
  };
}

interface Target {
  name: string;
  pid: number;
  port: number;
  roundTrip(): Promise<void>;
  connect(): Promise<void>;
  close(): Promise<void>;
}

async function managerTarget(): Promise<Target> {
  const manager = await getContext("spawn").Manager({
    address: ["127.0.0.1", 0],
    authkey: KEY,
  });
  const d = await manager.dict<string, number>({ k: 1 });
  const pid = activeChildren().at(-1)!.pid!;
  const port = (manager.address as [string, number])[1];
  return {
    name: "manager server",
    pid,
    port,
    roundTrip: async () => void (await d.get("k")),
    connect: async () => {
      const c = await Client(manager.address as Address, { authkey: KEY });
      c.close();
    },
    close: () => manager.shutdown(),
  };
}

/** The Listener's side: echoes every message on every connection, until the pipe closes. */
export async function listenerEchoServer(control: Connection): Promise<void> {
  const listener = new Listener({ address: ["127.0.0.1", 0], authkey: KEY });
  await control.send((listener.address as [string, number])[1]);
  const serve = async (conn: Connection) => {
    try {
      for (;;) await conn.sendBytes(await conn.recvBytes());
    } catch {
      conn.close();
    }
  };
  void (async () => {
    for (;;) {
      try {
        void serve(await listener.accept());
      } catch {
        // a peer that failed the challenge
      }
    }
  })();
  await control.recv().catch(() => {});
  listener.close();
}

async function listenerTarget(): Promise<Target> {
  const [mine, theirs] = Pipe();
  const p = new (getContext("spawn").Process)({ target: listenerEchoServer, args: [theirs] });
  p.start();
  theirs.close();
  const port = await mine.recv() as number;
  const client = await Client(["127.0.0.1", port], { authkey: KEY });
  const ping = new Uint8Array(16);
  return {
    name: "Listener",
    pid: p.pid!,
    port,
    roundTrip: async () => {
      await client.sendBytes(ping);
      await client.recvBytes();
    },
    connect: async () => {
      const c = await Client(["127.0.0.1", port], { authkey: KEY });
      c.close();
    },
    close: async () => {
      client.close();
      mine.close();
      await p.join(5000);
      if (p.isAlive()) p.kill();
    },
  };
}

/**
 * A peer that proves the key, announces a 250 MB frame, sends `mb` MB of it
 * and closes: the server's RSS before, once the bytes are in, and 3 s later.
 */
async function droppedFrame(target: Target, mb: number): Promise<string> {
  const before = rssMiB(target.pid);
  const peer = await Peer.connect(target.port);
  if (!(await peer.handshake())) return "the challenge failed";
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 250_000_000);
  peer.write(header);
  const chunk = new Uint8Array(1024 * 1024).fill(7);
  for (let i = 0; i < mb && !peer.closed; i++) {
    if (!peer.socket.write(chunk)) {
      await Promise.race([new Promise((r) => peer.socket.once("drain", r)), peer.done]);
    }
  }
  await sleep(1000);
  const full = rssMiB(target.pid);
  peer.destroy();
  await sleep(3000);
  return `a peer sent ${mb} MB of an announced 250 MB frame and closed: server RSS ${
    before.toFixed(1)
  } MiB before, ${full.toFixed(1)} MiB with the bytes in, ${
    rssMiB(target.pid).toFixed(1)
  } MiB 3 s after it closed`;
}

async function run(make: () => Promise<Target>, idle: number, hostile: number, seconds: number) {
  const target = await make();
  const dropped = await droppedFrame(target, 200);
  const rows: string[][] = [];
  const row = (phase: string, l: { p50: number; p99: number; n: number; failures: number }) =>
    rows.push([
      phase,
      rssMiB(target.pid).toFixed(1),
      String(fds(target.pid)),
      l.p50.toFixed(2),
      l.p99.toFixed(2),
      String(l.n),
      String(l.failures),
    ]);
  try {
    row("before", await latency(target.roundTrip, 2000));
    const a = startAttacker(target.port, idle, hostile);
    await sleep(1000); // let the idle connections pile up
    const connects = await latency(target.connect, 1000);
    let peak = rssMiB(target.pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(target.pid))), 100);
    row("under attack", await latency(target.roundTrip, seconds * 1000 - 2000));
    clearInterval(sampler);
    rows[rows.length - 1][1] += ` (peak ${peak.toFixed(1)})`;
    a.stop();
    a.counts = await a.finished;
    await sleep(3000);
    row("3 s after", await latency(target.roundTrip, 1000));
    console.log(
      `\n${target.name} on 127.0.0.1 (${process.versions.bun ? "bun" : "deno"}), ` +
        `${idle} idle + ${hostile} hostile for ${seconds} s: ` +
        `${a.counts.idleOpened} idle connections opened (${a.counts.idleClosedByServer} closed by the server), ` +
        `${a.counts.hostileRuns} hostile runs; a new client connects in p50 ${
          connects.p50?.toFixed(1)
        } / p99 ${connects.p99?.toFixed(1)} ms (${connects.failures} failed${
          connects.errors.length ? `: ${connects.errors.join("; ")}` : ""
        }) under attack`,
    );
    console.log(dropped);
    console.log("| phase | server RSS MiB | server fds | p50 ms | p99 ms | round trips | failed |");
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  } finally {
    await target.close();
  }
}

/**
 * Runs the attack in another process (so the legitimate client's latency
 * is the server's, not the attacker's event loop): it prints its counts
 * when its stdin closes.
 */
function startAttacker(port: number, idle: number, hostile: number) {
  const self = fileURLToPath(import.meta.url);
  const args = process.versions.bun ? [self] : ["run", "-A", self];
  const child = spawn(process.execPath, [
    ...args,
    "--attack",
    String(port),
    "--idle",
    String(idle),
    "--hostile",
    String(hostile),
  ], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
  const finished = new Promise<
    { idleOpened: number; idleClosedByServer: number; hostileRuns: number }
  >(
    (resolve) => child.on("close", () => resolve(JSON.parse(out))),
  );
  return {
    counts: { idleOpened: 0, idleClosedByServer: 0, hostileRuns: 0 },
    finished,
    stop: () => child.stdin!.end(),
  };
}

if (import.meta.main && process.argv.includes("--attack")) {
  const port = option("attack", 0);
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const a = attack(port, option("idle", 1000), option("hostile", 50), stopped);
  process.stdin.on("data", () => {});
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  await stopped;
  await a.finish();
  process.stdout.write(JSON.stringify(a.counts));
  process.exit(0);
} else if (import.meta.main) {
  const idle = option("idle", 1000);
  const hostile = option("hostile", 50);
  const seconds = option("seconds", 10);
  const which = only();
  if (which === null || which === "manager") await run(managerTarget, idle, hostile, seconds);
  if (which === null || which === "listener") await run(listenerTarget, idle, hostile, seconds);
  process.exit(0);
}
