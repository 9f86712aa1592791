/**
 * The behaviour of `Queue`, `JoinableQueue` and `SimpleQueue`, written once
 * and run for each start method: CPython's `_TestQueue` ported to Promises
 * and milliseconds (non-blocking and timed `put`/`get`, sizes, producers and
 * consumers in several processes, `taskDone`/`join`), plus what this library
 * adds: a child flushes what it put before it exits, a queue travels on to a
 * grandchild, an item that cannot be copied fails the `put` itself, a
 * killed process does not break the queue for the others, and the items a
 * quick consumer is lent ahead of its gets never starve, reorder, lose or
 * duplicate anything, nor change the sizes.
 *
 * Children find their targets by export name in this module, so it
 * re-exports them; it registers no tests until `runQueueContract` is called.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { pageLacks } from "./_page.ts";
import {
  Empty,
  Full,
  getContext,
  OSError,
  type Process,
  type Queue,
  type StartMethod,
  ValueError,
} from "../../mod.ts";
import { Scope, stillPendingAfter, within } from "./_scope.ts";
import {
  type QueueCaught,
  queueCheckBig,
  queueConsume,
  queueEchoOne,
  queueErrorsInChild,
  queueFillCancelAndExit,
  queueGetOneInto,
  queueJoinThenReport,
  queueLockThenPut,
  queueOwnQueueWithGrandchild,
  queuePatternByte,
  queueProduce,
  queueProduceThenHang,
  queuePutAll,
  queuePutBig,
  queuePutThenCount,
  queuePutThenExit,
  queuePutThenReport,
  queuePutThenWaitInGet,
  queueRelayToGrandchild,
  queueRingConsumer,
  queueRingProducer,
  queueSendOwnQueue,
  queueSimpleDoubler,
  queueTaskDoneTooMany,
  queueTaskWorker,
  queueUseAfterClose,
} from "../testdata/queue_targets.ts";
import { queueLendGetMany, queueLendTake } from "../testdata/queue_lending_targets.ts";
import {
  lifetimeHoldUntilKilled,
  lifetimeSendOwnQueue,
  lifetimeUseQueue,
  lifetimeUseQueueFromQueue,
} from "../testdata/lifetime_targets.ts";
import { queueChaosConsumeSlowly } from "../testdata/queue_chaos_targets.ts";
import { escapeRegExp, openRuntimeSockets, RUNTIME, SOCKET_REFUSED, waitFor } from "../_helpers.ts";
import { ownedCore } from "../../src/core/_shared.ts";

export * from "../testdata/queue_targets.ts";
export * from "../testdata/lifetime_targets.ts";
export * from "../testdata/queue_lending_targets.ts";
export * from "../testdata/queue_chaos_targets.ts";

const TEST = { timeout: 60_000 };

/** Timers may fire a little early on some platforms; lower bounds allow this much. */
const TIMER_SLACK_MS = 15;

/** 16 MiB. */
const BIG = 16 * 1024 * 1024;

async function joinedCleanly(p: Process): Promise<void> {
  await within(p.join(), `${p.name} to end`, 30_000);
  assert.equal(p.exitcode, 0, `${p.name} ended with exitcode ${p.exitcode}`);
}

/** Asserts `promise` rejects with `cls` within `ms` and that its message matches `message`. */
async function rejectsWith(
  promise: Promise<unknown>,
  cls: new (...args: never[]) => Error,
  message: RegExp,
  what: string,
): Promise<void> {
  await assert.rejects(
    within(promise, what),
    (e: Error) => {
      assert.ok(e instanceof cls, `${what}: expected ${cls.name}, got ${e?.name}: ${e?.message}`);
      assert.match(e.message, message, what);
      return true;
    },
  );
}

/** Asserts what a child reported about an error it caught. */
function assertCaught(
  got: QueueCaught | "ok",
  kind: "isFull" | "isEmpty" | "isValueError" | "isTypeError",
  message: RegExp,
  what: string,
): void {
  assert.notEqual(got, "ok", `${what}: the call succeeded in the child`);
  const c = got as QueueCaught;
  assert.ok(c[kind], `${what}: expected ${kind}, got ${c.name}: ${c.message}`);
  assert.match(c.message, message, what);
}

/** Fails with the first differing index, without printing megabytes. */
function assertPattern(actual: unknown, size: number, what: string): void {
  assert.ok(actual instanceof Uint8Array, `${what}: expected a Uint8Array`);
  assert.equal(actual.byteLength, size, `${what}: length`);
  let mismatch = -1;
  for (let i = 0; i < size; i++) {
    if (actual[i] !== queuePatternByte(i)) {
      mismatch = i;
      break;
    }
  }
  assert.equal(mismatch, -1, `${what}: first difference at byte ${mismatch}`);
}

/** Gets `count` items, each within the default limit. */
async function getMany<T>(q: Queue<T>, count: number, what: string): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(await within(q.get(), `${what} (item ${i})`));
  return out;
}

