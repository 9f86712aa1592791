/**
 * The behaviour of `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`,
 * `Event`, `Condition` and `Barrier`, written once and run for each start
 * method: CPython's _TestLock, _TestSemaphore, _TestCondition, _TestEvent
 * and _TestBarrier, ported to Promises and milliseconds, within one process
 * and across processes, plus what CPython does not promise: a lock,
 * semaphore or condition held by a process that dies is released.
 *
 * Children find their targets by export name in this module, so it
 * re-exports them; it registers no tests until `runSynchronizeContract` is
 * called. Timing is only ever checked from below.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { pageLacks } from "./_page.ts";
import {
  type Barrier,
  BrokenBarrierError,
  getContext,
  OSError,
  type Process,
  type Queue,
  type StartMethod,
  ValueError,
} from "../../mod.ts";
import { Scope, sleep, stillPendingAfter, within } from "./_scope.ts";
import { lifetimeUsePrimitives } from "../testdata/lifetime_targets.ts";
import { ownedCore } from "../../src/core/_shared.ts";
import { RUNTIME, waitFor } from "../_helpers.ts";
import { StderrFile } from "../testdata/stderr_capture.ts";
import {
  type Acquirable,
  syncAcquireAndCrash,
  syncAcquireAndLinger,
  syncBarrierParty,
  syncBarrierRounds,
  syncBarrierWaitAndLinger,
  syncBlockingAcquire,
  syncConditionNotifier,
  syncConditionOverForeignLock,
  syncConditionWaitAndLinger,
  syncConditionWaiter,
  syncConditionWaitFor,
  syncCountUnderLock,
  syncEventProbe,
  syncEventSetter,
  syncEventWaiter,
  syncFailingAction,
  syncGiveUnit,
  syncHangingAction,
  syncHoldUntilTold,
  syncHoldWithUsing,
  syncProbeRLock,
  syncRecordTrip,
  syncRelease,
  syncSemaphoreHolder,
  syncSetEventThenFlag,
  syncTakeLockThenFlag,
  syncTakeUnit,
  syncTryAcquire,
  syncWaitToAcquire,
} from "../testdata/sync_targets.ts";

export * from "../testdata/sync_targets.ts";
export * from "../testdata/lifetime_targets.ts";

const TEST = { timeout: 60_000 };

/** Timers may fire a little early on some platforms; lower bounds allow this much. */
const TIMER_SLACK_MS = 15;

/** How long the parent gives a child's report before failing (a hung child). */

/** The next report a child put in `out`, failing instead of hanging. */
function next<T = unknown>(out: Queue, what = "a child's report"): Promise<T> {
  return within(out.get() as Promise<T>, what);
}

/** Joins `p` and asserts it ended cleanly. */
async function joinedCleanly(p: Process): Promise<void> {
  await within(p.join(), `${p.name} to end`, 30_000);
  assert.equal(p.exitcode, 0, `${p.name} ended with exitcode ${p.exitcode}`);
}

/** Kills `p` and waits for it to end. */
async function killed(p: Process): Promise<void> {
  p.kill();
  await within(p.join(), `${p.name} to end after kill()`, 30_000);
  assert.equal(p.exitcode, -9);
}

/** Runs `fn` and returns how many milliseconds it took, with its result. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

function atLeast(elapsed: number, ms: number, what: string): void {
  assert.ok(
    elapsed >= ms - TIMER_SLACK_MS,
    `${what} took ${elapsed.toFixed(1)} ms, expected >= ${ms}`,
  );
}

/** A `ValueError` whose message matches `pattern`. */
function valueError(pattern: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof ValueError && pattern.test((e as Error).message);
}

/** Asserts `lock` is free right now: a non-blocking acquire gets it (and releases it again). */
async function assertFree(lock: Acquirable, what: string): Promise<void> {
  assert.equal(await lock.acquire({ block: false }), true, `${what}: expected it to be free`);
  await lock.release();
}

