/**
 * The queue ring on its own: records of every size, pushed and popped in a
 * random but seeded order until the 1 MiB ring has wrapped many times, come
 * out whole and in order (record headers and payloads both straddle the end
 * of the ring). Every queue under both start methods goes through it.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  adoptRing,
  freeRingsHeldBy,
  newRing,
  pop,
  push,
  Pushed,
  release,
  RING_BYTES,
  settleHoldsOf,
} from "../src/core/_ring.ts";

describe("queue ring", () => {
  it("keeps every record whole and in order across many wraps", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const ring = newRing(0);
    const expected: Uint8Array[] = [];
    let bytesThrough = 0;
    let popped = 0;
    while (bytesThrough < 3 * RING_BYTES) {
      if (random() < 0.52) {
        const n = 1 + Math.floor(random() * (random() < 0.05 ? 3000 : 12));
        const item = new Uint8Array(n).map(() => Math.floor(random() * 256));
        if (push(ring, { bytes: item }, 1) === Pushed.Done) {
          expected.push(item);
          bytesThrough += 4 + n;
        }
      } else {
        const got = pop(ring, 1);
        if (!got) {
          assert.equal(expected.length, 0, "the ring said empty while holding records");
          continue;
        }
        assert.ok("bytes" in got);
        const want = expected.shift()!;
        const same = got.bytes.length === want.length && got.bytes.every((b, i) => b === want[i]);
        if (!same) assert.deepEqual([...got.bytes], [...want], `record ${popped}`);
        popped++;
      }
    }
    assert.ok(popped > 5_000);
  });

  it("a held record is kept whole while the ring fills, and goes back to the front when its holder dies", () => {
    const ring = adoptRing(newRing(0));
    const item = (i: number, n: number) => new Uint8Array(n).fill(i);
    for (let i = 1; i <= 3; i++) assert.equal(push(ring, { bytes: item(i, 1000) }, 1), Pushed.Done);
    const worker = 0x7001;
    const taken = pop(ring, worker, true);
    assert.ok(taken && "bytes" in taken && taken.bytes[0] === 1 && taken.hold >= 0);
    // Fill the ring: pushes stop before the held record's bytes.
    let pushed = 0;
    while (push(ring, { bytes: item(9, 1000) }, 1) === Pushed.Done) pushed++;
    assert.ok(pushed > 1000, `${pushed} pushed`);
    // The holder dies: its record is the next one taken, whole, then the rest in order.
    settleHoldsOf(worker, true);
    const back = pop(ring, 1);
    assert.ok(back && "bytes" in back);
    assert.deepEqual([back.bytes.length, back.bytes[0], back.bytes[999]], [1000, 1, 1]);
    // A holder reported dead takes and puts nothing more.
    assert.equal(pop(ring, worker, true), null);
    assert.equal(push(ring, { bytes: item(5, 10) }, worker), Pushed.Done);
    const next = pop(ring, 1);
    assert.ok(next && "bytes" in next && next.bytes[0] === 2);
  });

  it("a released record is gone, and its room comes back", () => {
    const ring = adoptRing(newRing(0));
    assert.equal(push(ring, { bytes: new Uint8Array(100).fill(1) }, 1), Pushed.Done);
    const taken = pop(ring, 0x7002, true);
    assert.ok(taken && taken.hold >= 0);
    release(ring, taken.hold, 0x7002);
    settleHoldsOf(0x7002, true);
    assert.equal(pop(ring, 1), null, "nothing came back");
    let pushed = 0;
    while (push(ring, { bytes: new Uint8Array(1020) }, 1) === Pushed.Done) pushed++;
    assert.equal(pushed, RING_BYTES / 1024, "the whole ring is free again");
  });

  it("a worker barred in one ring (its report dropped) lets go of no hold in another: the item comes back", () => {
    // The process that started a killed worker bars it ring by ring; between
    // two rings the worker may still run. Here it is barred in the report
    // ring and not yet in the queue's ring.
    const worker = 0x7003;
    const reports = adoptRing(newRing(0));
    settleHoldsOf(worker, true); // barred in every ring known so far: `reports`
    const queue = adoptRing(newRing(0));
    assert.equal(push(queue, { bytes: new Uint8Array([42]) }, 1), Pushed.Done);
    const taken = pop(queue, worker, true);
    assert.ok(taken && "bytes" in taken && taken.hold >= 0);
    // Its report of the item is dropped (barred there) ...
    assert.equal(push(reports, { bytes: new Uint8Array([1]) }, worker), Pushed.Done);
    assert.equal(pop(reports, 1), null, "a barred worker's report never lands");
    // ... so its next get must not release the item for good.
    assert.equal(release(queue, taken.hold, worker), false);
    settleHoldsOf(worker, true);
    const back = pop(queue, 1);
    assert.ok(back && "bytes" in back && back.bytes[0] === 42, "the item came back");
  });

  it("a mutex whose holder stopped at any instruction names it, and is freed", () => {
    const ring = adoptRing(newRing(0));
    const worker = 0x7004;
    // A worker terminated right after taking the mutex: the one word says who holds it.
    Atomics.store(ring.control, 0, worker);
    freeRingsHeldBy(worker);
    assert.equal(push(ring, { bytes: new Uint8Array([7]) }, 1), Pushed.Done, "the mutex is free");
    const got = pop(ring, 1);
    assert.ok(got && "bytes" in got && got.bytes[0] === 7);
  });
});