/** `from, from + 1, ..., to - 1`. */
function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Behaviour of the queues under one start method. */
export function runQueueContract({ startMethod }: { startMethod: StartMethod }): void {
  const ctx = getContext(startMethod);

  describe(`Queue [${startMethod}] [${RUNTIME}]`, () => {
    // ---- one process -----------------------------------------------------

    test(
      "under worker, two workers exchange items while the parent's thread is blocked (no item goes through it)",
      { ...TEST, skip: pageLacks("blocking") },
      async (t) => {
        if (startMethod !== "worker") {
          return t.skip("only workers share memory; spawn children reach the queue's owner");
        }
        const q = new ctx.Queue<number>();
        const flag = ctx.RawArray("i", 1) as Int32Array;
        const producer = new ctx.Process({ target: queueRingProducer, args: [q, flag, 200] });
        const consumer = new ctx.Process({ target: queueRingConsumer, args: [q, flag, 200] });
        producer.start();
        consumer.start();
        // Both run (they start through this thread), then this thread blocks.
        await waitFor(() => Atomics.load(flag, 0) >= 2, "both workers to run");
        Atomics.store(flag, 0, 10);
        Atomics.notify(flag, 0);
        const outcome = Atomics.wait(flag, 0, 10, 10_000);
        assert.notEqual(outcome, "timed-out", "the consumer got every item while we were blocked");
        assert.equal(Atomics.load(flag, 0), 11);
        await producer.join();
        await consumer.join();
        assert.deepEqual([producer.exitcode, consumer.exitcode], [0, 0]);
        assert.equal(await q.empty(), true);
      },
    );

    test("put and get in one process keep FIFO order and copy the value", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<unknown>();
      const original = { list: [1, 2] };
      for (const item of [0, "one", original, null, undefined, 5]) await q.put(item);
      original.list.push(3);
      assert.equal(await q.get(), 0);
      assert.equal(await q.get(), "one");
      const copy = await q.get();
      assert.deepEqual(copy, { list: [1, 2] }, "the item was copied when it was put");
      assert.notEqual(copy, original);
      assert.equal(await q.get(), null);
      assert.equal(await q.get(), undefined);
      assert.equal(await q.getNowait(), 5);
      assert.equal(await q.empty(), true);
    });

    test("qsize, empty and full follow puts and gets; maxsize is reported", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<number>(3);
      assert.equal(q.maxsize, 3);
      assert.deepEqual([await q.qsize(), await q.empty(), await q.full()], [0, true, false]);
      await q.put(1);
      assert.deepEqual([await q.qsize(), await q.empty(), await q.full()], [1, false, false]);
      await q.putNowait(2);
      await q.put(3, { block: false });
      assert.deepEqual([await q.qsize(), await q.empty(), await q.full()], [3, false, true]);
      await rejectsWith(q.putNowait(4), Full, /full/, "putNowait on a full queue");
      assert.equal(await q.qsize(), 3, "a refused put adds nothing");
      assert.equal(await q.get(), 1);
      assert.deepEqual([await q.qsize(), await q.empty(), await q.full()], [2, false, false]);
      assert.equal(await q.getNowait(), 2);
      assert.equal(await q.get({ block: false }), 3);
      assert.deepEqual([await q.qsize(), await q.empty(), await q.full()], [0, true, false]);
      await rejectsWith(q.getNowait(), Empty, /empty/, "getNowait on an empty queue");

      const unbounded = scope.queue<number>();
      const negative = scope.queue<number>(-1);
      assert.equal(unbounded.maxsize, 0);
      assert.equal(negative.maxsize, 0, "maxsize 0 or less means no limit");
      for (let i = 0; i < 1000; i++) await negative.putNowait(i);
      assert.equal(await negative.full(), false);
      assert.equal(await negative.qsize(), 1000);
    });

    test("bad arguments are TypeErrors", TEST, async () => {
      await using scope = new Scope(ctx);
      assert.throws(
        () => new ctx.Queue(NaN),
        (e: Error) => e instanceof TypeError && /NaN/.test(e.message),
      );
      assert.throws(
        () => new ctx.Queue("3" as unknown as number),
        (e: Error) => e instanceof TypeError && /maxsize/.test(e.message),
      );
      const q = scope.queue<number>();
      await rejectsWith(
        q.get({ timeout: "soon" as unknown as number }),
        TypeError,
        /timeout.*soon/,
        "get with a timeout that is not a number",
      );
      await rejectsWith(
        q.put(1, { timeout: NaN }),
        TypeError,
        /timeout/,
        "put with a NaN timeout",
      );
      assert.equal(await q.qsize(), 0, "the refused put added nothing");
    });

    test("Empty and Full at once when not blocking, whatever the timeout", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>(1);
      // A call that waited would wait out its 60 s timeout, far past rejectsWith's
      // deadline; no timer races the calls, so a loaded machine cannot fail them.
      await rejectsWith(q.get({ block: false, timeout: 60_000 }), Empty, /empty/, "get");
      await q.put("fill");
      await rejectsWith(q.put("more", { block: false, timeout: 60_000 }), Full, /full/, "put");
      assert.equal(await q.get(), "fill", "the refused put left no waiter behind to land later");
      // Nor did the refused get: the next item is not taken by a getter left waiting.
      await q.put("late");
      assert.equal(await within(q.get(), "the late item"), "late");
    });

    test("a timeout of 0 or less answers at once", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>(1);
      // A call that waited (for no timeout, or for -timeout ms: -60 s) would not
      // answer within rejectsWith's deadline; no timer races the calls, so a
      // loaded machine cannot fail them.
      for (const timeout of [0, -1, -1000, -60_000]) {
        await rejectsWith(q.get({ timeout }), Empty, /empty/, `get({ timeout: ${timeout} })`);
        await q.put("late");
        await rejectsWith(
          q.put("more", { timeout }),
          Full,
          /full/,
          `put({ timeout: ${timeout} }) on a full queue`,
        );
        // Neither refused call left a waiter behind: the get did not take
        // "late", and the put's "more" did not land when a get made room.
        assert.equal(await within(q.get(), `the item after timeout ${timeout}`), "late");
        assert.equal(await q.qsize(), 0, `put({ timeout: ${timeout} }) added nothing`);
      }
      await q.put("fits", { timeout: 0 });
      assert.equal(await q.get({ timeout: -5 }), "fits", "an item present is returned at once");
    });

    test("blocking get and put give up with Empty/Full after the timeout", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<number>(1);
      let start = performance.now();
      await rejectsWith(q.get({ timeout: 200 }), Empty, /empty/, "get with a timeout");
      assert.ok(performance.now() - start >= 200 - TIMER_SLACK_MS, "get waited for its timeout");

      await q.put(1);
      start = performance.now();
      await rejectsWith(q.put(2, { timeout: 200 }), Full, /full/, "put with a timeout");
      assert.ok(performance.now() - start >= 200 - TIMER_SLACK_MS, "put waited for its timeout");

      // A put that timed out left nothing behind; the queue still works.
      assert.equal(await q.qsize(), 1);
      assert.equal(await q.get(), 1);
      await rejectsWith(q.getNowait(), Empty, /empty/, "the timed-out put added nothing");
      await q.put(3, { timeout: 200 });
      assert.equal(await q.get({ timeout: 200 }), 3);
    });

    test("a timeout longer than 2^31 - 1 ms (24.8 days) does not fire early", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>(1);
      const thirtyDays = 30 * 24 * 3600 * 1000;
      for (const timeout of [2 ** 31, thirtyDays]) {
        const get = q.get({ timeout });
        assert.equal(
          await stillPendingAfter(get, 300),
          true,
          `get({ timeout: ${timeout} }) must still wait after 300 ms`,
        );
        await q.put("x");
        assert.equal(await within(get, "the long get"), "x");
        await q.put("fill");
        const put = q.put("y", { timeout });
        assert.equal(
          await stillPendingAfter(put, 300),
          true,
          `put({ timeout: ${timeout} }) must still wait after 300 ms`,
        );
        assert.equal(await q.get(), "fill");
        await within(put, "the long put");
        assert.equal(await q.get(), "y");
      }
      // Infinity: waits, or is refused as a bad argument; never "stayed empty for Infinity ms".
      const forever = q.get({ timeout: Infinity });
      if (await stillPendingAfter(forever, 300)) {
        await q.put("z");
        assert.equal(await within(forever, "the get with an infinite timeout"), "z");
      } else {
        await assert.rejects(
          forever,
          (e: Error) => e instanceof TypeError || e instanceof RangeError,
          "get({ timeout: Infinity }) either waits or is refused as a bad argument",
        );
      }
    });

    test(
      "a blocking get returns the item put while it waits, before its timeout",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<string>(1);
        const start = performance.now();
        // The item the get waits for, not a synchronisation: the get cannot return before it.
        setTimeout(() => q.put("arrived").catch(() => {}), 200);
        assert.equal(await q.get({ timeout: 10_000 }), "arrived");
        assert.ok(performance.now() - start >= 200 - TIMER_SLACK_MS, "get waited for the item");

        await q.put("a");
        const put = q.put("b");
        assert.equal(await stillPendingAfter(put, 100), true, "put waits while the queue is full");
        assert.equal(await q.get(), "a");
        await within(put, "the put released by a get");
        assert.equal(await q.get(), "b");
      },
    );

    test(
      "several waiting gets, and several waiting puts, are served in the order they started",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<number>();
        const gets = [q.get(), q.get(), q.get()];
        for (const i of [10, 20, 30]) await q.put(i);
        assert.deepEqual(await within(Promise.all(gets), "three gets"), [10, 20, 30]);

        const bounded = scope.queue<number>(1);
        await bounded.put(0);
        const puts = [bounded.put(1), bounded.put(2), bounded.put(3)];
        assert.deepEqual(await getMany(bounded, 4, "items behind waiting puts"), [0, 1, 2, 3]);
        await within(Promise.all(puts), "three waiting puts");
      },
    );

    test(
      "structured-clone values survive the queue: Map, Set, Date, BigInt, cycles",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<unknown>();
        const value = richValue();
        await q.put(value);
        assertRichValue(await q.get(), value, "in one process");
      },
    );

    test(
      "a runtime socket fails the put with a TypeError saying what it is and what to do",
      { ...TEST, skip: pageLacks("sockets") },
      async () => {
        await using scope = new Scope(ctx);
        await using sockets = await openRuntimeSockets();
        for (const maxsize of [0, 2]) {
          const q = scope.queue<unknown>(maxsize);
          await rejectsWith(
            q.put({ conn: sockets.conn }),
            TypeError,
            new RegExp(
              `^Cannot copy obj\\.conn to another process: ${escapeRegExp(SOCKET_REFUSED)}$`,
            ),
            `a socket (maxsize ${maxsize})`,
          );
          await q.put("after");
          assert.equal(await q.get(), "after", "the queue still works");
        }
      },
    );

    test(
      "an item that cannot be copied fails the put with a TypeError naming its path",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        for (const maxsize of [0, 2]) {
          const q = scope.queue<unknown>(maxsize);
          await rejectsWith(
            q.put(Symbol("token")),
            TypeError,
            /obj\b.*symbol/i,
            `a symbol (maxsize ${maxsize})`,
          );
          await rejectsWith(
            q.put({ a: [1, { onData: console.log.bind(console) }] }),
            TypeError,
            /obj\.a\[1\]\.onData/,
            `a bound function (maxsize ${maxsize})`,
          );
          await rejectsWith(
            q.putNowait({ s: new Set([Symbol.iterator]) }),
            TypeError,
            /obj\.s/,
            `a symbol in a Set (maxsize ${maxsize})`,
          );
          assert.equal(await q.qsize(), 0, "nothing was put");
          await q.put("fine");
          assert.equal(await q.get(), "fine", "the queue still works");
        }
      },
    );

    test("close() makes put and get fail with a ValueError; items put stay", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>();
      await q.put("kept");
      q.close();
      await rejectsWith(q.put("x"), ValueError, /closed/, "put after close");
      await rejectsWith(q.putNowait("x"), ValueError, /closed/, "putNowait after close");
      await rejectsWith(q.get(), ValueError, /closed/, "get after close");
      await rejectsWith(q.getNowait(), ValueError, /closed/, "getNowait after close");
      await rejectsWith(q.get({ timeout: 100 }), ValueError, /closed/, "timed get after close");
      q.close(); // closing twice is harmless
      await within(q.joinThread(), "joinThread after close");
    });

    test(
      "joinThread() rejects before close() and resolves after; cancelJoinThread() is callable",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<number>();
        await rejectsWith(q.joinThread(), ValueError, /close/, "joinThread before close");
        await q.put(1);
        q.cancelJoinThread();
        q.close();
        await within(q.joinThread(), "joinThread after close");
        await within(q.joinThread(), "joinThread a second time");
      },
    );

    test("using: a queue closes itself at the end of its block", TEST, async () => {
      let outer: Queue<number>;
      {
        using q = new ctx.Queue<number>();
        outer = q;
        await q.put(1);
        assert.equal(await q.get(), 1);
      }
      await rejectsWith(outer.put(2), ValueError, /closed/, "put after the using block");
    });

    // ---- across processes ------------------------------------------------

    test(
      "a child's puts reach the parent in order; the parent's puts reach the child",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const toParent = scope.queue<unknown>();
        const items = Array.from({ length: 50 }, (_, i) => ({ i, text: `item ${i}` }));
        const p = scope.start(queuePutAll, [toParent, items]);
        assert.deepEqual(await getMany(toParent, items.length, "items from the child"), items);
        await joinedCleanly(p);

        // A put that does not wait for a reply still comes before the child's next call.
        const results = scope.queue<number>();
        const counter = scope.start(queuePutThenCount, [toParent, 300, results]);
        assert.equal(await within(results.get(), "the qsize the child saw"), 300);
        await joinedCleanly(counter);
        assert.equal(await toParent.qsize(), 300);

        const toChild = scope.queue<unknown>();
        const back = scope.queue<unknown>();
        const echo = scope.start(queueEchoOne, [toChild, back]);
        await toChild.put({ hello: "child" });
        assert.deepEqual(await within(back.get(), "the echo"), { hello: "child" });
        await joinedCleanly(echo);
      },
    );

    test("a get in the parent waits for a child that puts later (lower bound)", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>();
      const start = performance.now();
      const p = scope.start(queuePutAll, [q, ["late"], 300]);
      assert.equal(await within(q.get({ timeout: 30_000 }), "the late item"), "late");
      assert.ok(performance.now() - start >= 300 - TIMER_SLACK_MS, "the get waited");
      await joinedCleanly(p);
    });

    test(
      "in a child: Full, Empty, TypeError and the sizes are as in the parent",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const full = scope.queue<string>(2);
        await full.put("a");
        await full.put("b");
        const empty = scope.queue<unknown>();
        const results = scope.queue<Record<string, unknown>>();
        const p = scope.start(queueErrorsInChild, [full, empty, results]);
        const r = await within(results.get(), "the child's report") as Record<
          string,
          QueueCaught | "ok"
        >;
        await joinedCleanly(p);
        assertCaught(r.putNowait, "isFull", /full/, "putNowait in a child");
        assertCaught(r.putNoBlock, "isFull", /full/, "put({ block: false }) in a child");
        assertCaught(r.putTimeout, "isFull", /full/, "put({ timeout }) in a child");
        assertCaught(r.getNowait, "isEmpty", /empty/, "getNowait in a child");
        assertCaught(r.getTimeout, "isEmpty", /empty/, "get({ timeout }) in a child");
        assertCaught(r.symbol, "isTypeError", /obj\.deep\[0\]/, "a symbol put in a child");
        assert.deepEqual(r.sizes, {
          fullQsize: 2,
          fullFull: true,
          fullEmpty: false,
          emptyQsize: 0,
          emptyEmpty: true,
          emptyFull: false,
          maxsize: 2,
        });
        assert.deepEqual([await full.get(), await full.get()], ["a", "b"], "nothing was added");
        assert.equal(await empty.qsize(), 0, "the refused items were not added");
        await empty.put("after");
        assert.equal(
          await within(empty.get(), "an item after the child's get timed out"),
          "after",
          "the child's timed-out get left no waiter behind to take it",
        );
      },
    );

    test(
      "a put blocked on a full queue is released by a get in another process",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        // The parent's put waits for the child's get.
        const q = scope.queue<string>(1);
        const results = scope.queue<unknown>();
        await q.put("first");
        const start = performance.now();
        const getter = scope.start(queueGetOneInto, [q, results, 300]);
        await within(q.put("second"), "the parent's put released by the child's get");
        assert.ok(performance.now() - start >= 300 - TIMER_SLACK_MS, "the put waited for the get");
        assert.equal(await within(results.get(), "what the child got"), "first");
        assert.equal(await q.get(), "second");
        await joinedCleanly(getter);

        // The child's put waits for the parent's get.
        await q.put("third");
        const putter = scope.start(queuePutThenReport, [q, "fourth", results]);
        await assert.rejects(
          results.get({ timeout: 500 }),
          Empty,
          "the child's put must wait while the queue is full",
        );
        assert.equal(await q.get(), "third");
        assert.equal(await within(results.get(), "the child's put to finish"), "put done");
        assert.equal(await q.get(), "fourth");
        await joinedCleanly(putter);
      },
    );

    for (const [maxsize, count] of [[0, 150], [3, 150], [0, 3000]]) {
      test(
        `2 producers x 2 consumers (maxsize ${maxsize}, ${count} items each): every item once, FIFO per producer`,
        TEST,
        async () => {
          await using scope = new Scope(ctx);
          const q = scope.queue<{ producer: string; seq: number } | null>(maxsize);
          const results = scope.queue<{ producer: string; seq: number }[]>();
          const consumers = [
            scope.start(queueConsume, [q, results]),
            scope.start(queueConsume, [q, results]),
          ];
          const producers = ["A", "B"].map((name) => scope.start(queueProduce, [q, name, count]));
          for (const p of producers) await joinedCleanly(p);
          await q.put(null);
          await q.put(null);
          const lists = [
            await within(results.get(), "the first consumer's list"),
            await within(results.get(), "the second consumer's list"),
          ];
          for (const c of consumers) await joinedCleanly(c);

          assert.equal(lists[0].length + lists[1].length, 2 * count, "every item arrived once");
          for (const name of ["A", "B"]) {
            const seqs = lists.flat().filter((x) => x.producer === name).map((x) => x.seq);
            assert.deepEqual(
              seqs.toSorted((a, b) => a - b),
              Array.from({ length: count }, (_, i) => i),
              `producer ${name}: each item exactly once`,
            );
            for (const [i, list] of lists.entries()) {
              const mine = list.filter((x) => x.producer === name).map((x) => x.seq);
              assert.deepEqual(
                mine,
                mine.toSorted((a, b) => a - b),
                `consumer ${i} got producer ${name}'s items in the order they were put`,
              );
            }
          }
          assert.equal(await q.empty(), true);
        },
      );
    }

    test(
      "a producer that was joined has delivered everything it put (flushed before exit)",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const count = 2000;
        const q = scope.queue<number>();
        const p = scope.start(queuePutAll, [q, Array.from({ length: count }, (_, i) => i)]);
        await joinedCleanly(p);
        assert.equal(await q.qsize(), count, "every item is in the queue once join() returned");
        const got: number[] = [];
        for (let i = 0; i < count; i++) got.push(await q.getNowait());
        assert.deepEqual(got, Array.from({ length: count }, (_, i) => i));
        await rejectsWith(q.getNowait(), Empty, /empty/, "nothing more");
      },
    );

    test(
      "a producer that ends with process.exit() has delivered everything it put first",
      TEST,
      async () => {
        // CPython flushes a child's queues on sys.exit() too; only os._exit() skips it.
        await using scope = new Scope(ctx);
        for (const [count, code] of [[10, 0], [1000, 3]]) {
          const q = scope.queue<number>();
          const p = scope.start(queuePutThenExit, [q, count, code]);
          await within(p.join(), "the producer to exit");
          assert.equal(p.exitcode, code);
          assert.equal(
            await q.qsize(),
            count,
            `all ${count} items put before process.exit(${code}) are in the queue`,
          );
        }
      },
    );

    test(
      "a child that fills a queue nobody reads and calls cancelJoinThread() exits, and join() returns; nothing it put is lost",
      TEST,
      async () => {
        // CPython: without cancel_join_thread() such a child hangs at exit on
        // its feeder thread; with it, the child exits and the items may be
        // lost. Here a put never waits for a reader (the queue's owner holds
        // the items), so the child exits either way and every item arrives.
        await using scope = new Scope(ctx);
        const q = scope.queue<Uint8Array>();
        const results = scope.queue<string>();
        const count = 64;
        const size = 256 * 1024;
        const p = scope.start(queueFillCancelAndExit, [q, results, count, size]);
        assert.equal(await within(results.get(), "the child's report"), "joinThread returned");
        await joinedCleanly(p);
        assert.equal(await q.qsize(), count, "every item the child put is in the queue");
        for (let i = 0; i < count; i++) {
          const item = await within(q.get(), `item ${i}`);
          assert.equal(item.length, size);
          assert.equal(item[0], i % 256);
        }
      },
    );

    test(
      "close() in a child fails its later put/get; what it put before arrives",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<string>();
        const results = scope.queue<Record<string, QueueCaught | "ok">>();
        const p = scope.start(queueUseAfterClose, [q, results]);
        const r = await within(results.get(), "the child's report");
        await joinedCleanly(p);
        assertCaught(r.beforeClose, "isValueError", /close/, "joinThread before close in a child");
        assertCaught(r.put, "isValueError", /closed/, "put after close in a child");
        assertCaught(r.get, "isValueError", /closed/, "get after close in a child");
        assert.equal(r.joinThread, "ok", "joinThread after close in a child");
        assert.equal(await q.getNowait(), "before close");
        await q.put("the parent's handle is still open");
        assert.equal(await q.get(), "the parent's handle is still open");
      },
    );

    test("a queue passed to a child and on to a grandchild keeps working", TEST, async () => {
      await using scope = new Scope(ctx);
      const inbox = scope.queue<string>();
      const outbox = scope.queue<string>();
      const p = scope.start(queueRelayToGrandchild, [inbox, outbox, startMethod]);
      await inbox.put("hello");
      assert.equal(await within(outbox.get(), "the grandchild's answer"), "hello back");
      assert.equal(await within(outbox.get(), "the child's report"), "grandchild exitcode 0");
      await joinedCleanly(p);
      assert.equal(await inbox.empty(), true);
    });

    test("a queue made in a child serves that child's own child", TEST, async () => {
      await using scope = new Scope(ctx);
      const out = scope.queue<unknown>();
      const p = scope.start(queueOwnQueueWithGrandchild, [out, startMethod]);
      assert.deepEqual(await within(out.get(), "the child's report"), {
        exitcode: 0,
        qsize: 2,
        items: ["gc 1", "gc 2"],
      });
      await joinedCleanly(p);
    });

    test(
      "a queue travels inside an item; once its owner is killed, calls on it reject with OSError",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const out = scope.queue<Queue<string>>();
        const owner = scope.start(queueSendOwnQueue, [out, startMethod]);
        const theirs = scope.adopt(await within(out.get(), "the child's queue"));
        assert.equal(await within(theirs.qsize(), "qsize of the child's queue"), 1);
        assert.equal(await within(theirs.get(), "the item in the child's queue"), "inside");
        const waiting = theirs.get();
        assert.equal(await stillPendingAfter(waiting, 100), true, "the get waits");
        owner.kill();
        await within(owner.join(), "the owner to end");
        await rejectsWith(waiting, OSError, /ended|gone|closed/, "the get waiting on a dead owner");
        await rejectsWith(theirs.getNowait(), OSError, /ended|gone|closed/, "a later get");
        await rejectsWith(theirs.qsize(), OSError, /ended|gone|closed/, "a later qsize");
      },
    );

    test("structured-clone values go to a child and back", TEST, async () => {
      await using scope = new Scope(ctx);
      const inbox = scope.queue<unknown>();
      const outbox = scope.queue<unknown>();
      const p = scope.start(queueEchoOne, [inbox, outbox]);
      const value = richValue();
      await inbox.put(value);
      assertRichValue(await within(outbox.get(), "the echo"), value, "through a child");
      await joinedCleanly(p);
    });

    test("a 16 MiB Uint8Array goes from a child to the parent and back intact", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<Uint8Array>();
      const p = scope.start(queuePutBig, [q, BIG]);
      assertPattern(await within(q.get(), "16 MiB from the child", 40_000), BIG, "child to parent");
      await joinedCleanly(p);

      const toChild = scope.queue<Uint8Array>(1);
      const results = scope.queue<{ isUint8Array: boolean; length: number; wrong: number }>();
      const checker = scope.start(queueCheckBig, [toChild, results]);
      const bytes = new Uint8Array(BIG);
      for (let i = 0; i < BIG; i++) bytes[i] = queuePatternByte(i);
      await toChild.put(bytes);
      assert.deepEqual(
        await within(results.get(), "the child's check", 40_000),
        { isUint8Array: true, length: BIG, wrong: -1 },
      );
      await joinedCleanly(checker);
    });

    test("a get waiting in the parent survives the only producer being killed", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>();
      const ready = scope.queue<string>();
      const doomed = scope.start(queueProduceThenHang, [q, ready]);
      assert.equal(await within(q.get(), "the producer's first item"), "first");
      assert.equal(await within(ready.get(), "the producer to be ready"), "ready");
      const waiting = q.get();
      assert.equal(await stillPendingAfter(waiting, 100), true, "the get waits for an item");
      doomed.kill();
      await within(doomed.join(), "the killed producer to end");
      assert.equal(doomed.exitcode, -9);
      assert.equal(await stillPendingAfter(waiting, 200), true, "the get keeps waiting");

      const next = scope.start(queuePutAll, [q, ["after", "more"]]);
      assert.equal(await within(waiting, "the waiting get"), "after");
      assert.equal(await within(q.get(), "the next item"), "more");
      await joinedCleanly(next);
      await q.put("local");
      assert.equal(await q.get(), "local");
    });

    test("a process killed while waiting in get does not take later items", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>();
      const ready = scope.queue<string>();
      const waiting = q.get();
      const doomed = scope.start(queuePutThenWaitInGet, [q, ready]);
      assert.equal(await within(waiting, "the child's first item"), "first");
      assert.equal(await within(ready.get(), "the child to wait in get"), "waiting in get");
      const mine = q.get();
      doomed.kill();
      await within(doomed.join(), "the killed child to end");
      assert.equal(doomed.exitcode, -9);
      // No wait for this process to notice the dead child's closed channel: an
      // item answered to the dead child's get before then is never acknowledged
      // and comes back to the front, so the parent's get has it either way.
      await q.put("for the parent");
      assert.equal(await within(mine, "the parent's get"), "for the parent");
      await q.put("again");
      assert.equal(await within(q.get(), "a later get"), "again");
      assert.equal(await ready.empty(), true, "the killed child's get never returned");
    });

    test("a put blocked in a process that is killed never lands", TEST, async () => {
      await using scope = new Scope(ctx);
      const q = scope.queue<string>(1);
      const results = scope.queue<string>();
      await q.put("held");
      const lock = new ctx.Lock();
      const doomed = scope.start(queueLockThenPut, [lock, q, "from the dead", results]);
      assert.equal(await within(results.get(), "the child to take the lock"), "locked");
      // The child's put is blocked: the queue is full (a lower bound, not a synchronisation).
      await assert.rejects(results.get({ timeout: 500 }), Empty, "the child's put must wait");
      doomed.kill();
      await within(doomed.join(), "the killed child to end");
      // Only once this process (the queue's owner) has settled the dead child
      // is its put dropped; the lock the child held coming free is the sign
      // (both are settled together as its channel closes).
      await waitFor(async () => {
        const got = await lock.acquire({ block: false });
        if (got) await lock.release();
        return got;
      }, "the dead child's lock to come free");
      assert.equal(await q.get(), "held");
      await rejectsWith(q.get({ timeout: 300 }), Empty, /empty/, "the dead put is gone");
      await q.put("alive");
      assert.equal(await q.get(), "alive");
    });

    test(
      "a consumer killed again and again while it holds an item loses none (big items too)",
      { timeout: 180_000 },
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<[number, Uint8Array | null] | null>();
        const results = scope.queue<number>();
        const ITEMS = 300;
        const KILLS = 10;
        // Every 20th item is over 64 KiB (parked with the owner under "worker").
        for (let i = 0; i < ITEMS; i++) {
          await q.put([i, i % 20 === 3 ? new Uint8Array(70 * 1024) : null]);
        }
        const times = new Uint16Array(ITEMS);
        let distinct = 0;
        const take = async (what: string): Promise<void> => {
          const i = await within(results.get(), what, 30_000);
          if (times[i]++ === 0) distinct++;
        };
        for (let k = 0; k < KILLS; k++) {
          // Killed right after its third report: in the middle of holding its fourth item.
          const doomed = scope.start(queueChaosConsumeSlowly, [q, results, 3]);
          for (let j = 0; j < 3; j++) await take("a report from the consumer to kill");
          doomed.kill();
          await within(doomed.join(), "the killed consumer to end");
          assert.equal(doomed.exitcode, -9);
        }
        const last = scope.start(queueChaosConsumeSlowly, [q, results, 0]);
        while (distinct < ITEMS) await take(`item ${times.indexOf(0)}, never reported`);
        await q.put(null);
        await joinedCleanly(last);
        while (!(await results.empty())) await take("a late report");
        const twice = [...times.keys()].filter((i) => times[i] > 1);
        assert.deepEqual([...times.keys()].filter((i) => times[i] === 0), [], "no item lost");
        // At most the last item a killed consumer's get() returned comes twice.
        assert.ok(twice.length <= KILLS, `items got twice: ${twice.join(" ")}`);
      },
    );

    // ---- items lent to a quick consumer ------------------------------------
    // A child that gets in a tight loop is answered with more items than it
    // asked for (under "spawn"; a worker takes items from shared memory).
    // These cases hold whether or not it was.

    for (const other of ["the parent", "another child"]) {
      test(
        `a consumer that stops to wait on an Event does not starve ${other} of the items it was lent`,
        TEST,
        async () => {
          await using scope = new Scope(ctx);
          const q = scope.queue<number>();
          const report = scope.queue<number[]>();
          const ev = new ctx.Event();
          const total = 100;
          for (const i of range(0, total)) await q.put(i);
          const holder = scope.start(queueLendTake, [q, report, 10, "wait", ev]);
          assert.deepEqual(await within(report.get(), "the first consumer's items"), range(0, 10));
          // Its next items are lent to it now: the others get them only if it gives them back.
          let rest: number[];
          if (other === "the parent") rest = await getMany(q, total - 10, "the items left");
          else {
            const results = scope.queue<number[]>();
            const taker = scope.start(queueLendGetMany, [q, total - 10, results]);
            rest = await within(results.get(), "the other child's items");
            await joinedCleanly(taker);
          }
          assert.deepEqual(rest, range(10, total), "every other item, in order");
          await ev.set();
          await joinedCleanly(holder);
          assert.equal(await q.empty(), true);
        },
      );
    }

    test(
      "a consumer killed while items are lent to it loses none: each is got exactly once, in order",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<number>();
        const report = scope.queue<number[]>();
        const total = 100;
        for (const i of range(0, total)) await q.put(i);
        const doomed = scope.start(queueLendTake, [q, report, 10, "hang"]);
        const took = await within(report.get(), "the consumer's items");
        assert.deepEqual(took, range(0, 10));
        assert.equal(
          await q.qsize(),
          total - took.length,
          "items lent still count as in the queue",
        );
        doomed.kill();
        await within(doomed.join(), "the killed consumer to end");
        assert.equal(doomed.exitcode, -9);
        const rest = await getMany(q, total - took.length, "the items left");
        assert.deepEqual(rest, range(10, total), "what it held came back first, in order");
        const all = [...took, ...rest];
        assert.equal(new Set(all).size, total, "no item twice");
        await rejectsWith(q.getNowait(), Empty, /empty/, "no item more");
      },
    );

    test(
      "a consumer killed while the answer to its get() is on the wire loses nothing: the item comes back first",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<string>();
        const ready = scope.queue<string>();
        const waiting = q.get();
        const doomed = scope.start(queuePutThenWaitInGet, [q, ready]);
        assert.equal(await within(waiting, "the child's first item"), "first");
        assert.equal(await within(ready.get(), "the child to wait in get"), "waiting in get");
        // Killed, then answered at once, before this process can learn that it died.
        doomed.kill();
        await q.put("answered to the dead");
        await q.put("next");
        await within(doomed.join(), "the killed child to end");
        assert.equal(doomed.exitcode, -9);
        assert.equal(
          await within(q.get(), "the item answered to the dead consumer"),
          "answered to the dead",
          "the item on its way to the killed consumer came back, at the front",
        );
        assert.equal(await within(q.get(), "the next item"), "next");
        assert.equal(await ready.empty(), true, "the killed child's get never returned");
        await rejectsWith(q.getNowait(), Empty, /empty/, "no item more");
      },
    );

    test(
      "a bounded queue counts items lent: full() holds and puts wait until they are got",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const q = scope.queue<number>(10);
        const report = scope.queue<number[]>();
        const ev = new ctx.Event();
        for (const i of range(0, 10)) await q.put(i);
        const holder = scope.start(queueLendTake, [q, report, 2, "wait", ev]);
        assert.deepEqual(await within(report.get(), "the consumer's items"), [0, 1]);
        assert.deepEqual([await q.qsize(), await q.full(), await q.empty()], [8, false, false]);
        await q.put(10);
        await q.put(11);
        assert.deepEqual([await q.qsize(), await q.full()], [10, true], "maxsize items in all");
        await rejectsWith(q.putNowait(12), Full, /full/, "putNowait on a queue full of lent items");
        const put = q.put(12);
        assert.equal(
          await stillPendingAfter(put, 300),
          true,
          "a put waits while the queue is full",
        );
        assert.equal(await within(q.get(), "the oldest item"), 2, "the lent items come back first");
        await within(put, "the put released by the get");
        assert.deepEqual(await getMany(q, 10, "the items left"), range(3, 13));
        await ev.set();
        await joinedCleanly(holder);
      },
    );

    for (const then of ["close", "exit"] as const) {
      test(
        `a consumer that ${
          then === "close" ? "closes its handle" : "ends"
        } gives back the items it was lent`,
        TEST,
        async () => {
          await using scope = new Scope(ctx);
          const q = scope.queue<number>();
          const report = scope.queue<number[]>();
          const ev = new ctx.Event();
          const total = 50;
          for (const i of range(0, total)) await q.put(i);
          const consumer = scope.start(queueLendTake, [q, report, 5, then, ev]);
          assert.deepEqual(await within(report.get(), "the consumer's items"), range(0, 5));
          if (then === "exit") await joinedCleanly(consumer);
          // Nothing is lent any more, so a get that does not wait finds every item left.
          const rest: number[] = [];
          for (let i = 5; i < total; i++) rest.push(await q.getNowait());
          assert.deepEqual(rest, range(5, total));
          await rejectsWith(q.getNowait(), Empty, /empty/, "no item more");
          await ev.set();
          await joinedCleanly(consumer);
        },
      );
    }

    // ---- JoinableQueue ---------------------------------------------------

    test(
      "JoinableQueue: join waits for taskDone per item; one too many is a ValueError",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const jq = scope.adopt(new ctx.JoinableQueue<string>());
        await within(jq.join(), "join on a queue that never had items");
        await jq.put("a");
        await jq.put("b");
        const joined = jq.join();
        assert.equal(await stillPendingAfter(joined, 100), true, "join waits for unfinished items");
        assert.equal(await jq.get(), "a");
        assert.equal(await jq.get(), "b");
        assert.equal(
          await stillPendingAfter(joined, 100),
          true,
          "get alone does not finish a task",
        );
        await jq.taskDone();
        assert.equal(await stillPendingAfter(joined, 100), true, "one of two tasks done");
        await jq.taskDone();
        await within(joined, "join after every taskDone");
        await rejectsWith(
          jq.taskDone(),
          ValueError,
          /too many|more times/,
          "one taskDone too many",
        );
        await within(jq.join(), "join again");
        assert.ok(jq instanceof ctx.Queue, "a JoinableQueue is a Queue");
      },
    );

    test(
      "JoinableQueue across processes: two workers' taskDone calls release the parent's join",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const jq = scope.adopt(new ctx.JoinableQueue<number | null>());
        const done = scope.queue<number>();
        const count = 6;
        const delay = 60; // the work each task takes (a lower bound on join), not a synchronisation
        const workers = [
          scope.start(queueTaskWorker, [jq, done, delay]),
          scope.start(queueTaskWorker, [jq, done, delay]),
        ];
        const start = performance.now();
        for (let i = 0; i < count; i++) await jq.put(i);
        await within(jq.join(), "join while the workers process the items");
        // However the items were shared, one worker handled at least half of them.
        assert.ok(
          performance.now() - start >= (count / 2) * delay - TIMER_SLACK_MS,
          "join waited for every item's taskDone",
        );
        assert.equal(await done.qsize(), count, "every item was processed before join returned");
        const processed = await getMany(done, count, "processed items");
        assert.deepEqual(processed.toSorted((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
        await jq.put(null);
        await jq.put(null);
        await within(jq.join(), "join after the sentinels");
        for (const w of workers) await joinedCleanly(w);
      },
    );

    test(
      "JoinableQueue: a join in a child returns after taskDone in the parent",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const jq = scope.adopt(new ctx.JoinableQueue<string>());
        const results = scope.queue<string>();
        await jq.put("job");
        const joiner = scope.start(queueJoinThenReport, [jq, results]);
        await assert.rejects(results.get({ timeout: 500 }), Empty, "the child's join must wait");
        assert.equal(await jq.get(), "job");
        await jq.taskDone();
        assert.equal(await within(results.get(), "the child's join"), "joined");
        await joinedCleanly(joiner);
      },
    );

    test(
      "JoinableQueue: one taskDone too many in a child is a ValueError there",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const jq = scope.adopt(new ctx.JoinableQueue<number>());
        const results = scope.queue<QueueCaught | "ok">();
        for (const i of [1, 2]) await jq.put(i);
        const p = scope.start(queueTaskDoneTooMany, [jq, 2, results]);
        assertCaught(
          await within(results.get(), "the child's report"),
          "isValueError",
          /too many|more times/,
          "taskDone too many in a child",
        );
        await joinedCleanly(p);
        await within(jq.join(), "join: both items were done");
        await rejectsWith(jq.taskDone(), ValueError, /too many|more times/, "still too many here");
      },
    );

    // ---- SimpleQueue -----------------------------------------------------

    test("SimpleQueue: put, get, empty and close in one process", TEST, async () => {
      const sq = new ctx.SimpleQueue<number>();
      assert.equal(await sq.empty(), true);
      await sq.put(1);
      await sq.put(2);
      assert.equal(await sq.empty(), false);
      assert.equal(await sq.get(), 1);
      assert.equal(await sq.get(), 2);
      assert.equal(await sq.empty(), true);
      const waiting = sq.get();
      await sq.put(3);
      assert.equal(await within(waiting, "a get waiting on a SimpleQueue"), 3);
      for (let i = 0; i < 500; i++) await sq.put(i);
      assert.equal(await sq.empty(), false, "a SimpleQueue has no limit");
      sq.close();
      await rejectsWith(sq.put(4), ValueError, /closed/, "put after close");
      await rejectsWith(sq.get(), ValueError, /closed/, "get after close");
    });

    test("SimpleQueue across processes", TEST, async () => {
      await using scope = new Scope(ctx);
      const inbox = scope.adopt(new ctx.SimpleQueue<number | null>());
      const out = scope.adopt(new ctx.SimpleQueue<number | boolean>());
      const p = scope.start(queueSimpleDoubler, [inbox, out]);
      for (const i of [1, 2, 3]) await inbox.put(i);
      await inbox.put(null);
      assert.deepEqual(await getMany(out, 4, "doubled items"), [2, 4, 6, true]);
      await joinedCleanly(p);
      assert.equal(await out.empty(), true);
    });

    // ------------------------------------------------ lifetimes (issue 11, section 1)

    test("empty() on a closed Queue or SimpleQueue handle is an OSError", TEST, async () => {
      for (const q of [new ctx.Queue(), new ctx.SimpleQueue()]) {
        await q.put(1);
        q.close();
        await rejectsWith(
          q.empty(),
          OSError,
          /closed/,
          `empty() on a closed ${q.constructor.name}`,
        );
      }
    });

    test(
      "a get waiting on a queue whose last handle is closed fails with OSError",
      TEST,
      async () => {
        const q = new ctx.Queue();
        const waiting = q.get();
        assert.equal(await stillPendingAfter(waiting, 50), true, "the get waits");
        q.close();
        await rejectsWith(waiting, OSError, /gone/, "the get waiting on a freed queue");
      },
    );

    test(
      "a queue a child holds outlives the parent's handle, and is freed once the child's is gone",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const report = scope.queue<string>();
        const q = new ctx.Queue<number>();
        const p = scope.start(lifetimeUseQueue, [q, report]);
        q.close(); // at once: the reference on its way to the child keeps the queue alive
        assert.equal(await within(report.get(), "the child's report"), "ok:1");
        await joinedCleanly(p);
        await waitFor(() => ownedCore(q._ref.id) === undefined, "the queue to be freed");
      },
    );

    test(
      "a queue inside a queue item stays alive after its sender closes it, until the receiver's handle goes",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const report = scope.queue<string>();
        const carrier = scope.queue<Queue<number>>();
        const inner = new ctx.Queue<number>();
        await carrier.put(inner);
        inner.close();
        assert.ok(ownedCore(inner._ref.id), "the item in the carrier holds the queue");
        const p = scope.start(lifetimeUseQueueFromQueue, [carrier, report]);
        assert.equal(await within(report.get(), "the child's report"), "ok:1");
        await joinedCleanly(p);
        await waitFor(() => ownedCore(inner._ref.id) === undefined, "the inner queue to be freed");
      },
    );

    test("a child killed while holding a queue releases it", TEST, async () => {
      await using scope = new Scope(ctx);
      const ready = scope.queue<string>();
      const q = new ctx.Queue();
      const p = scope.start(lifetimeHoldUntilKilled, [q, ready]);
      assert.equal(await within(ready.get(), "the child to hold the queue"), "ready");
      q.close();
      assert.ok(ownedCore(q._ref.id), "the child's handle keeps the queue");
      p.kill();
      await within(p.join(), "the killed child to end");
      await waitFor(() => ownedCore(q._ref.id) === undefined, "the queue to be freed");
    });

    test(
      "a queue made in a child and sent to the parent survives the child closing its handle",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const out = scope.queue<Queue<string>>();
        const stop = scope.queue<string>();
        const p = scope.start(lifetimeSendOwnQueue, [out, stop, startMethod]);
        const theirs = await within(out.get(), "the child's queue");
        assert.equal(await within(theirs.get(), "the item in it"), "made in the child");
        await theirs.put("back");
        assert.equal(await within(theirs.get(), "the item put back"), "back");
        theirs.close();
        await stop.put("stop");
        await joinedCleanly(p);
      },
    );
  });
}

