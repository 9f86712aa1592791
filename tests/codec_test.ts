/**
 * The message codec on its own: every value kind survives a round trip with
 * its identities (shared references, cycles, views over one buffer), frames
 * cut from any chunking decode to the same messages, and the encoder it
 * reuses between messages is never shared by two encodes at once.
 *
 * The codec runs the same in every process, so this is not a per-start-method
 * contract; every test that moves values between processes exercises it too.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decode,
  encode,
  encodeFrameParts,
  LARGE_VIEW,
  REDUCE,
  type Reduced,
  registerReducer,
} from "../src/core/_wire/codec.ts";
import { frame, FrameReader } from "../src/core/_wire/framing.ts";

/** A frame as a channel writes it: the parts of `encodeFrameParts`, one after the other. */
function frameOf(value: unknown): Uint8Array {
  const parts = encodeFrameParts(value);
  const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.byteLength;
  }
  return whole;
}

function roundTrip<T>(value: T): T {
  return decode(encode(value)) as T;
}

describe("codec", () => {
  it("round-trips numbers at the Int32/Float64 boundaries, -0 and NaN", () => {
    const numbers = [
      0,
      -0,
      1,
      -1,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
      0.1,
      -1.5e-300,
      Infinity,
      -Infinity,
      NaN,
    ];
    const back = roundTrip(numbers);
    assert.equal(back.length, numbers.length);
    for (let i = 0; i < numbers.length; i++) assert.ok(Object.is(back[i], numbers[i]), `${i}`);
  });

  it("sends long arrays of numbers as one block and gets the same arrays back", () => {
    const ints = Array.from({ length: 1000 }, (_, i) => (i - 500) * 4_000_000);
    const floats = [...ints.map((n) => n / 3), -0, NaN, Infinity, -Infinity, 2 ** 53, 1e-310];
    const withMinusZero = [...Array.from({ length: 20 }, (_, i) => i), -0];
    for (const numbers of [ints, floats, withMinusZero]) {
      const bytes = encode(numbers);
      // One tag and a block: 4 or 8 bytes an item, not a tag and a value each.
      const each = numbers === ints ? 4 : 8;
      assert.ok(bytes.length <= 6 + numbers.length * each, `${bytes.length} bytes`);
      const back = decode(bytes) as number[];
      assert.ok(Array.isArray(back));
      assert.equal(back.length, numbers.length);
      for (let i = 0; i < numbers.length; i++) assert.ok(Object.is(back[i], numbers[i]), `${i}`);
    }
    // Anything else in the array, a hole, or a shared reference: still exact.
    const mixed: unknown[] = [...ints.slice(0, 30), "x", 1n];
    const holey = ints.slice(0, 30);
    delete holey[7];
    const shared = { a: ints, b: ints };
    assert.deepEqual(roundTrip(mixed), mixed);
    const back = roundTrip(holey);
    assert.equal(7 in back, false);
    assert.deepEqual(back, holey);
    const sharedBack = roundTrip(shared);
    assert.equal(sharedBack.a, sharedBack.b);
    assert.deepEqual(sharedBack.a, ints);
    // A block is numbered as the array it stands for: references after it still resolve.
    const after = { list: ints.slice(0, 20), other: {} as object, again: null as object | null };
    after.again = after.other;
    const afterBack = roundTrip(after);
    assert.equal(afterBack.again, afterBack.other);
  });

  it("writes a large encoded payload as a part of its own, and the parts make the same frame", () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i * 7);
    const payload = encode(big.buffer); // as a pipe's message: encoded once
    const message = ["pipe.send", 3, 1, payload, { ticket: "t" }, [payload.subarray(0, 2)]];
    const parts = encodeFrameParts(message);
    assert.ok(parts.length >= 3, `${parts.length} parts`);
    assert.ok(parts.includes(payload), "the payload itself is a part, not a copy");
    const whole = frameOf(message);
    assert.deepEqual(whole, new Uint8Array(frame(encode(message))));
    const [frameBytes] = new FrameReader(1 << 30).push(whole);
    const back = decode(frameBytes) as unknown[];
    assert.deepEqual(new Uint8Array(decode(back[3] as Uint8Array) as ArrayBuffer), big);
    // Small payloads stay in the frame: one part, the whole frame.
    const small = ["pipe.send", 3, 1, encode("hi")];
    const smallParts = encodeFrameParts(small);
    assert.equal(smallParts.length, 1);
    assert.deepEqual(new Uint8Array(smallParts[0]), new Uint8Array(frame(encode(small))));
  });

  it('decodes large payloads as views into the input with views: "large", small ones as copies', () => {
    const big = encode(new Uint8Array(LARGE_VIEW).fill(3));
    const small = encode(new Uint8Array(1000).fill(4));
    const input = encode(["pipe.push", "t", 1, big, small]);
    const [, , , bigBack, smallBack] = decode(input, { views: "large" }) as Uint8Array[];
    assert.equal(bigBack.buffer, input.buffer, "the large payload is a view into the input");
    assert.notEqual(smallBack.buffer, input.buffer, "the small one is a copy of its own");
    assert.deepEqual(
      new Uint8Array(decode(bigBack) as Uint8Array),
      new Uint8Array(LARGE_VIEW).fill(3),
    );
    assert.deepEqual(
      new Uint8Array(decode(smallBack) as Uint8Array),
      new Uint8Array(1000).fill(4),
    );
  });

  it("hands out a large encoding without copying it, and later encodes never touch it", () => {
    const big = new Float64Array(300_000).map((_, i) => i / 3);
    const first = encode(big);
    const copy = first.slice();
    for (let i = 0; i < 3; i++) encode(new Float64Array(300_000).fill(i));
    encode({ small: [1, 2, 3] });
    assert.deepEqual(first, copy);
    assert.deepEqual(decode(first), big);
  });

  it("round-trips ASCII, non-ASCII and lone-surrogate strings of every length class", () => {
    const strings = [
      "",
      "a",
      "ping",
      "x".repeat(63),
      "x".repeat(64),
      "x".repeat(65),
      "x".repeat(100_000),
      "é",
      "日本語",
      "ascii then é",
      "a".repeat(64) + "é",
      "😀",
      "\uD800",
      "a\uDC00b",
      "\u007F\u0080",
      "\0nul",
    ];
    assert.deepEqual(roundTrip(strings), strings);
    const keys = { ["é"]: 1, ["k".repeat(70)]: 2, ping: 3, ["__proto__"]: 4 };
    const back = roundTrip(keys);
    assert.deepEqual(Object.keys(back), Object.keys(keys));
    assert.equal(back["__proto__"], 4);
    assert.equal(Object.getPrototypeOf(back), Object.prototype);
  });

  it("round-trips bigint, Date, RegExp, Map, Set, holes and errors", () => {
    const value = {
      big: [0n, -1n, 2n ** 100n, -(2n ** 70n)],
      date: new Date(1_700_000_000_123),
      re: /a+b/giu,
      map: new Map<unknown, unknown>([["a", 1], [2, { b: 3 }]]),
      set: new Set([1, "two", null]),
      // deno-lint-ignore no-sparse-arrays
      holes: [1, , 3],
      error: Object.assign(new RangeError("out"), { code: 7 }),
      nothing: [undefined, null, true, false],
    };
    const back = roundTrip(value);
    assert.deepEqual(back.big, value.big);
    assert.equal(back.date.getTime(), value.date.getTime());
    assert.equal(back.re.source, "a+b");
    assert.equal(back.re.flags, "giu");
    assert.deepEqual([...back.map], [...value.map]);
    assert.deepEqual([...back.set], [...value.set]);
    assert.equal(back.holes.length, 3);
    assert.equal(1 in back.holes, false);
    assert.ok(back.error instanceof RangeError);
    assert.equal(back.error.message, "out");
    assert.equal((back.error as unknown as { code: number }).code, 7);
    assert.deepEqual(back.nothing, value.nothing);
  });

  it("keeps shared references and cycles", () => {
    const shared = { s: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;
    const back = roundTrip(cyclic);
    assert.equal(back.self, back);
    assert.equal(back.shared, back.again);
  });

  it("rebuilds byte arrays, views and the buffers they share", () => {
    const whole = new Uint8Array([1, 2, 3, 4]);
    const buffer = new ArrayBuffer(16);
    const head = new Uint8Array(buffer, 0, 4);
    const tail = new Int32Array(buffer, 8, 2);
    tail[1] = -5;
    const value = {
      whole,
      wholeAgain: whole,
      itsBuffer: whole.buffer,
      head,
      tail,
      buffer,
      view: new DataView(buffer, 4, 4),
      floats: new Float64Array([1.5, NaN]),
      empty: new Uint8Array(0),
    };
    const back = roundTrip(value);
    assert.deepEqual([...back.whole], [1, 2, 3, 4]);
    assert.equal(back.wholeAgain, back.whole);
    assert.equal(back.itsBuffer, back.whole.buffer);
    assert.equal(back.whole.buffer.byteLength, 4);
    assert.equal(back.head.buffer, back.buffer);
    assert.equal(back.tail.buffer, back.buffer);
    assert.equal(back.view.buffer, back.buffer);
    assert.equal(back.head.byteLength, 4);
    assert.equal(back.tail[1], -5);
    assert.equal(back.tail.byteOffset, 8);
    assert.equal(back.buffer.byteLength, 16);
    assert.ok(back.floats instanceof Float64Array);
    assert.ok(Number.isNaN(back.floats[1]));
    assert.equal(back.empty.byteLength, 0);
    // A buffer met before its whole-buffer view keeps the pair linked too.
    const b2 = new ArrayBuffer(3);
    const pair = roundTrip([b2, new Uint8Array(b2)] as const);
    assert.equal(pair[1].buffer, pair[0]);
  });

  it("keeps a received byte array and its buffer linked when they are sent on together", () => {
    const received = decode(encode(new Uint8Array([9, 8, 7]))) as Uint8Array;
    const back = roundTrip({ bytes: received, buffer: received.buffer, again: received });
    assert.deepEqual([...back.bytes], [9, 8, 7]);
    assert.equal(back.buffer, back.bytes.buffer);
    assert.equal(back.again, back.bytes);
    // The library's own encoded bytes travel as bytes, whatever else the
    // message holds (an ArrayBuffer before them, views sharing their slab).
    const first = encode(1);
    const second = encode(2);
    const mixed = roundTrip([new ArrayBuffer(2), received, first, second, first] as const);
    assert.equal(decode(mixed[2]), 1);
    assert.equal(decode(mixed[3]), 2);
    assert.equal(mixed[4], mixed[2]);
    assert.equal(mixed[2].buffer.byteLength, first.byteLength);
    const around = roundTrip([first, new ArrayBuffer(2), second] as const);
    assert.equal(decode(around[0]), 1);
    assert.equal(decode(around[2]), 2);
  });

  it("returns bytes of exactly the encoded length that later encodes do not touch", () => {
    const a = encode({ n: 1 });
    const copy = [...a];
    const others = Array.from({ length: 2000 }, (_, i) => encode({ n: i, s: "x".repeat(i % 50) }));
    assert.deepEqual([...a], copy);
    assert.deepEqual(decode(a), { n: 1 });
    assert.equal(a.byteLength, encode({ n: 2 }).byteLength);
    for (let i = 0; i < others.length; i++) {
      assert.deepEqual(decode(others[i]), { n: i, s: "x".repeat(i % 50) });
    }
    const big = encode("y".repeat(10_000));
    assert.equal(decode(big), "y".repeat(10_000));
  });

  it("nests an encode inside a reducer without mixing the two values", () => {
    class Inner {
      [REDUCE](): Reduced {
        return { type: "codec_test.Inner", state: encode({ inner: "x".repeat(10) }) };
      }
    }
    registerReducer("codec_test.Inner", (state) => decode(state as Uint8Array));
    const back = roundTrip({ before: "b", inner: new Inner(), after: [1, 2] });
    assert.deepEqual(back, { before: "b", inner: { inner: "x".repeat(10) }, after: [1, 2] });
  });

  it("names the path of what cannot be copied, and encodes normally afterwards", () => {
    assert.throws(
      () => encode({ list: [1, { fn: () => 1 }] }, {}, "args"),
      (error: Error) =>
        error instanceof TypeError && /args\.list\[1\]\.fn/.test(error.message) &&
        /functions cannot be copied/.test(error.message),
    );
    assert.throws(
      () => encode([Symbol("s")]),
      /value\[0\] to another process: symbols cannot be copied/,
    );
    assert.deepEqual(roundTrip({ after: "ok" }), { after: "ok" });
  });

  it("refuses runtime objects with what they are, and copies the program's own class instances", () => {
    const refused: [unknown, RegExp][] = [
      [new ReadableStream(), /^Cannot copy args\[0\]\.body to another process: it is a stream, /],
      [new Response("x"), /it is an HTTP request or response, .*read its body here/],
      [new Blob(["x"]), /it is a Blob, .*await blob\.bytes\(\)/],
      [
        new URL("http://example.com/"),
        /it is a URL, an object of the runtime that cannot be copied/,
      ],
      [new TextEncoder(), /it is a TextEncoder, an object of the runtime/],
    ];
    for (const [value, message] of refused) {
      assert.throws(() => encode([{ body: value }], {}, "args"), (error: Error) => {
        assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
        assert.match(error.message, message);
        return true;
      });
    }
    class Point {
      x = 1;
      y = [2, new Map([["z", 3]])];
      norm(): number {
        return this.x;
      }
    }
    class Stateless {}
    const boxed = roundTrip({
      p: new Point(),
      s: new Stateless(),
      o: Object.create({ inherited: 1 }),
    });
    assert.deepEqual(boxed, { p: { x: 1, y: [2, new Map([["z", 3]])] }, s: {}, o: {} });
  });

  it("frames decode the same however the stream is cut", () => {
    const messages = [["op", 1, "é"], ["pipe.send", "id", 0, false, encode({ n: 1 })], [
      "big",
      "y".repeat(70_000),
    ]];
    const stream = new Uint8Array(
      messages.reduce((n, m) => n + frameOf(m).byteLength, 0),
    );
    let at = 0;
    for (const m of messages) {
      const f = frameOf(m);
      assert.deepEqual([...f.subarray(0, 4)], [...frame(encode(m)).subarray(0, 4)]);
      stream.set(f, at);
      at += f.byteLength;
    }
    for (const cut of [1, 3, 4, 5, 7, 1000, stream.byteLength]) {
      const reader = new FrameReader();
      const got: unknown[] = [];
      for (let i = 0; i < stream.byteLength; i += cut) {
        for (const f of reader.push(stream.slice(i, i + cut))) got.push(decode(f));
      }
      assert.equal(reader.pending, 0);
      assert.equal(got.length, 3, `cut ${cut}`);
      assert.deepEqual(got[0], messages[0]);
      assert.deepEqual(decode((got[1] as unknown[])[4] as Uint8Array), { n: 1 });
      assert.deepEqual(got[2], messages[2]);
    }
  });

  it("a large frame is gathered whole however it is cut, between small ones and after a hold", () => {
    // 3 MiB: above the size from which the reader gathers a frame into a
    // buffer of its own; each byte says where it is.
    const big = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 7) & 0xff);
    const small = (n: number) => frame(new Uint8Array([n]));
    const parts = [small(1), frame(big), small(2), small(3), frame(big), small(4)];
    const stream = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      stream.set(p, at);
      at += p.byteLength;
    }
    for (const cut of [65_537, 100_000, 1_000_003, stream.byteLength]) {
      for (const hold of [-1, 2]) {
        const reader = new FrameReader();
        if (hold > 0) reader.holdAfter(hold);
        const got: Uint8Array[] = [];
        for (let i = 0; i < stream.byteLength; i += cut) {
          got.push(...reader.push(stream.slice(i, i + cut)));
          if (hold > 0 && got.length === hold) got.push(...reader.resume());
        }
        const label = `cut ${cut}, hold ${hold}`;
        assert.equal(reader.pending, 0, label);
        assert.deepEqual(
          got.map((f) => f.byteLength),
          [1, big.byteLength, 1, 1, big.byteLength, 1],
          label,
        );
        assert.deepEqual([got[0][0], got[2][0], got[3][0], got[5][0]], [1, 2, 3, 4], label);
        assert.ok(got[1].every((b, i) => b === big[i]), label);
        assert.ok(got[4].every((b, i) => b === big[i]), label);
      }
    }
  });

  it("dropping a half-received large frame frees its buffer and the reader starts afresh", () => {
    const reader = new FrameReader();
    const announced = frame(new Uint8Array(8 * 1024 * 1024)).subarray(0, 4);
    reader.push(announced.slice());
    const chunks = Array.from({ length: 10 }, () => new Uint8Array(200_000).fill(9));
    for (const chunk of chunks) assert.deepEqual(reader.push(chunk), []);
    assert.equal(reader.pending, 2_000_000);
    // Chunks copied into the frame's own buffer were handed back at once.
    assert.ok(chunks.slice(1).every((c) => c.buffer.byteLength === 0));
    reader.clear();
    assert.equal(reader.pending, 0);
    assert.deepEqual(reader.push(frame(new Uint8Array([5]))).map((f) => [...f]), [[5]]);
  });

  it("refuses a frame longer than the reader allows", () => {
    const reader = new FrameReader(16);
    assert.throws(() => reader.push(frame(new Uint8Array(17))), RangeError);
  });
  it("checks every announced length against the bytes left before allocating", () => {
    // Tags as the codec numbers them; a hostile peer writes them by hand.
    const TAG = {
      String: 6,
      Array: 10,
      Object: 11,
      Map: 12,
      Set: 13,
      ArrayBuffer: 14,
      BackRef: 18,
      String16: 22,
      Bytes: 24,
      Numbers: 25,
    };
    const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
    const huge = 2 ** 31;
    // Byte payloads announce 128 MiB (not 2^31) so that, without the
    // check, the test fails by returning instead of by exhausting memory.
    const cases: [string, number[]][] = [
      ["a string announcing 2^31 bytes", [TAG.String, ...u32(huge), 0x61]],
      ["a UTF-16 string announcing 2^31 units", [TAG.String16, ...u32(huge), 0x61, 0]],
      ["an array announcing 2^31 items", [TAG.Array, ...u32(huge), 0]],
      ["an object announcing 2^31 keys", [TAG.Object, ...u32(huge)]],
      ["a map announcing 2^31 entries", [TAG.Map, ...u32(huge)]],
      ["a set announcing 2^31 items", [TAG.Set, ...u32(huge)]],
      ["bytes announcing 128 MiB", [TAG.Bytes, ...u32(2 ** 27), 1, 2, 3]],
      ["an ArrayBuffer announcing 128 MiB", [TAG.ArrayBuffer, ...u32(2 ** 27), 1, 2, 3]],
      ["an array whose items run past the end", [TAG.Array, ...u32(3), 0]],
      ["a string cut short", [TAG.String, ...u32(10), 0x61]],
      ["a number cut short", [4, 1, 2]],
      ["a reference to an object not yet seen", [TAG.BackRef, ...u32(5)]],
      ["a block announcing 2^30 float64s", [TAG.Numbers, 1, ...u32(2 ** 30), 0]],
      ["a block of int32s cut short", [TAG.Numbers, 0, ...u32(3), 1, 0, 0, 0]],
      ["a block of an unknown kind", [TAG.Numbers, 7, ...u32(1), 1, 0, 0, 0]],
    ];
    for (const [what, bytes] of cases) {
      assert.throws(
        () => decode(new Uint8Array(bytes)),
        (e: Error) => e instanceof TypeError && /^Corrupt message/.test(e.message),
        what,
      );
    }
    // The checks cost nothing to honest messages: nested values still decode.
    const value = { a: [1, "x".repeat(70), new Uint8Array(3)], m: new Map([[1, new Set([2])]]) };
    assert.deepEqual(decode(encode(value)), value);
  });
});
