/**
 * The behaviour of `Pipe()` and `Connection`, written once and run for each
 * start method: CPython's `_TestConnection` and `_TestPoll`, ported to
 * Promises and milliseconds, plus the ways an end travels between
 * processes (as an argument, to two children at once, inside a message,
 * back from a child, on to a grandchild) and the file-descriptor-like
 * counting of its copies (EOF once every copy is closed or its holder has
 * exited; unread messages stay in the pipe for the copies left).
 *
 * Children find their targets by export name in this module, so it
 * re-exports them; it registers no tests until `runPipeContract` is called.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { pageLacks } from "./_page.ts";
import process from "node:process";
import {
  BufferTooShort,
  type Connection,
  EOFError,
  getContext,
  Listener,
  OSError,
  type Process,
  ProcessError,
  type StartMethod,
  ValueError,
} from "../../mod.ts";
import { Scope, sleep, stillPendingAfter, within } from "./_scope.ts";
import { openRuntimeSockets, SOCKET_REFUSED } from "../_helpers.ts";
import {
  pipeAnswerer,
  pipeAsker,
  pipeBytesInChild,
  pipeCloseUnread,
  pipeCollectUntilEOF,
  pipeEcho,
  pipeEchoBytes,
  pipeFastWriter,
  pipeHandOverBoth,
  pipeHoldUnread,
  pipeMakePipe,
  pipeReadOneAndReturn,
  pipeRelayToGrandchild,
  pipeReturnUnread,
  pipeSendAndReturn,
  pipeSendBack,
  pipeSendBackUnread,
  pipeSendBigAndReturn,
  pipeSendLater,
  pipeSendOneAndReturn,
  pipeSendRange,
  pipeSlowPipeReader,
  pipeSlowReader,
  pipeUseSentConnection,
  pipeWaitForever,
  pipeWriterReport,
} from "../testdata/pipe_targets.ts";

export * from "../testdata/pipe_targets.ts";

const TEST = { timeout: 60_000 };

/** Timers may fire a little early on some platforms; lower bounds allow this much. */
const TIMER_SLACK_MS = 15;

const MIB = 1024 * 1024;
/** Messages of 1 MiB a fast writer sends to a slow reader in the flow-control tests. */
const FLOW_COUNT = 64;
/** How many of its sends a writer may have seen resolve beyond what its reader read. */
const FLOW_AHEAD = 4;

/**
 * Reads `FLOW_COUNT` messages of 1 MiB one at a time with `readOne`,
 * checking before each read that the writer's resolved sends (`resolved`)
 * stay within `FLOW_AHEAD` of what was read. At a few points the writer is
 * first given time to run ahead (`settle`); with flow control it cannot,
 * without it all 64 sends resolve at once. That time is a window for a
 * bug to show, not a synchronisation: under load the writer gets less done
 * in it, which can only make the bound easier to meet, never fail it.
 */
async function assertWriterBounded(
  readOne: () => Promise<number>,
  resolved: (settle: boolean) => Promise<number>,
): Promise<void> {
  for (let read = 0; read < FLOW_COUNT; read++) {
    const settle = read === 0 || read === 8 || read === 40;
    const sends = await resolved(settle);
    assert.ok(
      sends - read <= FLOW_AHEAD,
      `after ${read} read the writer had ${sends} sends resolved (${sends - read} ahead)`,
    );
    assert.equal(await within(readOne(), `message ${read + 1}`, 30_000), MIB);
  }
}

/** The resolved sends a `pipeFastWriter` child reported on `progress` (waits 300 ms for more when settling). */
function reportedBy(progress: Connection): (settle: boolean) => Promise<number> {
  let last = 0;
  return async (settle) => {
    while (await progress.poll(settle ? 300 : undefined)) {
      try {
        last = await progress.recv() as number;
      } catch (error) {
        if (error instanceof EOFError) break;
        throw error;
      }
    }
    return last;
  };
}

/** A writer here sending `count` x 1 MiB on `conn` as fast as its sends resolve. */
function writeHere(
  conn: Connection,
  count = FLOW_COUNT,
): { done: Promise<void>; resolved: (settle: boolean) => Promise<number> } {
  let sent = 0;
  const message = new Uint8Array(MIB).fill(7);
  const done = (async () => {
    for (let i = 0; i < count; i++) {
      await conn.sendBytes(message);
      sent++;
    }
  })();
  return {
    done,
    resolved: async (settle) => {
      if (settle) await sleep(300);
      return sent;
    },
  };
}

/** Asserts that `conn.recv()` rejects with EOFError (instead of hanging). */
async function assertEOF(conn: Connection, what: string): Promise<void> {
  await assert.rejects(within(conn.recv(), what), EOFError, what);
}