/** A value using the kinds structured clone copies, with cycles and shared references. */
function richValue(): Record<string, unknown> {
  const shared = { shared: true };
  const map = new Map<unknown, unknown>([["one", 1], [2, "two"], [shared, "object key"]]);
  map.set("me", map);
  const root: Record<string, unknown> = {
    map,
    set: new Set<unknown>([1, "x", shared]),
    date: new Date(Date.UTC(2024, 1, 29, 12, 30, 15, 123)),
    big: 2n ** 100n,
    negativeBig: -(2n ** 70n) - 1n,
    floats: new Float64Array([1.5, -0, NaN, Infinity]),
    numbers: [0, -0, NaN, -Infinity],
    strings: ["", "héllo", "snake 🐍"],
    nothing: [null, undefined],
    regexp: /a+b/gi,
    error: new RangeError("out of range"),
    pair: [shared, shared],
  };
  root.self = root;
  root.list = [{ up: root }];
  return root;
}

/** Checks a copy of {@linkcode richValue}. */
// deno-lint-ignore no-explicit-any
function assertRichValue(r: any, original: Record<string, unknown>, what: string): void {
  assert.notEqual(r, original, `${what}: a copy, not the same object`);
  assert.equal(r.self, r, `${what}: a cycle back to the root keeps its identity`);
  assert.equal(r.list[0].up, r, `${what}: a nested cycle keeps its identity`);
  assert.equal(r.pair[0], r.pair[1], `${what}: a shared reference stays shared`);
  assert.ok(r.map instanceof Map, `${what}: Map`);
  assert.equal(r.map.get("one"), 1);
  assert.equal(r.map.get(2), "two");
  assert.equal(r.map.get(r.pair[0]), "object key", `${what}: an object key keeps its identity`);
  assert.equal(r.map.get("me"), r.map, `${what}: a Map holding itself`);
  assert.ok(r.set instanceof Set && r.set.size === 3 && r.set.has(r.pair[0]), `${what}: Set`);
  assert.ok(r.date instanceof Date, `${what}: Date`);
  assert.equal(r.date.getTime(), Date.UTC(2024, 1, 29, 12, 30, 15, 123));
  assert.equal(r.big, 2n ** 100n);
  assert.equal(r.negativeBig, -(2n ** 70n) - 1n);
  assert.ok(r.floats instanceof Float64Array, `${what}: Float64Array`);
  assert.ok(Object.is(r.floats[1], -0) && Number.isNaN(r.floats[2]) && r.floats[3] === Infinity);
  assert.ok(Object.is(r.numbers[1], -0) && Number.isNaN(r.numbers[2]));
  assert.deepEqual(r.strings, ["", "héllo", "snake 🐍"]);
  assert.ok(r.nothing.length === 2 && r.nothing[0] === null && r.nothing[1] === undefined);
  assert.ok(r.regexp instanceof RegExp && r.regexp.source === "a+b" && r.regexp.flags === "gi");
  assert.ok(r.error instanceof RangeError && r.error.message === "out of range", `${what}: error`);
}
