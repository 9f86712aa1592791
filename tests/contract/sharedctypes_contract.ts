/**
 * The shared values contract: `Value`, `SharedArray` (Python's `Array`),
 * `RawValue` and `RawArray`, written once and run for each start method on
 * Deno and Bun. Cases are ported from CPython's _TestValue and _TestArray,
 * plus C-style wrap-around for every typecode and memory really shared
 * under "worker".
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type CValue,
  getContext,
  Pipe,
  type Process,
  type StartMethod,
  type Typecode,
  ValueError,
} from "../../mod.ts";
import * as targets from "../testdata/sharedctypes_targets.ts";
import { RUNTIME, waitFor } from "../_helpers.ts";
import { lifetimeWriteValues } from "../testdata/lifetime_targets.ts";
import { ownedCore } from "../../src/core/_shared.ts";

export * from "../testdata/sharedctypes_targets.ts";
export * from "../testdata/lifetime_targets.ts";

const T = { timeout: 60_000 };

const TYPECODES: Typecode[] = ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "f", "d"];
const zero = (tc: Typecode): CValue => (tc === "q" || tc === "Q" ? 0n : 0);

/**
 * Per integer typecode: the largest value, what `max + 1` wraps to, the
 * smallest value and what `min - 1` wraps to.
 */
const LIMITS: [Typecode, CValue, CValue, CValue, CValue][] = [
  ["b", 127, -128, -128, 127],
  ["B", 255, 0, 0, 255],
  ["h", 32767, -32768, -32768, 32767],
  ["H", 65535, 0, 0, 65535],
  ["i", 2 ** 31 - 1, -(2 ** 31), -(2 ** 31), 2 ** 31 - 1],
  ["I", 2 ** 32 - 1, 0, 0, 2 ** 32 - 1],
  ["l", 2 ** 31 - 1, -(2 ** 31), -(2 ** 31), 2 ** 31 - 1],
  ["L", 2 ** 32 - 1, 0, 0, 2 ** 32 - 1],
  ["q", 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n), 2n ** 63n - 1n],
  ["Q", 2n ** 64n - 1n, 0n, 0n, 2n ** 64n - 1n],
];

/** Adds `n` to a value of either kind (a bigint for `q`/`Q`). */
function plus(x: CValue, n: number): CValue {
  return typeof x === "bigint" ? x + BigInt(n) : x + n;
}

/** Starts `target` with `args`, joins it, and checks it ended well. */
async function runChild(
  P: typeof Process,
  target: (...args: never[]) => unknown,
  args: unknown[],
): Promise<void> {
  const p = new P({ target, args });
  p.start();
  await p.join();
  assert.equal(p.exitcode, 0, `${target.name} ended with exitcode ${p.exitcode}`);
}

/** Runs `target` in a child with a pipe end first; returns everything it sent. */
async function collect(
  P: typeof Process,
  target: (...args: never[]) => unknown,
  args: unknown[],
): Promise<unknown[]> {
  const [reader, writer] = Pipe();
  const p = new P({ target, args: [writer, ...args] });
  p.start();
  writer.close();
  const values: unknown[] = [];
  try {
    for (;;) values.push(await reader.recv());
  } catch (error) {
    if ((error as Error).name !== "EOFError") throw error;
  } finally {
    reader.close();
    await p.join();
  }
  assert.equal(p.exitcode, 0, `${target.name} ended with exitcode ${p.exitcode}`);
  return values;
}

