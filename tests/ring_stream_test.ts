/**
 * The shared-memory byte stream of the `ring` tree transport on its own:
 * two ends in one thread, each other's port replaced by a direct call (the
 * rings, the waits and the wake-ups are the real ones: `Atomics.waitAsync`
 * is woken by a notify from its own thread too). Every "worker" contract
 * runs over it as well (it is the default transport of "worker" children).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  newRing,
  RING_BYTES,
  type RingSignal,
  RingStream,
  webTimers,
} from "../src/adapters/_ring_stream.ts";

const timers = webTimers;

/** Two connected ends; what one signals reaches the other a turn later, as on a port. */
function pair(): { a: RingStream; b: RingStream; finished: string[] } {
  const up = newRing();
  const down = newRing();
  const finished: string[] = [];
  const ends: RingStream[] = [];
  const to = (peer: number) => (message: RingSignal) =>
    setTimeout(() => ends[peer].signalled(message), 0);
  ends.push(new RingStream(up, down, to(1), timers, () => finished.push("a")));
  ends.push(new RingStream(down, up, to(0), timers, () => finished.push("b")));
  return { a: ends[0], b: ends[1], finished };
}

/** Collects what `stream` delivers until it closes. */
function collect(stream: RingStream): { chunks: Uint8Array[]; closed: Promise<void> } {
  const chunks: Uint8Array[] = [];
  stream.onData((chunk) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => stream.onClose(resolve));
  return { chunks, closed };
}

function joined(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

/** Deterministic bytes of varied sizes, many larger than a ring. */
function writes(total: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let seed = 7;
  let made = 0;
  while (made < total) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const size = Math.min(total - made, 1 + (seed % (RING_BYTES + RING_BYTES / 3)));
    out.push(new Uint8Array(size).map((_, i) => (made + i) * 31));
    made += size;
  }
  return out;
}

describe("ring stream", () => {
  it("delivers every byte in order across wrap-arounds, and end() closes both sides after them", async () => {
    const { a, b, finished } = pair();
    const got = collect(b);
    const sent = writes(8 * RING_BYTES + 12345);
    for (const w of sent) a.write(w);
    assert.ok(a.buffered > RING_BYTES, "what does not fit waits, counted as buffered");
    await a.end();
    await got.closed;
    assert.deepEqual(joined(got.chunks), joined(sent));
    assert.equal(a.buffered, 0);
    assert.deepEqual(finished.sort(), ["a", "b"]);
  });

  it("a paused reader holds the writer back: drained() resolves only once it reads again", async () => {
    const { a, b } = pair();
    b.pause();
    const got = collect(b);
    const sent = writes(3 * RING_BYTES);
    for (const w of sent) a.write(w);
    let drained = false;
    const wait = a.drained(1024).then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(drained, false);
    assert.equal(got.chunks.length, 0);
    assert.ok(a.buffered > 1024);
    b.resume();
    await wait;
    assert.ok(a.buffered <= 1024);
    await a.end();
    await got.closed;
    assert.deepEqual(joined(got.chunks), joined(sent));
  });

  it("a peer that is lost leaves what it wrote to be read, then the stream closes", async () => {
    const { a, b } = pair();
    const sent = writes(RING_BYTES / 2);
    for (const w of sent) a.write(w);
    await new Promise((resolve) => setTimeout(resolve, 0)); // the writes reach the ring
    const got = collect(b);
    b.peerLost();
    await got.closed;
    assert.deepEqual(joined(got.chunks), joined(sent));
  });

  it("destroy() closes this side at once; the other reads what was in the ring, then closes", async () => {
    const { a, b } = pair();
    const got = collect(b);
    a.write(new Uint8Array([1, 2, 3]));
    await new Promise((resolve) => setTimeout(resolve, 0));
    let aClosed = false;
    a.onClose(() => (aClosed = true));
    a.destroy();
    await got.closed;
    assert.deepEqual([...joined(got.chunks)], [1, 2, 3]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(aClosed, true);
    a.write(new Uint8Array([4])); // ignored, as on a closed socket
    assert.equal(a.buffered, 0);
  });

  it("both directions at once: an echo of many small messages keeps their order", async () => {
    const { a, b } = pair();
    b.onData((chunk) => b.write(chunk));
    const back: Uint8Array[] = [];
    a.onData((chunk) => back.push(chunk));
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 2000; i++) {
      const m = new Uint8Array([i & 255, i >> 8, 9]);
      sent.push(m);
      a.write(m);
      if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const total = sent.length * 3;
    while (back.reduce((n, c) => n + c.byteLength, 0) < total) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(joined(back), joined(sent));
    a.destroy();
    b.destroy();
  });
});
