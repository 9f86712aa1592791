/**
 * The queue ring on its own: records of every size, pushed and popped in a
 * random but seeded order until the 1 MiB ring has wrapped many times, come
 * out whole and in order (record headers and payloads both straddle the end
 * of the ring). Every queue under both start methods goes through it.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { newRing, pop, push, Pushed, RING_BYTES } from "../src/core/_ring.ts";

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
});