async function joinedCleanly(p: Process): Promise<void> {
  await within(p.join(), `${p.name} to end`, 30_000);
  assert.equal(p.exitcode, 0, `${p.name} ended with exitcode ${p.exitcode}`);
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Fails with the first differing index, without printing megabytes. */
function assertSameBytes(actual: unknown, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: expected a Uint8Array, got ${String(actual)}`);
  assert.equal(actual.byteLength, expected.byteLength, `${what}: length`);
  let mismatch = -1;
  for (let i = 0; i < expected.byteLength; i++) {
    if (actual[i] !== expected[i]) {
      mismatch = i;
      break;
    }
  }
  assert.equal(mismatch, -1, `${what}: first difference at byte ${mismatch}`);
}

/** A value using every kind structured clone copies, with cycles and shared references. */
function richValue(): Record<string, unknown> {
  const shared = { shared: true };
  const map = new Map<unknown, unknown>([["one", 1], [2, "two"], [shared, "object key"]]);
  map.set("me", map);
  const buffer = new ArrayBuffer(16);
  const root: Record<string, unknown> = {
    map,
    set: new Set<unknown>([1, "x", shared]),
    date: new Date(Date.UTC(2024, 1, 29, 12, 30, 15, 123)),
    big: 2n ** 100n,
    negativeBig: -(2n ** 70n) - 1n,
    u8: Uint8Array.of(0, 1, 255),
    floats: new Float64Array([1.5, -0, NaN, Infinity]),
    bigints: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
    lowHalf: new Uint32Array(buffer, 0, 2),
    highHalf: new Uint8Array(buffer, 8, 8),
    nested: { deep: { deeper: [1, [2, [3, { four: 4 }]]] } },
    numbers: [0, -0, NaN, 1.5, -(2 ** 31), 2 ** 53, -Infinity],
    strings: ["", "héllo", "日本語", "snake 🐍"],
    nothing: [null, undefined],
    // deno-lint-ignore no-sparse-arrays
    sparse: [1, , 3],
    regexp: /a+b/gi,
    error: new RangeError("out of range"),
    pair: [shared, shared],
  };
  (root.lowHalf as Uint32Array)[1] = 0xdeadbeef;
  (root.highHalf as Uint8Array)[7] = 42;
  root.self = root;
  root.list = [{ up: root }];
  return root;
}

/** Checks a copy of {@linkcode richValue}: the values, and the identities inside it. */
// deno-lint-ignore no-explicit-any
function assertRichValue(r: any, original: Record<string, unknown>): void {
  assert.notEqual(r, original, "the receiver gets a copy, not the same object");
  assert.equal(r.self, r, "a cycle back to the root keeps its identity");
  assert.equal(r.list[0].up, r, "a nested cycle keeps its identity");
  assert.equal(r.pair[0], r.pair[1], "a shared reference stays shared");
  assert.deepEqual(r.pair[0], { shared: true });

  assert.ok(r.map instanceof Map, "Map");
  assert.equal(r.map.get("one"), 1);
  assert.equal(r.map.get(2), "two");
  assert.equal(r.map.get(r.pair[0]), "object key", "an object key is the same object as elsewhere");
  assert.equal(r.map.get("me"), r.map, "a Map holding itself");
  assert.ok(r.set instanceof Set, "Set");
  assert.equal(r.set.size, 3);
  assert.ok(r.set.has(1) && r.set.has("x") && r.set.has(r.pair[0]), "Set members");

  assert.ok(r.date instanceof Date, "Date");
  assert.equal(r.date.getTime(), Date.UTC(2024, 1, 29, 12, 30, 15, 123));
  assert.equal(r.big, 2n ** 100n);
  assert.equal(r.negativeBig, -(2n ** 70n) - 1n);

  assert.ok(r.u8 instanceof Uint8Array, "Uint8Array");
  assert.deepEqual([...r.u8], [0, 1, 255]);
  assert.ok(r.floats instanceof Float64Array, "Float64Array");
  const floats = [...r.floats] as number[];
  assert.ok(
    floats.length === 4 && floats[0] === 1.5 && Object.is(floats[1], -0) &&
      Number.isNaN(floats[2]) && floats[3] === Infinity,
    `Float64Array values: ${floats}`,
  );
  assert.ok(r.bigints instanceof BigInt64Array, "BigInt64Array");
  assert.deepEqual([...r.bigints], [-(2n ** 63n), 2n ** 63n - 1n]);
  assert.ok(r.lowHalf instanceof Uint32Array && r.highHalf instanceof Uint8Array, "views");
  assert.equal(r.lowHalf.buffer, r.highHalf.buffer, "two views of one buffer still share it");
  assert.equal(r.lowHalf.byteOffset, 0);
  assert.equal(r.highHalf.byteOffset, 8);
  assert.equal(r.lowHalf[1], 0xdeadbeef);
  assert.equal(r.highHalf[7], 42);

  assert.deepEqual(r.nested, { deep: { deeper: [1, [2, [3, { four: 4 }]]] } });
  assert.equal(r.numbers.length, 7);
  assert.ok(Object.is(r.numbers[1], -0), "-0 stays -0");
  assert.ok(Number.isNaN(r.numbers[2]), "NaN stays NaN");
  assert.deepEqual(
    [r.numbers[0], r.numbers[3], r.numbers[4], r.numbers[5], r.numbers[6]],
    [0, 1.5, -(2 ** 31), 2 ** 53, -Infinity],
  );
  assert.deepEqual(r.strings, ["", "héllo", "日本語", "snake 🐍"]);
  assert.equal(r.nothing.length, 2);
  assert.ok(
    r.nothing[0] === null && 1 in r.nothing && r.nothing[1] === undefined,
    "null, undefined",
  );
  assert.equal(r.sparse.length, 3);
  assert.ok(!(1 in r.sparse), "a hole stays a hole");
  assert.ok(
    r.regexp instanceof RegExp && r.regexp.source === "a+b" && r.regexp.flags === "gi",
    "RegExp",
  );
  assert.ok(r.error instanceof RangeError, "an Error keeps its class");
  assert.equal(r.error.message, "out of range");
}

/** Pipe and Connection behaviour, run once per start method. */
export function runPipeContract({ startMethod }: { startMethod: StartMethod }): void {
  const ctx = getContext(startMethod);

  describe(`Pipe and Connection (${startMethod})`, () => {
    // ---- one process ---------------------------------------------------

    test("Pipe() is duplex: each end sends to the other, in order", TEST, async () => {
      await using s = new Scope(ctx);
      const [a, b] = s.pipe();
      for (const end of [a, b]) {
        assert.equal(end.readable, true);
        assert.equal(end.writable, true);
        assert.equal(end.closed, false);
      }
      await a.send("a1");
      await b.send("b1");
      await a.send("a2");
      await b.send("b2");
      assert.equal(await b.recv(), "a1");
      assert.equal(await b.recv(), "a2");
      assert.equal(await a.recv(), "b1");
      assert.equal(await a.recv(), "b2");
      assert.equal(await a.poll(), false, "nothing is left on either end");
      assert.equal(await b.poll(), false, "nothing is left on either end");
      const [c, d] = ctx.Pipe(true);
      await d.send("explicit duplex");
      assert.equal(await c.recv(), "explicit duplex");
      c.close();
      d.close();
    });

    test(
      "send() copies structured-clone values, keeping cycles and shared references",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        const original = richValue();
        await a.send(original);
        assertRichValue(await b.recv(), original);
        for (const scalar of [0, -1, 2 ** 40, "text", true, false, null, undefined, 10n, -10n]) {
          await b.send(scalar);
          assert.equal(await a.recv(), scalar);
        }
      },
    );

    test("send() copies strings exactly, lone surrogates included", TEST, async () => {
      await using s = new Scope(ctx);
      const [a, b] = s.pipe();
      const strings = [
        "lone high \uD800 here",
        "lone low \uDC00",
        "pair \uD83D\uDC0D",
        "\u0000nul",
      ];
      assert.deepEqual(structuredClone(strings), strings, "structuredClone keeps them");
      const units = (x: string) =>
        Array.from({ length: x.length }, (_, i) => x.charCodeAt(i).toString(16));
      await a.send(strings);
      const copy = await b.recv() as string[];
      assert.deepEqual(copy.map(units), strings.map(units), "UTF-16 code units, in hex");
    });

    test("send() copies the value when it is called", TEST, async () => {
      await using s = new Scope(ctx);
      const [a, b] = s.pipe();
      const value = { list: [1, 2], buf: Uint8Array.of(1, 2, 3) };
      await a.send(value);
      value.list.push(3);
      value.buf[0] = 99;
      assert.deepEqual(await b.recv(), { list: [1, 2], buf: Uint8Array.of(1, 2, 3) });
    });

    test(
      "a runtime socket rejects the send with a TypeError saying what it is and what to do",
      { ...TEST, skip: pageLacks("sockets") },
      async () => {
        await using s = new Scope(ctx);
        await using sockets = await openRuntimeSockets();
        const [a, b] = s.pipe();
        await assert.rejects(a.send([sockets.conn]), (error: unknown) => {
          assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
          assert.equal(error.message, `Cannot copy obj[0] to another process: ${SOCKET_REFUSED}`);
          return true;
        });
        await a.send("after");
        assert.equal(await b.recv(), "after", "the pipe still works");
      },
    );

    test(
      "a value that cannot be copied rejects at once with a TypeError naming its path",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        let pending: Promise<void> | undefined;
        assert.doesNotThrow(() => {
          pending = a.send({ a: [1, () => 1] });
        }, "send() reports the error through its Promise");
        await assert.rejects(pending!, (error: unknown) => {
          assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
          assert.match(
            error.message,
            /obj\.a\[1\]/,
            `the message names the path: ${error.message}`,
          );
          return true;
        });
        await assert.rejects(a.send([{ deep: { s: Symbol("x") } }]), (error: unknown) => {
          assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
          assert.match(
            error.message,
            /obj\[0\]\.deep\.s/,
            `the message names the path: ${error.message}`,
          );
          return true;
        });
        assert.equal(await b.poll(), false, "nothing was sent");
        await a.send("still works");
        assert.equal(await b.recv(), "still works");
      },
    );

    test(
      "sendBytes(buf, offset?, size?) sends the chosen bytes; out-of-range slices are ValueError",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        const msg = bytes("0123456789");
        const text = async () => new TextDecoder().decode(await b.recvBytes());

        await a.sendBytes(msg);
        assert.equal(await text(), "0123456789");
        await a.sendBytes(msg, 5);
        assert.equal(await text(), "56789");
        await a.sendBytes(msg, 7, 3);
        assert.equal(await text(), "789");
        await a.sendBytes(msg, 0, 10);
        assert.equal(await text(), "0123456789");
        await a.sendBytes(msg, 10);
        assert.equal(await text(), "");
        await a.sendBytes(msg, 10, 0);
        assert.equal(await text(), "");

        await assert.rejects(a.sendBytes(msg, -1), ValueError, "negative offset");
        await assert.rejects(a.sendBytes(msg, 11), ValueError, "offset past the length");
        await assert.rejects(a.sendBytes(msg, 0, -1), ValueError, "negative size");
        await assert.rejects(a.sendBytes(msg, 9, 2), ValueError, "offset + size past the length");
        await assert.rejects(
          a.sendBytes(msg, undefined, -1),
          ValueError,
          "negative size, default offset",
        );
        assert.equal(await b.poll(), false, "a rejected sendBytes sends nothing");

        // Offsets and sizes count bytes, whatever the view's element size, and
        // start at the view's own first byte.
        const ints = Int32Array.of(1, 2, 3);
        await a.sendBytes(ints, 4, 4);
        assert.deepEqual(await b.recvBytes(), new Uint8Array(ints.buffer, 4, 4).slice());
        const backing = bytes("abcdefghijklmnopqrst");
        await a.sendBytes(backing.subarray(5, 15), 2, 3);
        assert.equal(await text(), "hij");
        await a.sendBytes(backing.buffer as ArrayBuffer, 18);
        assert.equal(await text(), "st");

        // The bytes are copied when sendBytes is called.
        const mutable = Uint8Array.of(1, 2, 3);
        await a.sendBytes(mutable);
        mutable[0] = 99;
        assert.deepEqual(await b.recvBytes(), Uint8Array.of(1, 2, 3));
      },
    );

    test(
      "send/recv and sendBytes/recvBytes are two views of one stream: a byte relay delivers objects",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        const [c, d] = s.pipe();
        const original = richValue();
        await a.send(original);
        const raw = await b.recvBytes();
        assert.ok(raw instanceof Uint8Array && raw.byteLength > 0, "recvBytes gives the encoding");
        await c.sendBytes(raw);
        assertRichValue(await d.recv(), original);

        // Through recvBytesInto and a slice of a larger buffer.
        await a.send({ into: [1, 2n] });
        const buffer = new Uint8Array(256).fill(0xee);
        const n = await b.recvBytesInto(buffer, 10);
        await c.sendBytes(buffer, 10, n);
        assert.deepEqual(await d.recv(), { into: [1, 2n] });

        // A live handle in the relayed bytes still works where they arrive.
        const [x, y] = s.pipe();
        await a.send({ end: y });
        await c.sendBytes(await b.recvBytes());
        const { end } = await d.recv() as { end: Connection };
        s.adopt(end);
        y.close();
        await end.send("through a relayed end");
        assert.equal(await x.recv(), "through a relayed end");

        // Bytes sent as bytes come back unchanged, whatever they hold.
        const encoded = new Uint8Array(raw);
        await c.sendBytes(encoded);
        assert.deepEqual(await d.recvBytes(), encoded);
      },
    );

    test(
      "recv() of bytes that send() did not make rejects with ValueError and reads that message",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        await a.sendBytes(bytes("hello"));
        await assert.rejects(b.recv(), (error: unknown) => {
          assert.ok(error instanceof ValueError, `expected a ValueError, got ${error}`);
          assert.match(error.message, /5 bytes/, `the message says which: ${error.message}`);
          assert.match(
            error.message,
            /recvBytes\(\)/,
            `the message says what to do: ${error.message}`,
          );
          return true;
        });
        const junk = [
          new Uint8Array(0), // nothing at all
          Uint8Array.of(4, 1, 0, 0, 0, 9), // a whole value, then a byte too many
          Uint8Array.of(6, 0xff, 0xff, 0xff, 0x7f, 0x61), // a string longer than the message
          Uint8Array.of(10, 3, 0, 0, 0, 4, 1), // an array cut short
        ];
        for (const message of junk) {
          await a.sendBytes(message);
          await assert.rejects(b.recv(), ValueError, `[${message}]`);
        }
        assert.equal(await b.poll(), false, "each bad message was read");
        await a.send("still fine");
        assert.equal(await b.recv(), "still fine");
      },
    );

    test("recvBytes(maxlength) rejects a longer message with OSError", TEST, async () => {
      await using s = new Scope(ctx);
      const [a, b] = s.pipe();
      await a.sendBytes(bytes("0123456789"));
      assert.deepEqual(await b.recvBytes(10), bytes("0123456789"), "exactly maxlength is fine");
      await assert.rejects(b.recvBytes(-1), ValueError, "negative maxlength");
      await a.sendBytes(bytes("0123456789"));
      await assert.rejects(b.recvBytes(9), OSError, "one byte too many");
      assert.equal(b.closed, true, "the failed read closes the connection, as in Python");
    });

    test(
      "recvBytesInto(buf, offset?) writes at a byte offset and returns the length",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        const arr = Int32Array.of(0, 1, 2, 3, 4);

        let buffer = new Int32Array(10);
        await a.sendBytes(arr);
        assert.equal(await b.recvBytesInto(buffer), arr.byteLength);
        assert.deepEqual([...buffer], [0, 1, 2, 3, 4, 0, 0, 0, 0, 0]);

        buffer = new Int32Array(10);
        await a.sendBytes(arr);
        assert.equal(await b.recvBytesInto(buffer, 3 * buffer.BYTES_PER_ELEMENT), arr.byteLength);
        assert.deepEqual([...buffer], [0, 0, 0, 0, 1, 2, 3, 4, 0, 0]);

        const spaces = bytes(" ".repeat(40));
        await a.sendBytes(bytes("hello"));
        assert.equal(await b.recvBytesInto(spaces, 3), 5);
        assert.equal(new TextDecoder().decode(spaces), `   hello${" ".repeat(32)}`);

        const raw = new ArrayBuffer(4);
        await a.sendBytes(bytes("abcd"));
        assert.equal(await b.recvBytesInto(raw), 4, "an ArrayBuffer works as the target");
        assert.equal(new TextDecoder().decode(raw), "abcd");

        await a.sendBytes(bytes("x"));
        await assert.rejects(b.recvBytesInto(new Uint8Array(4), -1), ValueError, "negative offset");
        await assert.rejects(
          b.recvBytesInto(new Uint8Array(4), 5),
          ValueError,
          "offset past the end",
        );
        assert.equal(await b.poll(), true, "a rejected offset consumes nothing");
        assert.deepEqual(await b.recvBytes(), bytes("x"));
      },
    );

    test(
      "recvBytesInto rejects a message that does not fit with BufferTooShort holding all of it",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        const longmsg = bytes("abcdefghijklmnopqrstuvwxyz".repeat(2));
        const buffer = bytes(" ".repeat(40));
        await a.sendBytes(longmsg);
        await a.sendBytes(bytes("next"));
        await assert.rejects(b.recvBytesInto(buffer), (error: unknown) => {
          assert.ok(error instanceof BufferTooShort, `expected BufferTooShort, got ${error}`);
          assert.ok(error instanceof ProcessError);
          assert.deepEqual(error.data, longmsg, "the whole message is in .data");
          return true;
        });
        assert.equal(
          new TextDecoder().decode(buffer),
          " ".repeat(40),
          "the buffer is left as it was",
        );
        assert.deepEqual(await b.recvBytes(), bytes("next"), "the long message was consumed");

        // Fits the buffer but not from the offset.
        await a.sendBytes(bytes("0123456789"));
        await assert.rejects(b.recvBytesInto(buffer, 35), (error: unknown) => {
          assert.ok(error instanceof BufferTooShort, `expected BufferTooShort, got ${error}`);
          assert.deepEqual(error.data, bytes("0123456789"));
          return true;
        });
      },
    );

    test(
      "poll() answers at once, poll(ms) waits up to ms, and neither consumes",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        assert.equal(await a.poll(), false);
        assert.equal(await a.poll(0), false);
        assert.equal(await a.poll(-5), false);
        const started = performance.now();
        assert.equal(await a.poll(300), false);
        const elapsed = performance.now() - started;
        assert.ok(
          elapsed >= 300 - TIMER_SLACK_MS,
          `poll(300) returned after ${elapsed.toFixed(0)} ms`,
        );

        // An empty message is a message; polling twice does not consume it.
        await b.sendBytes(new Uint8Array(0));
        assert.equal(await a.poll(), true);
        assert.equal(await a.poll(), true);
        assert.equal(await a.poll(1000), true);
        assert.deepEqual(await a.recvBytes(), new Uint8Array(0));
        assert.equal(await a.poll(), false, "recv consumed it");

        // Messages are not merged.
        await b.sendBytes(bytes("a"));
        await b.sendBytes(bytes("b"));
        await b.sendBytes(bytes("cd"));
        assert.equal(await a.poll(), true);
        assert.deepEqual(await a.recvBytes(), bytes("a"));
        assert.deepEqual(await a.recvBytes(), bytes("b"));
        assert.equal(await a.poll(), true);
        assert.deepEqual(await a.recvBytes(), bytes("cd"));
        assert.equal(await a.poll(), false);
        await assert.rejects(
          a.poll("soon" as unknown as number),
          TypeError,
          "a timeout that is not a number",
        );
      },
    );

    test(
      "poll(ms) is true when a message arrives in time; poll(null) waits until one does",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        let started = performance.now();
        setTimeout(() => b.send("soon"), 200); // the message waited for (a lower bound)
        assert.equal(await a.poll(20_000), true);
        let elapsed = performance.now() - started;
        assert.ok(
          elapsed >= 200 - TIMER_SLACK_MS,
          `poll(20000) returned after ${elapsed.toFixed(0)} ms`,
        );
        assert.equal(await a.recv(), "soon");

        started = performance.now();
        setTimeout(() => b.send("later"), 400); // the message waited for (a lower bound)
        assert.equal(await a.poll(null), true);
        elapsed = performance.now() - started;
        assert.ok(
          elapsed >= 400 - TIMER_SLACK_MS,
          `poll(null) returned after ${elapsed.toFixed(0)} ms`,
        );
        assert.equal(await a.recv(), "later");
      },
    );

    test(
      "after the other end closes, buffered messages are read, then recv rejects with EOFError",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        await b.send(1);
        await b.sendBytes(bytes("two"));
        b.close();
        assert.equal(await a.poll(), true);
        assert.equal(await a.recv(), 1);
        assert.deepEqual(await a.recvBytes(), bytes("two"));
        assert.equal(await a.poll(), true, "the end of the stream is ready to be read");
        await assertEOF(a, "EOF after the buffered messages");
        await assertEOF(a, "EOF again");
        await assert.rejects(a.recvBytes(), EOFError);
        await assert.rejects(a.recvBytesInto(new Uint8Array(8)), EOFError);
        assert.equal(a.closed, false, "EOF does not close this end");
        assert.equal(a.readable, true);
        assert.equal(a.writable, true);

        // A recv already waiting is woken by the close.
        const [c, d] = s.pipe();
        const waiting = c.recv();
        assert.equal(await stillPendingAfter(waiting, 50), true, "recv waits for a message");
        d.close();
        await assert.rejects(within(waiting, "a waiting recv to see EOF"), EOFError);
      },
    );

    test(
      "close() closes one end: every call on it rejects with OSError; closing twice is harmless",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        a.close();
        a.close();
        assert.equal(a.closed, true);
        assert.equal(b.closed, false, "the other end stays open");
        await assert.rejects(a.send(1), OSError, "send");
        await assert.rejects(a.recv(), OSError, "recv");
        await assert.rejects(a.poll(), OSError, "poll");
        await assert.rejects(a.sendBytes(bytes("x")), OSError, "sendBytes");
        await assert.rejects(a.recvBytes(), OSError, "recvBytes");
        await assert.rejects(a.recvBytesInto(new Uint8Array(4)), OSError, "recvBytesInto");
        await assert.rejects(
          b.send("nobody listens"),
          OSError,
          "sending to a closed end, as Python's BrokenPipeError",
        );

        let kept: Connection;
        {
          using c = ctx.Pipe()[0];
          kept = c;
          assert.equal(c.closed, false);
        }
        assert.equal(kept.closed, true, "`using` closes the connection");
        const [c, d] = s.pipe();
        await assert.rejects(c.send({ closed: a }), OSError, "a closed connection cannot be sent");
        assert.equal(await d.poll(), false, "nothing was sent");
      },
    );

    test("Pipe(false): the first end only receives, the second only sends", TEST, async () => {
      await using s = new Scope(ctx);
      const [reader, writer] = s.pipe(false);
      assert.equal(reader.readable, true);
      assert.equal(reader.writable, false);
      assert.equal(writer.readable, false);
      assert.equal(writer.writable, true);
      await writer.send(1);
      assert.equal(await reader.recv(), 1);
      await writer.sendBytes(bytes("raw"));
      assert.deepEqual(await reader.recvBytes(), bytes("raw"));

      await assert.rejects(reader.send(2), OSError, "reader.send");
      await assert.rejects(reader.sendBytes(bytes("x")), OSError, "reader.sendBytes");
      await assert.rejects(writer.recv(), OSError, "writer.recv");
      await assert.rejects(writer.recvBytes(), OSError, "writer.recvBytes");
      await assert.rejects(
        writer.recvBytesInto(new Uint8Array(4)),
        OSError,
        "writer.recvBytesInto",
      );
      await assert.rejects(writer.poll(), OSError, "writer.poll");
      assert.equal(await reader.poll(), false, "nothing crossed the wrong way");
    });

    test("a Connection sent through a Connection keeps working (one process)", TEST, async () => {
      await using s = new Scope(ctx);
      const [a, b] = s.pipe();
      const [x, y] = s.pipe();
      await a.send({ end: y });
      const { end } = await b.recv() as { end: Connection };
      s.adopt(end);
      await end.send("through the copy");
      assert.equal(await x.recv(), "through the copy");
      await x.send("to the copy");
      assert.equal(await end.recv(), "to the copy");
      y.close();
      end.close();
      await assertEOF(x, "EOF once every copy of the other end is closed");
    });

    test(
      "messages waiting in an end that is sent on are read where it arrives (one process)",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [a, b] = s.pipe();
        const [x, y] = s.pipe();
        await x.send("sent before y moved");
        await a.send(y);
        y.close();
        const moved = s.adopt(await b.recv() as Connection);
        assert.equal(
          await within(moved.recv(), "the message sent before the end moved", 5000),
          "sent before y moved",
        );
      },
    );

    test("concurrent recv() calls are served in call order", TEST, async () => {
      await using s = new Scope(ctx);
      const [a, b] = s.pipe();
      const first = b.recv();
      const second = b.recv();
      const third = b.recvBytes();
      await a.send(1);
      await a.send(2);
      await a.sendBytes(bytes("3"));
      assert.deepEqual([await first, await second, await third], [1, 2, bytes("3")]);
    });

    test("poll(ms) is true when the other end closes while it waits", TEST, async () => {
      await using s = new Scope(ctx);
      const [a, b] = s.pipe();
      setTimeout(() => b.close(), 100); // the close waited for; poll is true before or after it
      assert.equal(await within(a.poll(20_000), "poll to see the close"), true);
      await assertEOF(a, "EOF after the close");
    });

    // ---- between processes ---------------------------------------------

    test("a Connection passed to a child works in both directions", TEST, async () => {
      await using s = new Scope(ctx);
      const [parentEnd, childEnd] = s.pipe();
      const p = s.start(pipeEcho, [childEnd]);
      for (const value of ["hello", 42, [1, 2, 3], { nested: { ok: true } }, null]) {
        await parentEnd.send(value);
        assert.deepEqual(await within(parentEnd.recv(), "the echo"), value);
      }
      const original = richValue();
      await parentEnd.send(original);
      assertRichValue(await within(parentEnd.recv(), "the echo of a rich value"), original);
      parentEnd.close();
      await joinedCleanly(p);
    });

    test(
      "a message above the tree's message limit fails at send(), even before the child holding the other end is attached, and the pipe goes on",
      { ...TEST, skip: pageLacks("environment") },
      async () => {
        // The limit of the tree's channels (a child inherits it): a message
        // waiting for the child to attach was only refused when the owner
        // pushed it on, and its reader waited for ever.
        const before = process.env.PROCS_MP_MAX_MESSAGE_SIZE;
        process.env.PROCS_MP_MAX_MESSAGE_SIZE = String(64 * 1024);
        try {
          await using s = new Scope(ctx);
          const [parentEnd, childEnd] = s.pipe();
          const p = s.start(pipeEcho, [childEnd]);
          await assert.rejects(
            parentEnd.send(new ArrayBuffer(100 * 1024)),
            (e: Error) => e instanceof ValueError && /maxMessageSize 65536/.test(e.message),
          );
          await assert.rejects(
            parentEnd.sendBytes(new Uint8Array(100 * 1024)),
            (e: Error) => e instanceof ValueError && /maxMessageSize 65536/.test(e.message),
          );
          await parentEnd.send("still here");
          assert.equal(await within(parentEnd.recv(), "the echo after the refusals"), "still here");
          parentEnd.close();
          await joinedCleanly(p);
        } finally {
          if (before === undefined) delete process.env.PROCS_MP_MAX_MESSAGE_SIZE;
          else process.env.PROCS_MP_MAX_MESSAGE_SIZE = before;
        }
      },
    );

    test("the parent may close its copy of the child's end right after start()", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      const p = s.start(pipeEchoBytes, [childConn]);
      childConn.close();
      await conn.sendBytes(bytes("hello"));
      assert.deepEqual(await within(conn.recvBytes(), "the echo"), bytes("hello"));
      conn.close();
      await joinedCleanly(p);
    });

    test("byte calls work on an end held by a child", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      const [reportReader, reportWriter] = s.pipe(false);
      const p = s.start(pipeBytesInChild, [childConn, reportWriter]);
      childConn.close();
      reportWriter.close();

      await conn.sendBytes(bytes("0123456789"));
      const into = await within(conn.recv(), "recvBytesInto's result") as {
        n: number;
        into: Uint8Array;
      };
      assert.equal(into.n, 10);
      assert.deepEqual([...into.into], [0xee, 0xee, ...bytes("0123456789"), 0xee, 0xee]);

      await conn.sendBytes(bytes("too long"));
      const tooShort = await within(conn.recv(), "the BufferTooShort report") as Record<
        string,
        unknown
      >;
      assert.equal(tooShort.error, "BufferTooShort");
      assert.equal(tooShort.isBufferTooShort, true);
      assert.deepEqual(tooShort.data, bytes("too long"));
      assert.deepEqual(tooShort.small, new Uint8Array(4).fill(0xee));

      assert.deepEqual(await within(conn.recvBytes(), "the slice"), bytes("3456"));
      assert.deepEqual(await within(conn.recv(), "the range errors"), [
        "ValueError",
        "ValueError",
        "ValueError",
        "ValueError",
      ]);

      await conn.sendBytes(bytes("four"));
      assert.deepEqual(await within(reportReader.recv(), "the recvBytes(3) report"), {
        outcome: "OSError",
        closed: true,
      });
      await assertEOF(conn, "EOF once the child's end is closed");
      await joinedCleanly(p);
    });

    test("poll(null) and poll(ms) wait for a child's message", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      const p = s.start(pipeSendLater, [childConn, [1_000, 2_000]]);
      childConn.close();
      assert.equal(await conn.poll(), false, "nothing yet");
      let started = performance.now();
      assert.equal(await within(conn.poll(null), "poll(null)"), true);
      let elapsed = performance.now() - started;
      // The child sleeps 1 s after it starts, 2 s between its messages: lower
      // bounds well below those hold however late a message is delivered.
      assert.ok(elapsed >= 500, `poll(null) returned after ${elapsed.toFixed(0)} ms`);
      assert.equal(await conn.poll(), true, "poll(null) did not consume");
      assert.equal(await conn.recv(), 0);

      started = performance.now();
      assert.equal(await conn.poll(20_000), true);
      elapsed = performance.now() - started;
      assert.ok(elapsed >= 1_000, `poll(20000) returned after ${elapsed.toFixed(0)} ms`);
      assert.equal(await conn.recv(), 1);
      await assertEOF(conn, "EOF after the child closed its end");
      await joinedCleanly(p);
    });

    test("Pipe(false) keeps its directions in a child", TEST, async () => {
      await using s = new Scope(ctx);
      const [reader, writer] = s.pipe(false);
      const p = s.start(pipeWriterReport, [writer]);
      writer.close();
      assert.deepEqual(await within(reader.recv(), "the child's report"), {
        readable: false,
        writable: true,
        closed: false,
        recv: "OSError",
        poll: "OSError",
        recvBytes: "OSError",
      });
      await assertEOF(reader, "EOF after the child closed the writer");
      await joinedCleanly(p);
    });

    test(
      "recv gets EOFError once a child holding the only other copy has exited",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const p = s.start(pipeSendOneAndReturn, [childConn, "last words"]);
        childConn.close();
        assert.equal(await within(conn.recv(), "the child's message"), "last words");
        await assertEOF(conn, "EOF after the child exited without closing its end");
        await assert.rejects(conn.send("anyone there?"), OSError, "nobody can read it any more");
        await joinedCleanly(p);
      },
    );

    test("the parent's own copy keeps the pipe open after the child exits", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      const p = s.start(pipeSendOneAndReturn, [childConn, "bye"]);
      await joinedCleanly(p);
      assert.equal(await conn.recv(), "bye");
      const started = performance.now();
      assert.equal(await conn.poll(300), false, "no EOF while the parent still holds a copy");
      assert.ok(performance.now() - started >= 300 - TIMER_SLACK_MS);
      childConn.close();
      assert.equal(await within(conn.poll(5000), "EOF to be signalled"), true);
      await assertEOF(conn, "EOF once the parent's copy is closed too");
    });

    test("a child ended by terminate() releases its end: recv gets EOFError", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      const p = s.start(pipeWaitForever, [childConn]);
      childConn.close();
      assert.equal(await conn.poll(500), false, "the running child keeps its end open");
      p.terminate();
      await within(p.join(), "the terminated child to end", 30_000);
      assert.notEqual(p.exitcode, 0);
      await assertEOF(conn, "EOF after the child holding the other end was terminated");
    });

    test("two children talk through a pipe the parent made", TEST, async () => {
      await using s = new Scope(ctx);
      const [askEnd, answerEnd] = s.pipe();
      const [reports, reportWriter] = s.pipe(false);
      const asker = s.start(pipeAsker, [askEnd, reportWriter, 20]);
      const answerer = s.start(pipeAnswerer, [answerEnd, reportWriter]);
      askEnd.close();
      answerEnd.close();
      reportWriter.close();
      const got = [
        await within(reports.recv(), "the first report"),
        await within(reports.recv(), "the second report"),
      ] as { who: string }[];
      got.sort((x, y) => x.who.localeCompare(y.who));
      assert.deepEqual(got, [
        { who: "answerer", answered: 20 },
        { who: "asker", answers: Array.from({ length: 20 }, (_, i) => i * i) },
      ]);
      await assertEOF(reports, "EOF once both children closed their copies of the writer");
      await joinedCleanly(asker);
      await joinedCleanly(answerer);
    });

    test("a Connection sent through a Connection to a child keeps working", TEST, async () => {
      await using s = new Scope(ctx);
      const [control, childControl] = s.pipe();
      const [mine, theirs] = s.pipe();
      const p = s.start(pipeUseSentConnection, [childControl]);
      childControl.close();
      await control.send({ reply: theirs, tag: "t1" });
      theirs.close(); // the copy in flight keeps that end open
      assert.equal(await within(mine.recv(), "the greeting"), "hello from the child (t1)");
      await mine.send({ ping: [1, 2n] });
      assert.deepEqual(await within(mine.recv(), "the echo"), { echo: { ping: [1, 2n] } });
      assert.equal(await within(control.recv(), "done"), "done");
      await assertEOF(mine, "EOF once the child closed the only copy left");
      await joinedCleanly(p);
    });

    test("messages sent before a child starts are read by the child", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      await conn.send("sent before start");
      await conn.sendBytes(bytes("bytes before start"));
      const p = s.start(pipeEchoBytes, [childConn]);
      childConn.close();
      assert.equal(
        await within(conn.recv(), "the echo of the first message", 10_000),
        "sent before start",
      );
      assert.deepEqual(
        await within(conn.recvBytes(), "the echo of the second message", 10_000),
        bytes("bytes before start"),
      );
      conn.close();
      await joinedCleanly(p);
    });

    test(
      "messages sent before the parent closed its end reach the child, then EOF",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const [reports, reportWriter] = s.pipe(false);
        const p = s.start(pipeCollectUntilEOF, [childConn, reportWriter]);
        childConn.close();
        reportWriter.close();
        for (const n of [1, 2, 3]) await conn.send(n);
        conn.close();
        assert.deepEqual(await within(reports.recv(), "the report"), [1, 2, 3]);
        await joinedCleanly(p);
      },
    );

    test(
      "a Connection a child got as an argument travels back to the parent and keeps working",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [control, childControl] = s.pipe();
        const [x, y] = s.pipe();
        const p = s.start(pipeSendBack, [childControl, y]);
        childControl.close();
        y.close();
        const { end } = await within(control.recv(), "the returned end") as { end: Connection };
        s.adopt(end);
        await joinedCleanly(p);
        await end.send("through the returned end");
        assert.equal(await within(x.recv(), "the message"), "through the returned end");
        await x.send("back");
        assert.equal(await within(end.recv(), "the reply"), "back");
        assert.equal(await x.poll(200), false, "the returned copy keeps the pipe open");
        end.close();
        await assertEOF(x, "EOF once the returned copy is closed");
      },
    );

    test(
      "messages a child left unread in an end go with that end when it sends it on",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [control, childControl] = s.pipe();
        const [x, y] = s.pipe();
        const p = s.start(pipeSendBackUnread, [childControl, y]);
        childControl.close();
        y.close();
        await x.send("left unread by the child");
        const { end } = await within(control.recv(), "the returned end") as { end: Connection };
        s.adopt(end);
        assert.equal(
          await within(end.recv(), "the unread message", 10_000),
          "left unread by the child",
        );
        await joinedCleanly(p);
      },
    );

    test(
      "messages a child's copy of an end did not read stay for the parent's copy",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, shared] = s.pipe();
        const p = s.start(pipeCloseUnread, [shared]);
        await conn.send("read me from any copy");
        await joinedCleanly(p);
        assert.equal(
          await within(shared.poll(5000), "the message to reach the parent's copy"),
          true,
          "the message the child left unread is still in the pipe",
        );
        assert.equal(await shared.recv(), "read me from any copy");
      },
    );

    test(
      "messages a child's copy of the reading end got but never read stay for the parent's copy " +
        "when that child exits",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, shared] = s.pipe();
        const p = s.start(pipeReturnUnread, [shared]);
        for (const n of [1, 2, 3]) await conn.send({ n });
        await joinedCleanly(p);
        assert.equal(
          await within(shared.poll(5000), "the messages to come back to the parent's copy"),
          true,
          "what the child did not read is still in the pipe (poll)",
        );
        for (const n of [1, 2, 3]) {
          assert.deepEqual(await within(shared.recv(), `message ${n}`), { n });
        }
        assert.equal(await shared.poll(), false, "each message once");
        conn.close();
        await assertEOF(shared, "EOF once the writer is closed");
      },
    );

    test(
      "a child writer's messages routed to a child reader that exits unread reach the parent's " +
        "copy before EOF",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [reader, writer] = s.pipe(false);
        const holder = s.start(pipeReturnUnread, [reader]);
        const sender = s.start(pipeSendRange, [writer, 50]);
        writer.close();
        await joinedCleanly(sender);
        await joinedCleanly(holder);
        const received: unknown[] = [];
        for (let i = 0; i < 50; i++) received.push(await within(reader.recv(), `message ${i}`));
        assert.deepEqual(received, Array.from({ length: 50 }, (_, i) => i), "all, in order");
        await assertEOF(reader, "EOF after the last message");
      },
    );

    test(
      "messages held unread by a child that is killed stay for the parent's copy; " +
        "its recv waits for them instead of seeing EOF",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, shared] = s.pipe();
        const [control, childControl] = s.pipe(false);
        const p = s.start(pipeHoldUnread, [shared, childControl]);
        childControl.close();
        for (const n of [1, 2, 3]) await conn.send(`kept ${n}`);
        assert.equal(
          await within(control.recv(), "the child to hold a message"),
          "holding a message unread",
        );
        conn.close();
        // The writer is closed, but the messages are still in the pipe (in
        // the child's copy): no EOF yet.
        const first = shared.recv();
        first.catch(() => {}); // awaited below: fails there, not as an unhandled rejection
        p.kill();
        await within(p.join(), "the killed child to end", 30_000);
        assert.notEqual(p.exitcode, 0);
        assert.equal(await within(first, "message 1"), "kept 1");
        for (const n of [2, 3]) {
          assert.equal(await within(shared.recv(), `message ${n}`), `kept ${n}`);
        }
        await assertEOF(shared, "EOF once every message was read");
      },
    );

    test(
      "the parent's copy that waits reads what a live child's copy holds unread, " +
        "as readers of one OS pipe do",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, shared] = s.pipe();
        const [control, childControl] = s.pipe(false);
        const p = s.start(pipeHoldUnread, [shared, childControl]);
        childControl.close();
        for (const n of [1, 2, 3]) await conn.send(`held ${n}`);
        assert.equal(
          await within(control.recv(), "the child to hold a message"),
          "holding a message unread",
        );
        for (const n of [1, 2, 3]) {
          assert.equal(await within(shared.recv(), `message ${n}`), `held ${n}`);
        }
        await conn.send("sent while the parent's copy is the one reading");
        assert.equal(
          await within(shared.recv(), "the next message"),
          "sent while the parent's copy is the one reading",
        );
        conn.close();
        await assertEOF(shared, "EOF: the child's copy holds nothing");
        p.kill();
        await within(p.join(), "the child to end", 30_000);
      },
    );

    test(
      "a message a child read is gone from the pipe; the ones it left are read once by the parent",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, shared] = s.pipe();
        const [control, childControl] = s.pipe(false);
        for (const n of [1, 2, 3, 4]) await conn.send(n);
        const p = s.start(pipeReadOneAndReturn, [shared, childControl]);
        childControl.close();
        assert.equal(await within(control.recv(), "what the child read"), 1);
        await joinedCleanly(p);
        for (const n of [2, 3, 4]) assert.equal(await within(shared.recv(), `message ${n}`), n);
        assert.equal(await shared.poll(), false, "the message the child read does not come back");
      },
    );

    test("an end passed on by a child to its own child keeps working", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      const p = s.start(pipeRelayToGrandchild, [childConn, startMethod]);
      childConn.close();
      for (const value of ["to the grandchild", { n: 2 }]) {
        await conn.send(value);
        assert.deepEqual(await within(conn.recv(), "the grandchild's echo", 10_000), value);
      }
      conn.close();
      await joinedCleanly(p);
    });

    test(
      "an end of a pipe made in a child works in the parent, and sees EOF when the child is done",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [control, childControl] = s.pipe();
        const p = s.start(pipeMakePipe, [childControl]);
        childControl.close();
        const theirs = s.adopt(await within(control.recv(), "the child's pipe end") as Connection);
        assert.equal(await within(theirs.recv(), "the greeting"), "hello through the child's pipe");
        await theirs.send([1, "two"]);
        assert.deepEqual(await within(theirs.recv(), "the echo"), { echo: [1, "two"] });
        await assertEOF(theirs, "EOF once the child closed its end");
        await joinedCleanly(p);
      },
    );

    // Known limitation: a pipe lives in the process that made it (its owner
    // routes every message), so it ends with that process. Making pipes in
    // the longer-lived process avoids it; moving the owner is future work.
    test.skip(
      "a pipe made in a child keeps working in the parent after that child exits",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [control, childControl] = s.pipe();
        const p = s.start(pipeHandOverBoth, [childControl]);
        childControl.close();
        const [a, b] = await within(control.recv(), "both ends") as Connection[];
        s.adopt(a);
        s.adopt(b);
        await joinedCleanly(p);
        assert.equal(
          await within(b.recv(), "the message queued by the child"),
          "queued in a pipe made by a child",
        );
        await a.send("after the child exited");
        assert.equal(
          await within(b.recv(), "a message sent after the child exited"),
          "after the child exited",
        );
        await b.send("and back");
        assert.equal(await within(a.recv(), "the reply"), "and back");
      },
    );

    test(
      "a reader whose thread is busy while a child sends and ends still gets every byte",
      { timeout: 120_000 },
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const count = 3;
        const size = 256 * 1024;
        const p = s.start(pipeSendBigAndReturn, [childConn, count, size]);
        childConn.close();
        // Not synchronisation: the behaviour under test is a reader whose
        // thread is busy (it never returns to its event loop) while the
        // child sends, returns and ends: nothing it sent may be lost.
        const until = Date.now() + 1_500;
        while (Date.now() < until) { /* busy */ }
        for (let i = 0; i < count; i++) {
          const got = await within(conn.recvBytes(), `message ${i}`);
          assert.equal(got.length, size, `message ${i} is whole`);
          for (const k of [0, 1, size >> 1, size - 1]) {
            assert.equal(got[k], (i + k) & 0xff, `byte ${k} of message ${i}`);
          }
        }
        await joinedCleanly(p);
        await assertEOF(conn, "EOF after the last message");
      },
    );

    test("messages from a child arrive in order", TEST, async () => {
      await using s = new Scope(ctx);
      const [conn, childConn] = s.pipe();
      const p = s.start(pipeSendRange, [childConn, 1000]);
      childConn.close();
      const received: unknown[] = [];
      for (let i = 0; i < 1000; i++) received.push(await within(conn.recv(), `message ${i}`));
      assert.deepEqual(received, Array.from({ length: 1000 }, (_, i) => i));
      await assertEOF(conn, "EOF after the last message");
      await joinedCleanly(p);
    });

    test(
      "what a child sent just before it ended is delivered, even when read after join()",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const p = s.start(pipeSendAndReturn, [childConn, 200]);
        childConn.close();
        await joinedCleanly(p);
        for (let i = 0; i < 200; i++) {
          assert.equal(await conn.poll(), true, `message ${i} is already here`);
          if (i % 2 === 0) assert.deepEqual(await conn.recv(), { i, text: `message ${i}` });
          else assert.deepEqual(await conn.recvBytes(), Uint8Array.of(i & 0xff, (i >> 8) & 0xff));
        }
        await assertEOF(conn, "EOF after the 200 messages");
      },
    );

    test(
      "a child relaying with recvBytes/sendBytes delivers the objects sent with send()",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const p = s.start(pipeEchoBytes, [childConn]);
        childConn.close();
        const original = richValue();
        await conn.send(original);
        assertRichValue(await within(conn.recv(), "the relayed object"), original);
        await conn.send(2n ** 70n);
        assert.equal(await within(conn.recv(), "the relayed bigint"), 2n ** 70n);
        await conn.sendBytes(bytes("raw"));
        assert.deepEqual(await within(conn.recvBytes(), "the relayed bytes"), bytes("raw"));
        conn.close();
        await joinedCleanly(p);
      },
    );

    test(
      "await sendBytes() waits for a slow reader in a child: the writer is never far ahead",
      { ...TEST, skip: pageLacks("sockets") },
      async () => {
        // The writer (here) sends 64 x 1 MiB over a Listener connection as
        // fast as its sends resolve; the reader (a child) reads one message
        // each time it is told to. Without backpressure all 64 sends resolve
        // at once and sit in memory; with it the writer stays within a few
        // MiB (the high-water mark, the OS buffers, the reader's own mark).
        await using s = new Scope(ctx);
        await using listener = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
        const [control, controlChild] = s.pipe();
        const address = listener.address as [string, number];
        const reader = s.start(pipeSlowReader, [[address[0], address[1]], controlChild]);
        controlChild.close();
        const conn = s.adopt(await within(listener.accept(), "the reader's connection", 30_000));
        const COUNT = 64;
        const message = new Uint8Array(1024 * 1024).fill(7);
        let sent = 0;
        const writer = (async () => {
          for (let i = 0; i < COUNT; i++) {
            await conn.sendBytes(message);
            sent++;
          }
        })();
        let ahead = 0;
        for (let read = 1; read <= COUNT; read++) {
          await control.send("next");
          assert.equal(await within(control.recv(), `message ${read}`, 30_000), message.length);
          ahead = Math.max(ahead, sent - read);
          assert.ok(
            sent - read <= 32,
            `after ${read} read the writer had ${sent} sends resolved (${sent - read} ahead)`,
          );
        }
        await within(writer, "the writer", 30_000);
        await control.send("stop");
        await within(reader.join(), "the reader to exit", 30_000);
        assert.equal(reader.exitcode, 0);
        assert.ok(ahead >= 0);
      },
    );

    test(
      "await sendBytes() on a Pipe waits for a slow reader in a child",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const [control, controlChild] = s.pipe();
        const reader = s.start(pipeSlowPipeReader, [childConn, controlChild]);
        childConn.close();
        controlChild.close();
        const writer = writeHere(conn);
        await assertWriterBounded(async () => {
          await control.send("next");
          return await control.recv() as number;
        }, writer.resolved);
        await within(writer.done, "the writer", 30_000);
        await control.send("stop");
        await joinedCleanly(reader);
      },
    );

    test(
      "await sendBytes() on a Pipe in a child waits for a slow reader in the parent",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const [progress, progressChild] = s.pipe();
        const writer = s.start(pipeFastWriter, [childConn, FLOW_COUNT, MIB, progressChild]);
        childConn.close();
        progressChild.close();
        await assertWriterBounded(
          async () => (await conn.recvBytes()).byteLength,
          reportedBy(progress),
        );
        await joinedCleanly(writer);
      },
    );

    test(
      "await sendBytes() on a Pipe between two children waits for the slow reader",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [readEnd, writeEnd] = s.pipe();
        const [control, controlChild] = s.pipe();
        const [progress, progressChild] = s.pipe();
        const reader = s.start(pipeSlowPipeReader, [readEnd, controlChild]);
        const writer = s.start(pipeFastWriter, [writeEnd, FLOW_COUNT, MIB, progressChild]);
        readEnd.close();
        writeEnd.close();
        controlChild.close();
        progressChild.close();
        await assertWriterBounded(async () => {
          await control.send("next");
          return await control.recv() as number;
        }, reportedBy(progress));
        await joinedCleanly(writer);
        await control.send("stop");
        await joinedCleanly(reader);
      },
    );

    test(
      "a reader's memory stays bounded while a writer sends 256 MiB faster than it reads",
      { ...TEST, skip: pageLacks("memory") },
      async () => {
        await using s = new Scope(ctx);
        const [conn, childConn] = s.pipe();
        const [control, controlChild] = s.pipe();
        const reader = s.start(pipeSlowPipeReader, [childConn, controlChild]);
        childConn.close();
        controlChild.close();
        const ask = async (order: string) => {
          await control.send(order);
          return await within(control.recv(), `the answer to "${order}"`, 30_000) as number;
        };
        const COUNT = 256;
        const before = await ask("rss");
        const writer = writeHere(conn, COUNT);
        // Time for the writer to run ahead: without flow control the 256 MiB
        // reach the reader's inbox (under "worker", this very process). A window
        // for the bug to show, not a synchronisation: under load the writer sends
        // less in it, which can only keep the RSS lower.
        await sleep(1500);
        const grown = (await ask("rss")) - before;
        assert.ok(
          grown < 96 * MIB,
          `the reader's RSS grew by ${(grown / MIB).toFixed(0)} MiB with 0 of ${COUNT} MiB read`,
        );
        for (let read = 0; read < COUNT; read++) assert.equal(await ask("next"), MIB);
        await within(writer.done, "the writer", 30_000);
        await control.send("stop");
        await joinedCleanly(reader);
      },
    );

    test("await sendBytes() on a Pipe in one process waits for its reader", TEST, async () => {
      await using s = new Scope(ctx);
      const [readEnd, writeEnd] = s.pipe();
      const writer = writeHere(writeEnd);
      await assertWriterBounded(
        async () => (await readEnd.recvBytes()).byteLength,
        writer.resolved,
      );
      await within(writer.done, "the writer", 30_000);
    });

    test(
      "a message larger than the high-water mark goes, and closing the reader wakes the writer",
      TEST,
      async () => {
        await using s = new Scope(ctx);
        const [readEnd, writeEnd] = s.pipe();
        const [, progressChild] = s.pipe();
        const writer = s.start(pipeFastWriter, [writeEnd, 3, 4 * MIB, progressChild]);
        writeEnd.close();
        progressChild.close();
        assert.equal(
          (await within(readEnd.recvBytes(), "a 4 MiB message", 30_000)).byteLength,
          4 * MIB,
        );
        readEnd.close();
        // The writer's second send waited for the reader; the reader is gone: it ends.
        await within(writer.join(), "the writer to end", 30_000);
        const local = s.pipe();
        const waiting = local[1].sendBytes(new Uint8Array(2 * MIB));
        const second = local[1].sendBytes(new Uint8Array(16));
        local[0].close();
        await within(waiting, "a waiting send to a closed reader", 30_000);
        await within(second, "a second waiting send", 30_000);
      },
    );

    test("an 8 MiB message crosses intact, both ways, by send and by sendBytes", TEST, async () => {
      await using s = new Scope(ctx);
      const big = new Uint8Array(8 * 1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = Math.imul(i, 2654435761) >>> 24;
      const [objects, objectsChild] = s.pipe();
      const [raw, rawChild] = s.pipe();
      const echo = s.start(pipeEcho, [objectsChild]);
      const echoBytes = s.start(pipeEchoBytes, [rawChild]);
      objectsChild.close();
      rawChild.close();

      await objects.send({ big, tail: "after" });
      await raw.sendBytes(big);
      const back = await within(objects.recv(), "the echoed object", 45_000) as {
        big: Uint8Array;
        tail: string;
      };
      assertSameBytes(back.big, big, "by send");
      assert.equal(back.tail, "after");
      assertSameBytes(
        await within(raw.recvBytes(), "the echoed bytes", 45_000),
        big,
        "by sendBytes",
      );

      objects.close();
      raw.close();
      await joinedCleanly(echo);
      await joinedCleanly(echoBytes);
    });
  });
}