/** Whether `promise` is still pending after `ms` milliseconds. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const PENDING = Symbol("pending");
  const timer = new Promise((r) => setTimeout(() => r(PENDING), ms));
  return (await Promise.race([promise, timer])) === PENDING;
}

/** Fails (instead of hanging until the test timeout) when `promise` takes longer than `ms`. */
function within<R>(promise: Promise<R>, ms: number, what: string): Promise<R> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Behaviour of shared values under one start method. */
export function runSharedctypesContract({ startMethod }: { startMethod: StartMethod }): void {
  const ctx = getContext(startMethod);
  const P = ctx.Process;
  const sharesMemory = startMethod === "worker";

  describe(`Shared values [${startMethod}] [${RUNTIME}]`, () => {
    // ------------------------------------------------------------ in one process

    test("Value holds its initial value; the default is zero of its type", T, async () => {
      for (const tc of TYPECODES) {
        const v = ctx.Value(tc);
        assert.equal(v.typecode, tc);
        assert.equal(await v.get(), zero(tc), `Value('${tc}') starts at zero`);
      }
      assert.equal(await ctx.Value("i", 42).get(), 42);
      assert.equal(await ctx.Value("d", -1.25).get(), -1.25);
      assert.equal(await ctx.Value("q", 5).get(), 5n, "a 'q' made from a number is a bigint");
      assert.equal(await ctx.Value("Q", 2n ** 60n).get(), 2n ** 60n);
      assert.equal(typeof await ctx.Value("L", 7).get(), "number");
    });

    test("every integer typecode wraps around as C does, on init, set and update", T, async () => {
      for (const [tc, max, maxPlusOne, min, minMinusOne] of LIMITS) {
        const v = ctx.Value(tc, max);
        assert.equal(await v.get(), max, `'${tc}' holds its largest value`);
        assert.equal(await v.update((x) => plus(x, 1)), maxPlusOne, `'${tc}' max + 1`);
        assert.equal(await v.get(), maxPlusOne, `'${tc}' stored max + 1`);
        await v.set(min);
        assert.equal(await v.get(), min, `'${tc}' holds its smallest value`);
        assert.equal(await v.update((x) => plus(x, -1)), minMinusOne, `'${tc}' min - 1`);
        await v.set(plus(max, 1));
        assert.equal(await v.get(), maxPlusOne, `'${tc}' set(max + 1)`);
        assert.equal(await ctx.Value(tc, plus(min, -1)).get(), minMinusOne, `'${tc}' init`);
      }
      // The examples of the issue, spelled out.
      const b = ctx.Value("b", 127);
      assert.equal(await b.update((x) => Number(x) + 1), -128);
      const B = ctx.Value("B", 255);
      assert.equal(await B.update((x) => Number(x) + 1), 0);
      assert.equal(await ctx.Value("b", 200).get(), -56);
      assert.equal(await ctx.Value("H", -1).get(), 65535);
      assert.equal(await ctx.Value("Q", -1n).get(), 2n ** 64n - 1n);
      assert.equal(await ctx.Value("q", 2n ** 64n + 5n).get(), 5n);
    });

    test("'f' rounds to single precision, 'd' keeps double precision", T, async () => {
      const f = ctx.Value("f", 0.1);
      assert.equal(await f.get(), Math.fround(0.1));
      assert.notEqual(await f.get(), 0.1);
      await f.set(16_777_217); // 2**24 + 1 has no float
      assert.equal(await f.get(), 16_777_216);
      await f.set(1e40);
      assert.equal(await f.get(), Infinity, "too large for a float is inf, as ctypes");
      await f.set(0.5);
      assert.equal(await f.update((x) => Number(x) + 0.25), 0.75);
      await f.set(NaN);
      assert.ok(Number.isNaN(await f.get()));

      const d = ctx.Value("d", 0.1);
      assert.equal(await d.get(), 0.1);
      await d.set(2 ** 53 + 1);
      assert.equal(await d.get(), 2 ** 53);
      await d.set(-0);
      assert.ok(Object.is(await d.get(), -0));
      await d.set(1e300);
      assert.equal(await d.update((x) => Number(x) * 10), 1e301);

      const fa = ctx.SharedArray("f", [0.1, 1e40, 3]);
      assert.deepEqual(await fa.toArray(), [Math.fround(0.1), Infinity, 3]);
      const da = ctx.SharedArray("d", [0.1, 1 / 3]);
      assert.deepEqual(await da.toArray(), [0.1, 1 / 3]);
    });

    test("a value of the wrong kind is a TypeError", T, async () => {
      assert.throws(() => ctx.Value("q", 1.5), TypeError);
      assert.throws(() => ctx.Value("i", "3" as unknown as number), TypeError);
      await assert.rejects(ctx.Value("Q").set(0.5), TypeError);
      await assert.rejects(ctx.Value("d").set("x" as unknown as number), TypeError);
      await assert.rejects(ctx.SharedArray("q", 2).set(0, 1.5), TypeError);
      assert.throws(() => ctx.SharedArray("q", [1n, 2.5]), TypeError);
    });

    test("an unknown typecode is a TypeError naming it", T, () => {
      const bad = ["x", "", "ii", "c", "u", "B ", "constructor", "toString", "__proto__", 1, null];
      const makers: [string, (tc: Typecode) => unknown][] = [
        ["Value", (tc) => ctx.Value(tc, 0)],
        ["SharedArray", (tc) => ctx.SharedArray(tc, 2)],
      ];
      if (sharesMemory) {
        makers.push(["RawValue", (tc) => ctx.RawValue(tc)], [
          "RawArray",
          (tc) => ctx.RawArray(tc, 2),
        ]);
      }
      // Every case is tried, so a failure lists all the typecodes that went wrong.
      const wrong: string[] = [];
      for (const tc of bad) {
        for (const [name, make] of makers) {
          try {
            make(tc as unknown as Typecode);
            wrong.push(`${name}(${JSON.stringify(tc)}): no error`);
          } catch (e) {
            if (!(e instanceof TypeError) || !/typecode/i.test((e as Error).message)) {
              wrong.push(
                `${name}(${JSON.stringify(tc)}): ${(e as Error).name}: ${(e as Error).message}`,
              );
            }
          }
        }
      }
      assert.deepEqual(wrong, []);
    });

    test("an array of a size is zero-filled, for every typecode", T, async () => {
      for (const tc of TYPECODES) {
        const a = ctx.SharedArray(tc, 5);
        assert.equal(a.typecode, tc);
        assert.equal(a.length, 5);
        assert.deepEqual(await a.toArray(), Array(5).fill(zero(tc)), `Array('${tc}', 5)`);
      }
      const empty = ctx.SharedArray("i", 0);
      assert.equal(empty.length, 0);
      assert.deepEqual(await empty.toArray(), []);
      assert.deepEqual(await empty.slice(), []);
      await assert.rejects(empty.get(0), RangeError);
    });

    test("an array size that is negative or not an integer is a ValueError", T, () => {
      for (const size of [-1, 2.5, NaN]) {
        assert.throws(() => ctx.SharedArray("i", size), ValueError, `size ${size}`);
        if (sharesMemory) assert.throws(() => ctx.RawArray("i", size), ValueError);
      }
    });

    test("an array made from values holds them, converted and wrapped", T, async () => {
      const a = ctx.SharedArray("i", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(a.length, 10);
      assert.deepEqual(await a.toArray(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(await ctx.SharedArray("b", [127, 128, -129, 256]).toArray(), [
        127,
        -128,
        127,
        0,
      ]);
      assert.deepEqual(await ctx.SharedArray("B", [-1, 256, 300]).toArray(), [255, 0, 44]);
      assert.deepEqual(await ctx.SharedArray("Q", [-1n, 3]).toArray(), [2n ** 64n - 1n, 3n]);
      // Any iterable will do.
      assert.deepEqual(await ctx.SharedArray("h", new Set([5, 6])).toArray(), [5, 6]);
      function* gen() {
        yield 1.5;
        yield 2.5;
      }
      assert.deepEqual(await ctx.SharedArray("d", gen()).toArray(), [1.5, 2.5]);
      // toArray is a copy.
      const copy = await a.toArray();
      copy[0] = 100;
      assert.equal(await a.get(0), 1);
    });

    test("get, set, negative indices, slice and update on an array", T, async () => {
      // CPython's _TestArray.test_array, in short.
      const seq = [680, 626, 934, 821, 150, 233, 548, 982, 714, 831];
      const arr = ctx.SharedArray("i", seq);
      assert.equal(arr.length, seq.length);
      assert.equal(await arr.get(3), seq[3]);
      assert.equal(await arr.get(-1), 831);
      assert.equal(await arr.get(-seq.length), 680);
      assert.deepEqual(await arr.slice(2, 5), seq.slice(2, 5));
      assert.deepEqual(await arr.slice(-3), seq.slice(-3));
      assert.deepEqual(await arr.slice(1, -1), seq.slice(1, -1));
      assert.deepEqual(await arr.slice(), seq);
      assert.deepEqual(await arr.slice(8, 2), []);
      await arr.set(0, -1);
      await arr.set(-2, 2 ** 31); // wraps
      assert.equal(await arr.get(0), -1);
      assert.equal(await arr.get(8), -(2 ** 31));
      assert.equal(await arr.update(-1, (x) => Number(x) * 2), 1662);
      assert.equal(await arr.update(4, async (x) => await Promise.resolve(Number(x) + 1)), 151);
      assert.deepEqual(await arr.toArray(), [
        -1,
        626,
        934,
        821,
        151,
        233,
        548,
        982,
        -(2 ** 31),
        1662,
      ]);
      const q = ctx.SharedArray("q", 3);
      assert.equal(await q.update(1, (x) => (x as bigint) - 1n), -1n);
      assert.deepEqual(await q.toArray(), [0n, -1n, 0n]);
    });

    test(
      "an index out of range is a RangeError; one that is not an integer a TypeError",
      T,
      async () => {
        const arr = ctx.SharedArray("d", 5);
        for (const index of [5, 6, -6, 1000]) {
          await assert.rejects(arr.get(index), RangeError, `get(${index})`);
          await assert.rejects(arr.set(index, 1), RangeError, `set(${index})`);
          await assert.rejects(arr.update(index, (x) => x), RangeError, `update(${index})`);
        }
        await assert.rejects(arr.get(1.5), TypeError);
        await assert.rejects(arr.get("1" as unknown as number), TypeError);
        assert.deepEqual(await arr.toArray(), [0, 0, 0, 0, 0], "nothing was written");
        // A failed update does not keep the lock.
        assert.equal(await within(arr.update(0, (x) => Number(x) + 1), 5000, "update"), 1);
      },
    );

    test("the default lock is an RLock, so update works while holding it", T, async () => {
      const v = ctx.Value("i", 0);
      const arr = ctx.SharedArray("i", 2);
      assert.ok(v.getLock() instanceof ctx.RLock);
      assert.ok(arr.getLock() instanceof ctx.RLock);
      assert.notEqual(v.getLock(), ctx.Value("i").getLock(), "each Value has its own lock");
      const lock = v.getLock()!;
      await lock.acquire();
      try {
        // Python's `with v.get_lock(): v.value += 1`.
        assert.equal(await within(v.update((x) => Number(x) + 1), 5000, "update"), 1);
      } finally {
        await lock.release();
      }
      assert.equal(await ctx.Value("i", 0, { lock: true }).getLock() instanceof ctx.RLock, true);
    });

    test("lock: false gives no lock, and update still works", T, async () => {
      const v = ctx.Value("i", 1, { lock: false });
      const arr = ctx.SharedArray("i", [1, 2], { lock: false });
      assert.equal(v.getLock(), null);
      assert.equal(arr.getLock(), null);
      assert.equal(await v.update((x) => Number(x) + 1), 2);
      assert.equal(await arr.update(1, (x) => Number(x) + 1), 3);
    });

    test("lock: someLock uses that lock: update waits while it is held", T, async () => {
      const lock = new ctx.Lock();
      const v = ctx.Value("i", 0, { lock });
      const arr = ctx.SharedArray("d", 3, { lock });
      assert.equal(v.getLock(), lock);
      assert.equal(arr.getLock(), lock);
      const rlock = new ctx.RLock();
      assert.equal(ctx.Value("b", 0, { lock: rlock }).getLock(), rlock);

      await lock.acquire();
      const updated = v.update((x) => Number(x) + 1);
      const itemUpdated = arr.update(2, (x) => Number(x) + 0.5);
      assert.ok(await pendingAfter(updated, 200), "update waits for the lock");
      assert.ok(await pendingAfter(itemUpdated, 0), "an array update waits for the lock too");
      assert.equal(await v.get(), 0);
      await lock.release();
      assert.equal(await updated, 1);
      assert.equal(await itemUpdated, 0.5);
      assert.equal(await lock.acquire({ block: false }), true, "update released the lock");
      await lock.release();
    });

    test("a lock option that is not a lock is a TypeError", T, () => {
      for (const lock of ["yes", 1, {}, null]) {
        assert.throws(() => ctx.Value("i", 0, { lock: lock as never }), TypeError);
        assert.throws(() => ctx.SharedArray("i", 1, { lock: lock as never }), TypeError);
      }
    });

    // ------------------------------------------------------------ with children

    test("a child reads the values and sets them; the parent sees it after join", T, async () => {
      const v = ctx.Value("i", 10);
      const big = ctx.Value("q", 0n);
      const small = ctx.Value("b", 0, { lock: false });
      const arr = ctx.SharedArray("d", [0.5, 0, 0]);
      await runChild(P, targets.setValuesAndItems, [v, big, small, arr]);
      assert.equal(await v.get(), 42);
      assert.equal(await big.get(), 2n ** 62n + 1n);
      assert.equal(await small.get(), -56, "wrapped as a C signed char");
      assert.deepEqual(await arr.toArray(), [0.5, 2.5, -1]);
    });

    test("a child sees length, items, slices, and RangeError for a bad index", T, async () => {
      const arr = ctx.SharedArray("h", [1, -2, 3, 40000]);
      const [report] = await collect(P, targets.reportArray, [arr]);
      assert.deepEqual(report, {
        typecode: "h",
        length: 4,
        all: [1, -2, 3, 40000 - 65536],
        tail: [-2, 3, 40000 - 65536],
        middle: [-2, 3],
        last: 40000 - 65536,
        getOutOfRange: "RangeError:true",
        setOutOfRange: "RangeError:true",
        hasLock: true,
      });
      const [noLock] = await collect(P, targets.reportHasLock, [
        ctx.Value("i", 0, { lock: false }),
      ]);
      assert.equal(noLock, false, "lock: false travels as no lock");
    });

    test("Values and arrays nested in an argument reach the child", T, async () => {
      const counter = ctx.Value("I", 2 ** 32 - 1);
      const arr = ctx.SharedArray("B", [255, 1]);
      const flag = ctx.Value("Q", 7n);
      const sent = await collect(P, targets.bumpNested, [{ counter, list: [arr, flag] }]);
      assert.deepEqual(sent, [[2 ** 32 - 1, [255, 1], 7n]]);
      assert.equal(await counter.get(), 0, "the child's update wrapped around");
      assert.deepEqual(await arr.toArray(), [0, 1]);
      assert.equal(await flag.get(), 8n);
    });

    test("4 children × 200 updates give exactly 800: update is atomic", T, async () => {
      const v = ctx.Value("i", 0);
      const arr = ctx.SharedArray("l", 2);
      const children = Array.from(
        { length: 4 },
        () => new P({ target: targets.incrementWithUpdate, args: [v, arr, 200] }),
      );
      for (const p of children) p.start();
      for (const p of children) await p.join();
      assert.deepEqual(children.map((p) => p.exitcode), [0, 0, 0, 0]);
      assert.equal(await v.get(), 800);
      assert.deepEqual(await arr.toArray(), [400, 400]);
    });

    test(
      "2 children × 200 increments of a lock: false Value under a shared Lock give 400",
      T,
      async () => {
        const v = ctx.Value("i", 0, { lock: false });
        const lock = new ctx.Lock();
        const children = Array.from(
          { length: 2 },
          () => new P({ target: targets.incrementUnderLock, args: [v, lock, 200] }),
        );
        for (const p of children) p.start();
        for (const p of children) await p.join();
        assert.deepEqual(children.map((p) => p.exitcode), [0, 0]);
        assert.equal(await v.get(), 400);
      },
    );

    test(
      "children incrementing under v.getLock() of a lock: someLock Value give 400",
      T,
      async () => {
        const someLock = new ctx.Lock();
        const v = ctx.Value("H", 0, { lock: someLock });
        const children = Array.from(
          { length: 2 },
          () => new P({ target: targets.incrementUnderLock, args: [v, v.getLock()!, 200] }),
        );
        for (const p of children) p.start();
        for (const p of children) await p.join();
        assert.deepEqual(children.map((p) => p.exitcode), [0, 0]);
        assert.equal(await v.get(), 400);
      },
    );

    test("in a child, getLock() of a lock: someLock Value is that same lock", T, async () => {
      const someLock = new ctx.Lock();
      const v = ctx.Value("i", 0, { lock: someLock });
      await someLock.acquire();
      const [reader, writer] = Pipe();
      const p = new P({ target: targets.tryLockThenUpdate, args: [writer, v] });
      p.start();
      writer.close();
      try {
        assert.equal(await reader.recv(), false, "the child cannot take the lock the parent holds");
        const joined = p.join();
        assert.ok(await pendingAfter(joined, 300), "the child's update waits for the lock");
        assert.equal(await v.get(), 0);
        await someLock.release();
        await joined;
      } finally {
        reader.close();
        await p.join();
      }
      assert.equal(p.exitcode, 0);
      assert.equal(await v.get(), 1);
    });

    test("a Value a child sets is seen by the parent while the child still runs", T, async () => {
      const v = ctx.Value("i", 0);
      const arr = ctx.SharedArray("f", 3);
      const ready = new ctx.Event();
      const release = new ctx.Event();
      const p = new P({ target: targets.setThenWait, args: [v, arr, ready, release] });
      p.start();
      try {
        assert.equal(await ready.wait(30_000), true, "the child said it had written");
        assert.equal(p.isAlive(), true);
        assert.equal(await v.get(), 1234);
        assert.deepEqual(await arr.toArray(), [0, 0, 7.25]);
      } finally {
        await release.set();
        await p.join();
      }
      assert.equal(p.exitcode, 0);
      assert.equal(await v.get(), 5678);
    });

    // ------------------------------------------------------------ raw memory

    if (sharesMemory) {
      test("RawValue and RawArray hand out the typed array itself, shared", T, () => {
        const rv = ctx.RawValue("d", 1.5);
        assert.ok(rv instanceof Float64Array);
        assert.ok(rv.buffer instanceof SharedArrayBuffer);
        assert.deepEqual([...rv], [1.5]);
        const defaults = ctx.RawValue("i");
        assert.ok(defaults instanceof Int32Array);
        assert.deepEqual([...defaults], [0]);
        assert.deepEqual([...ctx.RawValue("b", 128)], [-128], "wrapped");
        assert.deepEqual([...ctx.RawValue("q", 5)], [5n]);
        const ra = ctx.RawArray("H", [65536, -1, 3]);
        assert.ok(ra instanceof Uint16Array);
        assert.ok(ra.buffer instanceof SharedArrayBuffer);
        assert.deepEqual([...ra], [0, 65535, 3]);
        for (const tc of TYPECODES) {
          const zeros = ctx.RawArray(tc, 4);
          assert.equal(zeros.length, 4);
          assert.deepEqual([...zeros], Array(4).fill(zero(tc)), `RawArray('${tc}', 4)`);
        }
        assert.ok(ctx.RawArray("f", 2) instanceof Float32Array);
        assert.ok(ctx.RawArray("Q", 2) instanceof BigUint64Array);
        assert.ok(ctx.RawArray("l", 2) instanceof Int32Array, "'l' is 32-bit");
        assert.ok(ctx.RawArray("L", 2) instanceof Uint32Array, "'L' is 32-bit");
      });

      test("a child writes raw memory and the parent reads it with no message", T, async () => {
        const flag = ctx.RawValue("i", 0) as Int32Array;
        const ints = ctx.RawArray("i", 4) as Int32Array;
        const floats = ctx.RawArray("d", 3) as Float64Array;
        const big = ctx.RawValue("q") as BigInt64Array;
        const p = new P({ target: targets.writeRaw, args: [flag, ints, floats, big] });
        p.start();
        try {
          await waitFor(() => Atomics.load(flag, 0) === 1, "the child to write raw memory");
          assert.equal(p.isAlive(), true, "the child is still running");
          assert.deepEqual([0, 1, 2, 3].map((i) => Atomics.load(ints, i)), [11, 22, 33, 44]);
          assert.deepEqual([...floats], [0.5, 0, -2.25]);
          assert.equal(Atomics.load(big, 0), -(2n ** 40n));
        } finally {
          Atomics.store(flag, 0, 2);
          await p.join();
        }
        assert.equal(p.exitcode, 0);
      });

      test("4 children × 1000 Atomics.add on a RawArray give exact totals", T, async () => {
        const cells = ctx.RawArray("i", 2) as Int32Array;
        const children = Array.from(
          { length: 4 },
          () => new P({ target: targets.atomicAdds, args: [cells, 1000] }),
        );
        for (const p of children) p.start();
        for (const p of children) await p.join();
        assert.deepEqual(children.map((p) => p.exitcode), [0, 0, 0, 0]);
        assert.deepEqual([...cells], [4000, 8000]);
      });

      test("a RawArray reaches a child as a shared typed array of its type", T, async () => {
        const raw = ctx.RawArray("i", [1, 2]);
        const sent = await collect(P, targets.reportRaw, [raw]);
        assert.deepEqual(sent, [{ type: "Int32Array", shared: true, values: [1, 2] }]);
      });

      test(
        "a Value is real shared memory: a child reads and writes it while the parent's event loop is blocked",
        T,
        async () => {
          // No lock: a lock lives in the parent, which is about to stop answering.
          const v = ctx.Value("i", 5, { lock: false });
          const control = ctx.RawArray("i", 2) as Int32Array;
          const ready = new ctx.Event();
          const p = new P({ target: targets.touchWhileParentBlocked, args: [v, control, ready] });
          p.start();
          try {
            assert.equal(await ready.wait(30_000), true);
            await v.set(6);
            Atomics.store(control, 0, 1);
            Atomics.notify(control, 0);
            // Block this thread: no message from the child can be served now.
            const deadline = Date.now() + 20_000;
            while (Atomics.load(control, 0) !== 2 && Date.now() < deadline) {
              // spin
            }
            assert.equal(
              Atomics.load(control, 0),
              2,
              "the child finished while the parent was blocked",
            );
            assert.equal(Atomics.load(control, 1), 6, "the child read the parent's write");
            assert.equal(await v.get(), 100, "the parent reads the child's writes");
          } finally {
            Atomics.store(control, 0, 2);
            await p.join();
          }
          assert.equal(p.exitcode, 0);
        },
      );
    } else {
      test('RawValue and RawArray refuse with a ValueError that points to "worker"', T, () => {
        const refusal = (e: Error) => e instanceof ValueError && /"worker"/.test(e.message);
        assert.throws(() => ctx.RawValue("i", 0), refusal);
        assert.throws(() => ctx.RawValue("d"), refusal);
        assert.throws(() => ctx.RawArray("i", 4), refusal);
        assert.throws(() => ctx.RawArray("b", [1, 2]), refusal);
        // Value and SharedArray work under every start method.
        assert.equal(ctx.SharedArray("i", 1).length, 1);
      });
    }

    // ------------------------------------------------ lifetimes (issue 11, section 1)

    test(
      "Value and SharedArray: close() refuses later reads with ValueError; they and their locks are freed once no process holds them",
      T,
      async () => {
        const report = new ctx.Queue<string>();
        const v = ctx.Value("i", 0);
        const a = ctx.SharedArray("i", 2);
        const p = new P({ target: lifetimeWriteValues, args: [v, a, report] });
        p.start();
        assert.equal(await report.get(), "ok");
        await p.join();
        assert.equal(p.exitcode, 0);
        assert.equal(await v.get(), 7);
        assert.equal(await a.get(0), 3);
        const ids = [v, a, v.getLock()!, a.getLock()!].map((h) => h._ref.id);
        const alive = () => ids.filter((id) => ownedCore(id) !== undefined).length;
        assert.equal(alive(), 4, "a value, an array and their two locks");
        v.close();
        a.close();
        await assert.rejects(v.get(), (e) => e instanceof ValueError && /closed/.test(e.message));
        await assert.rejects(
          a.toArray(),
          (e) => e instanceof ValueError && /closed/.test(e.message),
        );
        await waitFor(
          () => alive() === 0,
          "the value, the array and their locks to be freed",
        );
        report.close();
      },
    );
  });
}