/** Behaviour of the synchronization primitives under one start method. */
export function runSynchronizeContract({ startMethod }: { startMethod: StartMethod }): void {
  const ctx = getContext(startMethod);

  describe(`Synchronize [${startMethod}] [${RUNTIME}]`, () => {
    // ---------------------------------------------------------------- Lock

    test(
      "Lock, RLock, Semaphore and Event are shared memory under worker: a child uses them while the parent's thread is blocked",
      { ...TEST, skip: pageLacks("blocking") },
      async (t) => {
        if (startMethod !== "worker") {
          return t.skip("only workers share memory; a spawn child asks the lock's owner");
        }
        for (
          const lock of [
            new ctx.Lock(),
            new ctx.RLock(),
            new ctx.Semaphore(1),
            new ctx.BoundedSemaphore(1),
          ]
        ) {
          const flag = ctx.RawArray("i", 1) as Int32Array;
          const p = new ctx.Process({ target: syncTakeLockThenFlag, args: [lock, flag] });
          p.start();
          // Wait (without blocking) until the child runs: it starts through us.
          await waitFor(() => Atomics.load(flag, 0) === 1, "the child to start");
          // Then block this thread and let the child go: a lock reached
          // through this process could not be taken now; one in shared memory can.
          Atomics.store(flag, 0, 2);
          Atomics.notify(flag, 0);
          const outcome = Atomics.wait(flag, 0, 2, 10_000);
          assert.notEqual(
            outcome,
            "timed-out",
            "the child took and released the lock while we were blocked",
          );
          assert.equal(Atomics.load(flag, 0), 3);
          await p.join();
          assert.equal(p.exitcode, 0);
          assert.equal(await lock.acquire({ block: false }), true);
          await lock.release();
        }
        const event = new ctx.Event();
        const flag = ctx.RawArray("i", 1) as Int32Array;
        const p = new ctx.Process({ target: syncSetEventThenFlag, args: [event, flag] });
        p.start();
        await waitFor(() => Atomics.load(flag, 0) === 1, "the child to start");
        Atomics.store(flag, 0, 2);
        Atomics.notify(flag, 0);
        assert.notEqual(
          Atomics.wait(flag, 0, 2, 10_000),
          "timed-out",
          "the child set the event while we were blocked",
        );
        assert.equal(await event.isSet(), true);
        await p.join();
      },
    );

    test(
      "Lock: acquire() resolves true; acquire({ block: false }) is false while held",
      TEST,
      async () => {
        const lock = new ctx.Lock();
        assert.equal(await lock.acquire(), true);
        assert.equal(await lock.acquire({ block: false }), false);
        await lock.release();
        assert.equal(await lock.acquire({ block: false }), true);
        assert.equal(await lock.acquire({ block: false }), false, "a Lock is not re-entrant");
        await lock.release();
      },
    );

    test("Lock: releasing an unlocked Lock is a ValueError", TEST, async () => {
      const lock = new ctx.Lock();
      await assert.rejects(lock.release(), valueError(/released too many times/));
      await lock.acquire();
      await lock.release();
      await assert.rejects(lock.release(), ValueError);
      await assertFree(lock, "after the failed release");
    });

    test(
      "Lock: acquire({ timeout }) is false after at least the timeout; 0 or less answers at once",
      TEST,
      async () => {
        const lock = new ctx.Lock();
        assert.equal(await lock.acquire({ timeout: 0 }), true, "a free lock is taken at once");
        const [got, elapsed] = await timed(() => lock.acquire({ timeout: 150 }));
        assert.equal(got, false);
        atLeast(elapsed, 150, "acquire({ timeout: 150 }) on a held lock");
        assert.equal(await lock.acquire({ timeout: 0 }), false);
        assert.equal(await lock.acquire({ timeout: -5 }), false);
        // `timeout: null` is no timeout: it waits for the release (the timer is
        // the event waited for, not a synchronisation: a lower bound under any load).
        setTimeout(() => void lock.release(), 100);
        const [blocked, waited] = await timed(() => lock.acquire({ timeout: null }));
        assert.equal(blocked, true);
        atLeast(waited, 100, "acquire({ timeout: null }) until a release");
        await lock.release();
      },
    );

    test("Lock: a timeout is ignored when not blocking", TEST, async () => {
      const lock = new ctx.Lock();
      await lock.acquire();
      const attempt = lock.acquire({ block: false, timeout: 60_000 });
      await lock.release();
      assert.equal(await attempt, false, "a non-blocking acquire answers at once");
      // Had the attempt been queued as a waiter, the release would have handed it the lock.
      await assertFree(lock, "after the release");
    });

    test("Lock: a timeout that is not a number is a TypeError", TEST, async () => {
      const lock = new ctx.Lock();
      for (const timeout of [NaN, "100" as unknown as number]) {
        await assert.rejects(lock.acquire({ timeout }), TypeError, String(timeout));
      }
      await assertFree(lock, "after the refused calls");
    });

    test(
      "Lock: a timeout of Infinity or beyond 2^31-1 ms waits like no timeout",
      TEST,
      async () => {
        const lock = new ctx.Lock();
        for (const timeout of [Infinity, 2 ** 31]) {
          await lock.acquire();
          // The release waited for, not a synchronisation: `elapsed` is a lower bound.
          const timer = setTimeout(() => void lock.release(), 200);
          const [got, elapsed] = await timed(() => lock.acquire({ timeout }));
          clearTimeout(timer);
          assert.equal(
            got,
            true,
            `acquire({ timeout: ${timeout} }) gave up after ${elapsed.toFixed(1)} ms`,
          );
          atLeast(elapsed, 200, `acquire({ timeout: ${timeout} })`);
          await lock.release();
        }
      },
    );

    test(
      "Lock: mutual exclusion across 4 processes doing read-modify-write (exact result)",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.Lock();
        const log = scope.queue<number>(1_000);
        const children = [0, 1, 2, 3].map(() => scope.start(syncCountUnderLock, [lock, log, 10]));
        for (const child of children) await joinedCleanly(child);
        const seen: number[] = [];
        while (!(await log.empty())) seen.push(await log.get());
        assert.deepEqual(seen, Array.from({ length: 40 }, (_, i) => i));
        await assertFree(lock, "after every child released it");
      },
    );

    test("Lock: a Lock held by one process may be released by another", TEST, async () => {
      await using scope = new Scope(ctx);
      const lock = new ctx.Lock();
      const out = scope.queue(1_000);
      await lock.acquire();
      const releaser = scope.start(syncRelease, [lock, out]);
      assert.equal(await next(out), null, "the child's release succeeded");
      await joinedCleanly(releaser);
      await assertFree(lock, "after the child released it");

      const go = scope.queue(1_000);
      const holder = scope.start(syncHoldUntilTold, [lock, out, go]);
      assert.equal(await next(out), "held");
      await lock.release();
      assert.equal(
        await lock.acquire({ block: false }),
        true,
        "the parent released the child's hold",
      );
      // The parent holds it now; the child's release releases the parent's acquisition.
      await go.put("go");
      assert.equal(await next(out), "released");
      await joinedCleanly(holder);
      await assertFree(lock, "after the child released the parent's hold");
    });

    test(
      "Lock: across processes acquire({ block: false }) is false, a timeout expires, and a non-blocking acquire ignores its timeout",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.Lock();
        const out = scope.queue(1_000);
        await lock.acquire();
        const child = scope.start(syncTryAcquire, [lock, out, 200]);
        const report = await next<{
          nonBlocking: boolean;
          timed: boolean;
          elapsed: number;
          nonBlockingWithTimeout: boolean;
        }>(out, "the child's attempts (a hang means a non-blocking acquire waited)");
        await lock.release();
        await joinedCleanly(child);
        assert.equal(report.nonBlocking, false);
        assert.equal(report.timed, false);
        atLeast(report.elapsed, 200, "the child's acquire({ timeout: 200 })");
        assert.equal(report.nonBlockingWithTimeout, false);
        await assertFree(lock, "no attempt of the child stayed queued");
      },
    );

    test(
      "Lock: a child blocked in acquire() gets the lock when the parent releases it",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.Lock();
        const out = scope.queue(1_000);
        await lock.acquire();
        const child = scope.start(syncBlockingAcquire, [lock, out]);
        assert.equal(await next(out), "trying");
        // How long the lock stays held, measured by the child from before it said
        // "trying": a lower bound on its wait under any load, not a synchronisation.
        await sleep(200);
        await lock.release();
        const { got, waited } = await next<{ got: boolean; waited: number }>(out);
        await joinedCleanly(child);
        assert.equal(got, true);
        atLeast(waited, 200, "the child's blocked acquire()");
        await assertFree(lock, "after the child released it");
      },
    );

    // ---------------------------------------------------------------- RLock

    test(
      "RLock: re-entrant in its owner; released as often as acquired; one release too many is a ValueError",
      TEST,
      async () => {
        const lock = new ctx.RLock();
        await assert.rejects(lock.release(), valueError(/not held/));
        assert.equal(await lock.acquire(), true);
        assert.equal(await lock.acquire(), true);
        assert.equal(
          await lock.acquire({ block: false }),
          true,
          "the owner gets it without blocking",
        );
        assert.equal(await lock.acquire({ timeout: 10 }), true);
        for (let i = 0; i < 4; i++) await lock.release();
        await assert.rejects(lock.release(), valueError(/not held/));
      },
    );

    test(
      "RLock: another process can neither take nor release it while held at any level, and can once it is free",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.RLock();
        const out = scope.queue(1_000);
        await lock.acquire();
        await lock.acquire();
        const probe = async (what: string) => {
          const child = scope.start(syncProbeRLock, [lock, out]);
          const report = await next<{ got: boolean; releaseError: string | null }>(out, what);
          await joinedCleanly(child);
          return report;
        };
        assert.deepEqual(await probe("held twice"), { got: false, releaseError: "ValueError" });
        await lock.release();
        assert.deepEqual(await probe("held once"), { got: false, releaseError: "ValueError" });
        await lock.release();
        assert.deepEqual(await probe("free"), { got: true, releaseError: null });
        await assert.rejects(lock.release(), ValueError, "the failed releases changed nothing");
      },
    );

    test(
      "RLock: the parent cannot release an RLock a child holds (ValueError)",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.RLock();
        const out = scope.queue(1_000);
        const go = scope.queue(1_000);
        const holder = scope.start(syncHoldUntilTold, [lock, out, go]);
        assert.equal(await next(out), "held");
        await assert.rejects(lock.release(), valueError(/another process|owner/));
        assert.equal(await lock.acquire({ block: false }), false);
        await go.put("go");
        assert.equal(await next(out), "released");
        await joinedCleanly(holder);
        await assertFree(lock, "after its owner released it");
      },
    );

    test("RLock: mutual exclusion across 3 processes doing read-modify-write", TEST, async () => {
      await using scope = new Scope(ctx);
      const lock = new ctx.RLock();
      const log = scope.queue<number>(1_000);
      const children = [0, 1, 2].map(() => scope.start(syncCountUnderLock, [lock, log, 8]));
      for (const child of children) await joinedCleanly(child);
      const seen: number[] = [];
      while (!(await log.empty())) seen.push(await log.get());
      assert.deepEqual(seen, Array.from({ length: 24 }, (_, i) => i));
    });

    // ---------------------------------------------------------------- hold()

    test(
      "hold(): `await using` holds for the block and releases at its end, also when the block throws",
      TEST,
      async () => {
        const kinds: [string, () => Acquirable & { hold(): Promise<AsyncDisposable> }][] = [
          ["Lock", () => new ctx.Lock()],
          ["RLock", () => new ctx.RLock()],
          ["Semaphore", () => new ctx.Semaphore(1)],
          ["BoundedSemaphore", () => new ctx.BoundedSemaphore(1)],
          ["Condition", () => new ctx.Condition()],
        ];
        for (const [name, make] of kinds) {
          const lock = make();
          const other = name === "RLock" || name === "Condition"
            ? null // re-entrant in this process: the owner would get it again
            : lock;
          {
            await using _held = await lock.hold();
            if (other) assert.equal(await other.acquire({ block: false }), false, `${name} held`);
          }
          await assertFree(lock, `${name} after the block`);
          await assert.rejects(
            (async () => {
              await using _held = await lock.hold();
              throw new RangeError("leaving the block");
            })(),
            RangeError,
          );
          await assertFree(lock, `${name} after the block threw`);
          // Each acquisition was released exactly once: one more is refused (a Semaphore counts up).
          if (name !== "Semaphore") await assert.rejects(lock.release(), ValueError, name);
        }
      },
    );

    test(
      "hold(): disposing twice releases once; `await using` on an acquired lock releases it",
      TEST,
      async () => {
        const lock = new ctx.Lock();
        const held = await lock.hold();
        await held[Symbol.asyncDispose]();
        await lock.acquire();
        await held[Symbol.asyncDispose]();
        assert.equal(await lock.acquire({ block: false }), false, "the second dispose did nothing");
        {
          await using _lock = lock;
        }
        await assertFree(lock, "after `await using` the lock itself");
      },
    );

    test(
      "hold() across processes: a child's `await using` block releases when it throws",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.Lock();
        const out = scope.queue(1_000);
        const go = scope.queue(1_000);
        const child = scope.start(syncHoldWithUsing, [lock, out, go]);
        assert.equal(await next(out), "in");
        assert.equal(await lock.acquire({ block: false }), false, "held by the child's block");
        await go.put("leave the block");
        assert.equal(await next(out), "out");
        await assertFree(lock, "the child is alive and out of its block");
        await go.put("end");
        await joinedCleanly(child);
      },
    );

    // ---------------------------------------------------------------- Semaphore

    test("Semaphore: counts down to 0 and up again; getValue; waits at 0", TEST, async () => {
      const def = new ctx.Semaphore();
      assert.equal(await def.getValue(), 1, "the default value is 1");
      const sem = new ctx.Semaphore(2);
      assert.equal(await sem.getValue(), 2);
      assert.equal(await sem.acquire(), true);
      assert.equal(await sem.acquire({ block: false }), true);
      assert.equal(await sem.getValue(), 0);
      assert.equal(await sem.acquire({ block: false }), false);
      assert.equal(await sem.acquire({ block: false, timeout: 60_000 }), false);
      const [got, elapsed] = await timed(() => sem.acquire({ timeout: 100 }));
      assert.equal(got, false);
      atLeast(elapsed, 100, "acquire({ timeout: 100 }) at 0");
      await sem.release();
      assert.equal(await sem.getValue(), 1);
      await sem.release();
      await sem.release();
      assert.equal(await sem.getValue(), 3, "a plain Semaphore may be released past its start");
      const zero = new ctx.Semaphore(0);
      assert.equal(await zero.acquire({ timeout: 0 }), false);
      setTimeout(() => void zero.release(), 100); // the release waited for (a lower bound)
      const [woke, waited] = await timed(() => zero.acquire());
      assert.equal(woke, true);
      atLeast(waited, 100, "acquire() at 0 until a release");
      assert.equal(await zero.getValue(), 0);
    });

    test("Semaphore: the initial value must be an integer >= 0 (ValueError)", TEST, () => {
      for (const value of [-1, 1.5, NaN]) {
        assert.throws(() => new ctx.Semaphore(value), ValueError, String(value));
        assert.throws(() => new ctx.BoundedSemaphore(value), ValueError, String(value));
      }
    });

    test("BoundedSemaphore: a release past the initial value is a ValueError", TEST, async () => {
      await using scope = new Scope(ctx);
      const sem = new ctx.BoundedSemaphore(2);
      await assert.rejects(sem.release(), valueError(/released too many times/));
      assert.equal(await sem.getValue(), 2);
      await sem.acquire();
      await sem.acquire();
      await sem.release();
      await sem.release();
      await assert.rejects(sem.release(), ValueError);
      assert.equal(await sem.getValue(), 2, "the refused release changed nothing");
      await assert.rejects(new ctx.BoundedSemaphore(0).release(), ValueError);

      const out = scope.queue(1_000);
      const child = scope.start(syncGiveUnit, [sem, out]);
      assert.equal(await next(out), "ValueError", "a child's over-release is refused too");
      await joinedCleanly(child);
      await sem.acquire();
      const giver = scope.start(syncGiveUnit, [sem, out]);
      assert.equal(await next(out), null, "a child may give back the parent's unit");
      await joinedCleanly(giver);
      assert.equal(await sem.getValue(), 2);
    });

    test("Semaphore: at most `value` holders at once across 4 processes", TEST, async () => {
      await using scope = new Scope(ctx);
      const sem = new ctx.Semaphore(2);
      const log = scope.queue<[string, number]>(1_000);
      const children = [0, 1, 2, 3].map((id) =>
        scope.start(syncSemaphoreHolder, [sem, log, id, 150])
      );
      for (const child of children) await joinedCleanly(child);
      let inside = 0;
      let most = 0;
      const events: [string, number][] = [];
      while (!(await log.empty())) events.push(await log.get());
      for (const [what] of events) {
        inside += what === "in" ? 1 : -1;
        most = Math.max(most, inside);
      }
      assert.equal(events.length, 8, JSON.stringify(events));
      assert.ok(most <= 2, `${most} processes held a unit of Semaphore(2) at once`);
      assert.equal(await sem.getValue(), 2);
    });

    test(
      "Semaphore: units the parent gives are taken by children; a child's release wakes the parent",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const sem = new ctx.Semaphore(0);
        const out = scope.queue(1_000);
        const giver = scope.start(syncGiveUnit, [sem, out]);
        const [got, waited] = await timed(() => sem.acquire({ timeout: 10_000 }));
        assert.equal(got, true, `no unit arrived within ${waited.toFixed(0)} ms`);
        assert.equal(await next(out), null);
        await joinedCleanly(giver);
        assert.equal(await sem.getValue(), 0);

        const taker = scope.start(syncTakeUnit, [sem, out]);
        const taken = next<{ got: boolean; value: number }>(out, "the taker's unit");
        assert.equal(await stillPendingAfter(taken, 100), true, "the taker waits at 0");
        await sem.release();
        assert.deepEqual(await taken, { got: true, value: 0 });
        await joinedCleanly(taker);
        // What the value is after the taker ended is the next test's subject.
      },
    );

    test(
      "Semaphore: a unit a child took and kept is not given back when the child ends normally",
      TEST,
      async () => {
        // The signalling pattern: the parent releases one unit per item, each
        // consumer takes one and ends. The units were consumed, not held.
        await using scope = new Scope(ctx);
        const items = new ctx.Semaphore(0);
        const out = scope.queue(1_000);
        await items.release();
        await items.release();
        const consumers = [0, 1].map(() => scope.start(syncTakeUnit, [items, out]));
        for (const _ of consumers) assert.equal((await next<{ got: boolean }>(out)).got, true);
        for (const child of consumers) await joinedCleanly(child);
        // A window for a wrong give-back to show, not a synchronisation: under
        // load it can only miss one, never fail a library that keeps them.
        await sleep(200);
        assert.equal(await items.getValue(), 0, "two units were consumed; none should come back");
        assert.equal(await items.acquire({ block: false }), false);
      },
    );

    // ---------------------------------------------------------------- Event

    test("Event: set, clear, isSet and wait(timeout) in one process", TEST, async () => {
      const event = new ctx.Event();
      assert.equal(await event.isSet(), false);
      const [early, elapsed] = await timed(() => event.wait(150));
      assert.equal(early, false);
      atLeast(elapsed, 150, "wait(150) on an unset event");
      assert.equal(await event.wait(0), false);
      assert.equal(await event.wait(-1), false);
      await event.set();
      assert.equal(await event.isSet(), true);
      assert.equal(await event.wait(), true);
      assert.equal(await event.wait(0), true);
      assert.equal(await event.wait(-1), true);
      await event.set();
      assert.equal(await event.isSet(), true, "setting twice keeps it set");
      await event.clear();
      assert.equal(await event.isSet(), false);
      assert.equal(await event.wait(50), false);
      setTimeout(() => void event.set(), 100); // the set waited for (a lower bound)
      const [woke, waited] = await timed(() => event.wait());
      assert.equal(woke, true);
      atLeast(waited, 100, "wait() until set()");
    });

    test("Event: the parent's set() wakes every waiting child", TEST, async () => {
      await using scope = new Scope(ctx);
      const event = new ctx.Event();
      const out = scope.queue(1_000);
      const children = [0, 1, 2].map(() => scope.start(syncEventWaiter, [event, out]));
      for (const _ of children) assert.equal(await next(out), "waiting");
      // How long the event stays unset, measured by each child from before it
      // said "waiting": a lower bound under any load, not a synchronisation.
      await sleep(200);
      await event.set();
      for (const _ of children) {
        const { result, waited } = await next<{ result: boolean; waited: number }>(out);
        assert.equal(result, true);
        atLeast(waited, 200, "a child's wait()");
      }
      for (const child of children) await joinedCleanly(child);
    });

    test(
      "Event: a child's set() wakes the parent; children see set and clear",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const event = new ctx.Event();
        const out = scope.queue(1_000);
        const setter = scope.start(syncEventSetter, [event, 150]);
        const [woke, waited] = await timed(() => event.wait(10_000));
        assert.equal(woke, true);
        atLeast(waited, 100, "the parent's wait() for a child's set()");
        await joinedCleanly(setter);

        const seesSet = scope.start(syncEventProbe, [event, out, 5_000]);
        assert.deepEqual(await next(out), { isSet: true, wait: true });
        await joinedCleanly(seesSet);
        await event.clear();
        const seesClear = scope.start(syncEventProbe, [event, out, 100]);
        assert.deepEqual(await next(out), { isSet: false, wait: false });
        await joinedCleanly(seesClear);
      },
    );

    // ---------------------------------------------------------------- Condition

    test(
      "Condition: wait, notify and notifyAll without holding the lock are errors",
      TEST,
      async () => {
        const cond = new ctx.Condition();
        const notHeld = valueError(/without holding its lock/);
        await assert.rejects(cond.wait(10), notHeld);
        await assert.rejects(cond.notify(), notHeld);
        await assert.rejects(cond.notifyAll(), notHeld);
        await assert.rejects(cond.waitFor(() => false, 10), notHeld);
        await cond.acquire();
        await cond.release();
        await assert.rejects(cond.notify(), notHeld, "after the lock was released");
        await assert.rejects(cond.release(), ValueError, "its lock is not held");
        await cond.acquire();
        await cond.notify();
        await cond.notify(5);
        await cond.notifyAll();
        await cond.release();
      },
    );

    test(
      "Condition: the default lock is an RLock; wait(timeout) releases every level and restores them",
      TEST,
      async () => {
        const cond = new ctx.Condition();
        await cond.acquire();
        assert.equal(await cond.acquire({ block: false }), true, "re-entrant");
        const [notified, elapsed] = await timed(() => cond.wait(150));
        assert.equal(notified, false);
        atLeast(elapsed, 150, "wait(150) with nobody notifying");
        await cond.release();
        await cond.release();
        await assert.rejects(cond.release(), ValueError, "exactly two levels came back");
      },
    );

    test(
      "Condition: over a plain Lock; the lock is shared with whoever holds the Lock",
      TEST,
      async () => {
        const lock = new ctx.Lock();
        const cond = new ctx.Condition(lock);
        await cond.acquire();
        assert.equal(
          await lock.acquire({ block: false }),
          false,
          "the Lock is the Condition's lock",
        );
        assert.equal(await cond.acquire({ block: false }), false, "a Lock is not re-entrant");
        assert.equal(await cond.wait(50), false);
        assert.equal(await lock.acquire({ block: false }), false, "taken back after wait()");
        await lock.release();
        await assert.rejects(cond.notify(), ValueError);
        await lock.acquire();
        await cond.notify();
        await cond.release();
        await assertFree(lock, "after the condition released it");
      },
    );

    test(
      "Condition: a waiting parent lets a child take the lock; the child's notify wakes it holding every level",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const cond = new ctx.Condition();
        const out = scope.queue(1_000);
        await cond.acquire();
        await cond.acquire();
        const notifier = scope.start(syncConditionNotifier, [cond, out]);
        const [notified, waited] = await timed(() => cond.wait(15_000));
        assert.equal(notified, true, `not notified within ${waited.toFixed(0)} ms`);
        assert.equal(await next(out), true, "the child got the lock while the parent waited");
        await joinedCleanly(notifier);
        await cond.release();
        await cond.release();
        await assert.rejects(cond.release(), ValueError, "exactly two levels came back");
      },
    );

    test(
      "Condition: notify(n) wakes n waiting children and notifyAll() the rest",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const cond = new ctx.Condition();
        const out = scope.queue<[string, unknown]>(1_000);
        const children = [0, 1, 2, 3].map(() => scope.start(syncConditionWaiter, [cond, out]));
        for (const _ of children) assert.equal((await next<[string]>(out))[0], "waiting");
        // Each child said "waiting" while holding the lock, and holds it until
        // wait() gives it up: once the parent has the lock, all four wait.
        const woken = async (n: number) => {
          for (let i = 0; i < n; i++) assert.deepEqual(await next(out), ["woken", true]);
          // A window for a surplus wake to show, not a synchronisation: under
          // load it can only miss one, never fail a correct notify(n).
          await sleep(300);
          assert.equal(await out.qsize(), 0, `only ${n} woke`);
        };
        await cond.acquire();
        await cond.notify();
        await cond.release();
        await woken(1);
        await cond.acquire();
        await cond.notify(2);
        await cond.release();
        await woken(2);
        await cond.acquire();
        await cond.notifyAll();
        await cond.release();
        await woken(1);
        for (const child of children) await joinedCleanly(child);
      },
    );

    test(
      "Condition: waitFor returns the predicate's value: at once, after notifications, or the falsy value after the timeout",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const cond = new ctx.Condition();
        await cond.acquire();
        let calls = 0;
        assert.equal(await cond.waitFor(() => (calls++, "ready")), "ready");
        assert.equal(calls, 1, "a true predicate is not waited for");
        const [result, elapsed] = await timed(() => cond.waitFor(() => 0, 150));
        assert.equal(result, 0, "the falsy value itself, not false");
        atLeast(elapsed, 150, "waitFor(() => 0, 150)");
        assert.equal(await cond.waitFor(() => "", 0), "");
        assert.equal(await cond.waitFor(() => Promise.resolve(null), -1), null);
        await cond.release();
        await assert.rejects(cond.release(), ValueError, "waitFor left no extra level");

        const items = scope.queue(1_000);
        const out = scope.queue(1_000);
        const child = scope.start(syncConditionWaitFor, [cond, items, 3, out]);
        for (let i = 0; i < 3; i++) {
          // Spacing, not a synchronisation: however the child's waits fall
          // between the items, it ends with "3 items" and 1 to 4 calls.
          await sleep(50);
          await cond.acquire();
          await items.put(i);
          await cond.notify();
          await cond.release();
        }
        const report = await next<{ result: string; calls: number }>(out);
        await joinedCleanly(child);
        assert.equal(report.result, "3 items");
        assert.ok(
          report.calls >= 1 && report.calls <= 4,
          `the predicate ran ${report.calls} times`,
        );
      },
    );

    test("Condition: a lock made in another process is refused (TypeError)", TEST, async () => {
      await using scope = new Scope(ctx);
      const out = scope.queue(1_000);
      const child = scope.start(syncConditionOverForeignLock, [new ctx.Lock(), out]);
      assert.equal(await next(out), "TypeError");
      await joinedCleanly(child);
    });

    // ---------------------------------------------------------------- Barrier

    test(
      "Barrier: arguments are checked; Barrier(1).wait() is 0 and never blocks",
      TEST,
      async () => {
        for (const parties of [0, -1, 1.5, NaN]) {
          assert.throws(() => new ctx.Barrier(parties), ValueError, String(parties));
        }
        assert.throws(() => new ctx.Barrier(2, "not a function" as never), TypeError);
        const one = new ctx.Barrier(1);
        assert.equal(one.parties, 1);
        assert.equal(await one.wait(), 0);
        assert.equal(await one.wait(), 0);
        assert.equal(await one.broken(), false);
        assert.equal(await one.nWaiting(), 0);
        assert.equal(new ctx.Barrier(3).parties, 3);
      },
    );

    test(
      "Barrier: 3 processes get distinct indices with one 0; the action runs once per trip before anyone is released",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const barrier = new ctx.Barrier(3, syncRecordTrip);
        const log = scope.queue<string>(1_000);
        const out = scope.queue<{ trip: number; index: number; logged: number }>(1_000);
        const children = [0, 1, 2].map(() => scope.start(syncBarrierParty, [barrier, 2, log, out]));
        const reports: { trip: number; index: number; logged: number }[] = [];
        for (let i = 0; i < 6; i++) reports.push(await next(out));
        for (const child of children) await joinedCleanly(child);
        for (const trip of [0, 1]) {
          const these = reports.filter((r) => r.trip === trip);
          assert.deepEqual(these.map((r) => r.index).sort(), [0, 1, 2], `trip ${trip}`);
          for (const r of these) {
            assert.equal(r.logged, trip + 1, `trip ${trip}: the action had run once per trip`);
          }
        }
        const ranIn: string[] = [];
        while (!(await log.empty())) ranIn.push(await log.get());
        assert.equal(ranIn.length, 2);
        const names = new Set(children.map((c) => c.name));
        for (const name of ranIn) assert.ok(names.has(name), `the action ran in ${name}`);
        assert.equal(await barrier.broken(), false);
        assert.equal(await barrier.nWaiting(), 0);
      },
    );

    test(
      "Barrier: an action that throws breaks it: its runner gets the error, the others BrokenBarrierError",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const barrier = new ctx.Barrier(2, syncFailingAction);
        const go = scope.queue(1_000);
        const out = scope.queue(1_000);
        const child = scope.start(syncBarrierRounds, [barrier, 1, go, out]);
        await go.put("go");
        await waitFor(async () => (await barrier.nWaiting()) === 1, "the child to wait");
        await assert.rejects(barrier.wait(), RangeError, "the last to arrive ran the action");
        const report = await next<{ error?: string }>(out);
        assert.equal(report.error, "BrokenBarrierError");
        await joinedCleanly(child);
        assert.equal(await barrier.broken(), true);
        await assert.rejects(barrier.wait(), BrokenBarrierError);
      },
    );

    test(
      "Barrier: the constructor's timeout is every wait's default; a timed-out wait breaks it for all",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const barrier = new ctx.Barrier(3, null, 300);
        const go = scope.queue(1_000);
        const out = scope.queue<{ error?: string; waited: number }>(1_000);
        const children = [0, 1].map(() => scope.start(syncBarrierRounds, [barrier, 1, go, out]));
        await go.put("go");
        await go.put("go");
        const waits: number[] = [];
        for (const _ of children) {
          const report = await next<{ error?: string; waited: number }>(out);
          assert.equal(report.error, "BrokenBarrierError");
          waits.push(report.waited);
        }
        // The first to arrive timed out; the other was broken a little sooner.
        atLeast(
          Math.max(...waits),
          300,
          "the first wait under the constructor's timeout of 300 ms",
        );
        for (const child of children) await joinedCleanly(child);
        assert.equal(await barrier.broken(), true);
        await assert.rejects(
          barrier.wait(),
          BrokenBarrierError,
          "a broken barrier refuses at once",
        );

        const patient = new ctx.Barrier(2, null, 60_000);
        const [error, elapsed] = await timed(() =>
          patient.wait(100).then(() => null, (e: unknown) => e)
        );
        assert.ok(error instanceof BrokenBarrierError, String(error));
        atLeast(elapsed, 100, "wait(100) overriding the constructor's 60 s");
        assert.equal(await patient.broken(), true);
      },
    );

    test(
      "Barrier: abort() breaks it for current and later waiters; reset() makes it usable, and breaks current waiters",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const barrier: Barrier = new ctx.Barrier(3);
        const go = scope.queue(1_000);
        const out = scope.queue<{ round: number; index?: number; error?: string }>(1_000);
        const children = [0, 1].map(() => scope.start(syncBarrierRounds, [barrier, 3, go, out]));
        const round = async () => {
          await go.put("go");
          await go.put("go");
          await waitFor(async () => (await barrier.nWaiting()) === 2, "both children to wait");
        };
        const reports = async () => [
          await next<{ index?: number; error?: string }>(out),
          await next<{ index?: number; error?: string }>(out),
        ];

        await round();
        await barrier.abort();
        for (const r of await reports()) assert.equal(r.error, "BrokenBarrierError");
        assert.equal(await barrier.broken(), true);
        await assert.rejects(barrier.wait(), BrokenBarrierError);

        await barrier.reset();
        assert.equal(await barrier.broken(), false);
        assert.equal(await barrier.nWaiting(), 0);
        await round();
        const mine = await barrier.wait();
        const theirs = (await reports()).map((r) => r.index);
        assert.deepEqual([mine, ...theirs].sort(), [0, 1, 2], "the barrier works again");

        await round();
        await barrier.reset();
        for (const r of await reports()) assert.equal(r.error, "BrokenBarrierError");
        assert.equal(await barrier.broken(), false, "reset() leaves it usable");
        for (const child of children) await joinedCleanly(child);
      },
    );

    // ---------------------------------------------------------------- dying holders

    test(
      "a Lock held by a child that is killed is released: the parent's next acquire succeeds",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.Lock();
        const out = scope.queue(1_000);
        const holder = scope.start(syncAcquireAndLinger, [lock, out, 1]);
        assert.equal(await next(out), "held");
        assert.equal(await lock.acquire({ block: false }), false);
        const waiting = lock.acquire({ timeout: 20_000 });
        await killed(holder);
        assert.equal(await waiting, true, "a waiting acquire got it when the holder died");
        await lock.release();
        await assertFree(lock, "after the parent released it");
      },
    );

    test(
      "a Lock held by a child that crashes is released",
      { ...TEST, skip: pageLacks("stderr") },
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.Lock();
        const out = scope.queue(1_000);
        using stderr = new StderrFile();
        const holder = scope.start(syncAcquireAndCrash, [lock, out, stderr.path]);
        assert.equal(await next(out), "held");
        await within(holder.join(), "the crashing child to end");
        assert.equal(holder.exitcode, 1);
        assert.match(
          stderr.read(),
          new RegExp(`^Process ${holder.name}:\n(Uncaught )?RangeError: crashing while holding`),
        );
        assert.equal(await lock.acquire({ timeout: 10_000 }), true);
        await lock.release();
      },
    );

    test(
      "a child killed while waiting to acquire never takes the lock later",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.Lock();
        const out = scope.queue(1_000);
        await lock.acquire();
        const waiter = scope.start(syncWaitToAcquire, [lock, out]);
        assert.equal(await next(out), "trying");
        const acquired = next(out, "the dead waiter's report");
        assert.equal(await stillPendingAfter(acquired, 100), true, "the child waits for the lock");
        await killed(waiter);
        await lock.release();
        await assertFree(lock, "the dead waiter was not handed the lock");
      },
    );

    test(
      "an RLock a killed child held at two levels is released completely",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const lock = new ctx.RLock();
        const out = scope.queue(1_000);
        const holder = scope.start(syncAcquireAndLinger, [lock, out, 2]);
        assert.equal(await next(out), "held");
        assert.equal(await lock.acquire({ block: false }), false);
        await killed(holder);
        assert.equal(await lock.acquire({ timeout: 10_000 }), true);
        await lock.release();
        await assert.rejects(lock.release(), ValueError, "the parent holds one level, not three");
      },
    );

    test("Semaphore units held by a killed child are given back", TEST, async () => {
      await using scope = new Scope(ctx);
      const sem = new ctx.BoundedSemaphore(3);
      const out = scope.queue(1_000);
      const holder = scope.start(syncAcquireAndLinger, [sem, out, 2]);
      assert.equal(await next(out), "held");
      assert.equal(await sem.getValue(), 1);
      await sem.acquire();
      assert.equal(await sem.acquire({ block: false }), false);
      const waiting = sem.acquire({ timeout: 20_000 });
      await killed(holder);
      assert.equal(await waiting, true, "a waiting acquire got a unit when the holder died");
      assert.equal(await sem.getValue(), 1, "both units came back; the parent holds two");
      await sem.release();
      await sem.release();
      assert.equal(await sem.getValue(), 3);
    });

    test("a Condition whose lock a killed child held can be acquired again", TEST, async () => {
      await using scope = new Scope(ctx);
      const cond = new ctx.Condition();
      const out = scope.queue(1_000);
      const holder = scope.start(syncAcquireAndLinger, [cond, out, 1]);
      assert.equal(await next(out), "held");
      assert.equal(await cond.acquire({ block: false }), false);
      await killed(holder);
      assert.equal(await cond.acquire({ timeout: 10_000 }), true);
      await cond.notifyAll();
      await cond.release();
      await assert.rejects(cond.release(), ValueError);
    });

    test(
      "a child killed while waiting on a Condition does not swallow a notify()",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const cond = new ctx.Condition();
        const out = scope.queue(1_000);
        const doomed = scope.start(syncConditionWaitAndLinger, [cond, out]);
        assert.equal(await next(out), "waiting");
        await cond.acquire(); // the child is inside wait()
        await cond.release();
        await killed(doomed);
        const survivor = scope.start(syncConditionWaiter, [cond, out]);
        assert.equal((await next<[string]>(out))[0], "waiting");
        await cond.acquire();
        await cond.notify();
        await cond.release();
        assert.deepEqual(await next(out), ["woken", true], "the live waiter got the notify");
        await joinedCleanly(survivor);
      },
    );

    test(
      "a child killed after being notified, before it took the lock back, leaves the lock intact",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const cond = new ctx.Condition();
        const out = scope.queue(1_000);
        const doomed = scope.start(syncConditionWaitAndLinger, [cond, out]);
        assert.equal(await next(out), "waiting");
        await cond.acquire();
        await cond.acquire();
        await cond.notify(); // the child now waits for the lock the parent holds twice
        const woken = next(out, "the dead child's report");
        assert.equal(
          await stillPendingAfter(woken, 100),
          true,
          "a notified child's wait() returns only once it has the lock back",
        );
        await killed(doomed);
        await cond.release();
        await cond.release(); // the parent's own second level
        await assert.rejects(cond.release(), ValueError);
        // Until this process has settled the dead child, the lock may be handed
        // to it; once settled, the lock is free: poll for that, no fixed wait.
        await waitFor(async () => {
          const got = await cond.acquire({ block: false });
          if (got) await cond.release();
          return got;
        }, "the lock to be free after the parent released both levels");
      },
    );

    test("a party killed while running the action breaks the Barrier", TEST, async () => {
      await using scope = new Scope(ctx);
      const barrier = new ctx.Barrier(2, syncHangingAction);
      const log = scope.queue<string>(1_000);
      const out = scope.queue(1_000);
      const mine = barrier.wait().then(() => null, (e: unknown) => e);
      await waitFor(async () => (await barrier.nWaiting()) === 1, "the parent to wait");
      const party = scope.start(syncBarrierParty, [barrier, 1, log, out]);
      assert.equal(await next(log, "the child to run the action"), party.name);
      await killed(party);
      const error = await within(
        mine,
        "the parent's wait to end after the action's runner died",
        10_000,
      );
      assert.ok(error instanceof BrokenBarrierError, String(error));
      assert.equal(await barrier.broken(), true);
    });

    test(
      "a party killed while waiting breaks the Barrier",
      { ...TEST, skip: pageLacks("stderr") },
      async () => {
        await using scope = new Scope(ctx);
        const barrier = new ctx.Barrier(2);
        using stderr = new StderrFile();
        const party = scope.start(syncBarrierWaitAndLinger, [barrier, stderr.path]);
        await waitFor(async () => (await barrier.nWaiting()) === 1, "the child to wait");
        await killed(party);
        await waitFor(() => barrier.broken(), "the barrier to break");
        await assert.rejects(barrier.wait(), BrokenBarrierError);
      },
    );

    // ------------------------------------------------ lifetimes (issue 11, section 1)

    test(
      "a waiter on a Lock, Semaphore, Event, Condition or Barrier whose last handle is closed fails with OSError; a closed handle refuses calls",
      TEST,
      async () => {
        const lock = new ctx.Lock();
        await lock.acquire();
        const semaphore = new ctx.Semaphore(0);
        const event = new ctx.Event();
        const condition = new ctx.Condition();
        await condition.acquire();
        const barrier = new ctx.Barrier(2);
        const waits: [string, Promise<unknown>, { close(): void }][] = [
          ["Lock.acquire", lock.acquire(), lock],
          ["Semaphore.acquire", semaphore.acquire(), semaphore],
          ["Event.wait", event.wait(), event],
          ["Condition.wait", condition.wait(), condition],
          ["Barrier.wait", barrier.wait(), barrier],
        ];
        for (const [what, waiting] of waits) {
          assert.equal(await stillPendingAfter(waiting, 10), true, `${what} waits`);
        }
        for (const [, , handle] of waits) handle.close();
        for (const [what, waiting] of waits) {
          await assert.rejects(within(waiting, what), (e: Error) => {
            assert.ok(
              e instanceof OSError,
              `${what}: expected OSError, got ${e?.name}: ${e?.message}`,
            );
            assert.match(e.message, /gone/, what);
            return true;
          });
        }
        await assert.rejects(lock.acquire(), valueError(/closed/));
        await assert.rejects(event.set(), valueError(/closed/));
        await assert.rejects(barrier.wait(), valueError(/closed/));
      },
    );

    test(
      "primitives a child used are freed once the parent's handles are closed and the child ended",
      TEST,
      async () => {
        await using scope = new Scope(ctx);
        const report = scope.queue<string>();
        const lock = new ctx.Lock();
        const semaphore = new ctx.Semaphore(2);
        const event = new ctx.Event();
        const condition = new ctx.Condition(); // and its RLock
        const barrier = new ctx.Barrier(1);
        const p = scope.start(lifetimeUsePrimitives, [
          lock,
          semaphore,
          event,
          condition,
          barrier,
          report,
        ]);
        const ids = [lock, semaphore, event, condition, condition._lock, barrier].map((h) =>
          h._ref.id
        );
        const alive = () => ids.filter((id) => ownedCore(id) !== undefined).length;
        for (const handle of [lock, semaphore, event, condition, barrier]) handle.close();
        assert.equal(alive(), 6, "the child's references keep all six");
        assert.equal(await within(report.get(), "the child's report"), "ok");
        await within(p.join(), "the child to end");
        assert.equal(p.exitcode, 0);
        await waitFor(() => alive() === 0, "the six objects to be freed");
      },
    );
  });
}
