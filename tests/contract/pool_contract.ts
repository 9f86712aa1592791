/**
 * The behaviour of `Pool` and `AsyncResult`, written once and run for each
 * start method on Deno and Bun: CPython's _TestPool, _TestPoolWorkerErrors
 * and _TestPoolWorkerLifetime ported to Promises and milliseconds (sizes and
 * validation, `apply`/`map`/`starmap`/`imap` and their async forms, CPython's
 * default chunk size, empty and failing inputs, callbacks, errors that keep
 * their class, `close`/`terminate`/`join`, `maxtasksperchild`), plus what
 * this library adds: a worker that dies holding tasks fails exactly those
 * with `WorkerLostError` and is replaced, a worker that keeps dying at
 * start-up by its own error breaks the pool instead of respawning forever
 * (one killed by a signal does not), a chaos run of random kills loses
 * nothing but the tasks the killed workers held, `terminate()` settles what
 * is pending, a task can be aborted or time out, and a pool left open does
 * not keep its program alive once idle.
 *
 * Workers find their tasks by export name in this module, so it re-exports
 * them; it registers no tests until `runPoolContract` is called.
 *
 * @module
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { pageLacks } from "./_page.ts";
import process from "node:process";
import {
  activeChildren,
  type AsyncResult,
  type Context,
  cpuCount,
  currentProcess,
  Empty,
  getContext,
  Pool,
  type Process,
  ProcessError,
  type Queue,
  type StartMethod,
  TimeoutError,
  ValueError,
  WorkerLostError,
} from "../../mod.ts";
import {
  poolAdd,
  type PoolCallbackRun,
  poolCrash,
  type PoolCustomError,
  poolDelayedEcho,
  poolEchoArgs,
  poolExit,
  poolFailFirst,
  poolFailingInit,
  poolIdentity,
  poolInit,
  poolInitState,
  poolRecord,
  poolReportThenSleep,
  poolSleep,
  poolSlowInit,
  poolSlowSquare,
  poolSquare,
  poolThrow,
  poolUncloneable,
  poolUncloneableAt2,
} from "../testdata/pool_targets.ts";
import {
  assertSaidOnce,
  openRuntimeSockets,
  pidAlive,
  runScript,
  RUNTIME,
  type ScriptResult,
  SOCKET_REFUSED,
  testdata,
  waitFor,
} from "../_helpers.ts";
import { CHILD_MESSAGE } from "../testdata/uncaught_remote.ts";
import { capturingStderr, StderrFile } from "../testdata/stderr_capture.ts";

export * from "../testdata/pool_targets.ts";

const T = { timeout: 60_000 };

/** Timers may fire a little early on some platforms; lower bounds allow this much. */
const TIMER_SLACK_MS = 15;

/** Runs `make` and returns what it made with the child processes it started. */
function withChildren<V>(make: () => V): { value: V; children: Process[] } {
  const before = new Set(activeChildren());
  const value = make();
  return { value, children: activeChildren().filter((p) => !before.has(p)) };
}

/** The error `action` ends with, whether it throws at once or its result rejects. */
async function failureOf(action: () => unknown): Promise<unknown> {
  let value: unknown;
  try {
    value = await action();
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({
    message: `expected a failure, but it succeeded with ${JSON.stringify(value)}`,
  });
}

/** Collects what an async iterator yields, then the error that ended it (or null). */
async function drain<V>(iterator: AsyncIterable<V>): Promise<{ values: V[]; error: unknown }> {
  const values: V[] = [];
  try {
    for await (const v of iterator) values.push(v);
  } catch (error) {
    return { values, error };
  }
  return { values, error: null };
}

/** Takes `n` reports from `queue`, skipping the initializer's `["init", ident]` ones. */
async function takeReports(queue: Queue<unknown>, n: number): Promise<unknown[]> {
  const out: unknown[] = [];
  while (out.length < n) {
    const item = await queue.get({ timeout: 20_000 });
    if (Array.isArray(item) && item[0] === "init") continue;
    out.push(item);
  }
  return out;
}

/**
 * Everything in `queue` now, waiting up to `settleMs` for stragglers. Not
 * synchronisation: callers first wait for every report they expect (with
 * `takeReports`), so this only looks for reports that should not exist;
 * under load it can miss such a bug, never fail a correct library.
 */
async function takeRest(queue: Queue<unknown>, settleMs = 200): Promise<unknown[]> {
  const out: unknown[] = [];
  for (;;) {
    try {
      out.push(await queue.get({ timeout: settleMs }));
    } catch (error) {
      if (error instanceof Empty) return out;
      throw error;
    }
  }
}

/** The process with this ident among the live children. */
function childWithIdent(ident: unknown): Process {
  const child = activeChildren().find((p) => p.ident === ident);
  assert.ok(child, `no live child has ident ${ident}`);
  return child;
}

/** Kills the pool worker with `ident` at once: SIGKILL under "spawn", kill() under "worker". */
function killWorker(startMethod: StartMethod, ident: number): void {
  if (startMethod === "spawn") process.kill(ident, "SIGKILL");
  else childWithIdent(ident).kill();
}

/**
 * Runs `pool_targets.ts` with `args` as its own program and waits for it
 * to exit; one still running after `timeout` ms is killed and fails the test.
 */
async function runUntilExit(args: string[], timeout = 30_000): Promise<ScriptResult> {
  // The scripts print before they could hang, so a kill is at hand by then.
  let kill = (_: NodeJS.Signals) => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = runScript(testdata("pool_targets.ts"), args, { onStdout: (_, k) => (kill = k) });
  const result = await Promise.race([
    run,
    new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeout))),
  ]);
  clearTimeout(timer);
  if (result !== null) return result;
  kill("SIGKILL");
  const killed = await run;
  assert.fail(`The program did not exit within ${timeout} ms; it printed ${killed.stdout}`);
}

/** The error `sayWhen` throws (CPython's SayWhenError). */
const saidWhen = new Error("Somebody said when");

/** CPython's exception_throwing_generator: yields 0, 1, ... and throws at `when` (-1: at once). */
function* sayWhen(total: number, when: number): Generator<number> {
  if (when === -1) throw saidWhen;
  for (let i = 0; i < total; i++) {
    if (i === when) throw saidWhen;
    yield i;
  }
}

function squares(xs: Iterable<number>): number[] {
  return [...xs].map((x) => x * x);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Behaviour of Pool under one start method. */
export function runPoolContract({ startMethod }: { startMethod: StartMethod }): void {
  const ctx: Context = getContext(startMethod);
  const osProcess = startMethod === "spawn";
  const workerName = osProcess ? /^SpawnPoolWorker-\d+$/ : /^WorkerPoolWorker-\d+$/;

  describe(`Pool [${startMethod}] [${RUNTIME}]`, () => {
    // Read-only tests share one pool of two workers; those that kill workers,
    // close or terminate make their own.
    let pool: Pool;
    let sharedWorkers: Process[] = [];
    before(() => {
      const made = withChildren(() => new ctx.Pool(2));
      pool = made.value;
      sharedWorkers = made.children;
    });
    after(async () => {
      await pool?.terminate();
    });

    // ---------------------------------------------------------- construction

    test(
      "the default size is cpuCount(); the context option picks the start method",
      T,
      async () => {
        const plain = withChildren(() => new ctx.Pool());
        const viaOptions = withChildren(() => new Pool({ processes: 1, context: ctx }));
        try {
          assert.equal(plain.value.processes, cpuCount());
          assert.equal(plain.children.length, cpuCount());
          assert.deepEqual(await plain.value.map(poolSquare, [1, 2, 3]), [1, 4, 9]);
          // The top-level Pool with `context` starts its workers with that method.
          assert.equal(viaOptions.value.processes, 1);
          assert.equal(viaOptions.children.length, 1);
          assert.match(viaOptions.children[0].name, workerName);
          const me = await viaOptions.value.apply(poolIdentity);
          assert.equal(
            me.osPid !== process.pid,
            osProcess,
            "a worker is an OS process under spawn only",
          );
        } finally {
          await plain.value.terminate();
          await viaOptions.value.terminate();
        }
      },
    );

    test("invalid sizes and options throw at once and start nothing", T, () => {
      const made = withChildren(() => {
        for (const processes of [0, -1]) {
          assert.throws(() => new ctx.Pool(processes), ValueError);
          assert.throws(() => new ctx.Pool({ processes }), ValueError);
        }
        for (const maxtasksperchild of [0, -2, 1.5]) {
          assert.throws(() => new ctx.Pool({ processes: 1, maxtasksperchild }), ValueError);
        }
        assert.throws(
          () => new ctx.Pool({ processes: 1, initializer: 42 as never }),
          TypeError,
        );
        return null;
      });
      assert.deepEqual(made.children, []);
    });

    test("workers are daemonic and named as CPython names them", T, async () => {
      assert.equal(sharedWorkers.length, 2);
      for (const child of sharedWorkers) {
        assert.match(child.name, workerName);
        assert.equal(child.daemon, true);
        assert.equal(child.isAlive(), true);
      }
      assert.notEqual(sharedWorkers[0].name, sharedWorkers[1].name);
      const seen = await pool.map(poolIdentity, range(2), 1);
      for (const me of seen) {
        const child = sharedWorkers.find((p) => p.name === me.name);
        assert.ok(child, `task ran in ${me.name}, not one of the pool's workers`);
        assert.equal(me.daemon, true);
        assert.equal(me.ident, child.ident);
        if (osProcess) {
          assert.equal(me.osPid, child.pid);
          assert.notEqual(me.osPid, process.pid);
        }
      }
    });

    // ---------------------------------------------------------- apply

    test("apply runs fn(...args, kwargs) in a worker and resolves with its result", T, async () => {
      assert.equal(await pool.apply(poolSquare, [7]), 49);
      assert.deepEqual(await pool.apply(poolEchoArgs, [1, "two"], { three: 3 }), [
        1,
        "two",
        { three: 3 },
      ]);
      assert.deepEqual(await pool.apply(poolEchoArgs), []);
      const me = await pool.apply(poolIdentity);
      assert.match(me.name, workerName);
      assert.notEqual(me.ident, currentProcess().ident);
    });

    test("applyAsync returns an AsyncResult that is also PromiseLike", T, async () => {
      const r = pool.applyAsync(poolEchoArgs, ["a"], { kwargs: { b: 2 } });
      assert.deepEqual(await r.get(), ["a", { b: 2 }]);
      assert.deepEqual(await r, ["a", { b: 2 }]);
      assert.equal(await r.then((v) => v.length), 2);
      assert.equal(r.ready(), true);
      assert.equal(r.successful(), true);
      assert.equal(await pool.applyAsync(poolAdd, [2, 3]), 5);
    });

    test("successful() is a ValueError before the result is ready", T, async () => {
      const r = pool.applyAsync(poolSleep, [300, "late"]);
      assert.equal(r.ready(), false);
      assert.throws(() => r.successful(), ValueError);
      assert.equal(await r, "late");
      assert.equal(r.successful(), true);
    });

    test("get(timeout) rejects with TimeoutError and the task keeps running", T, async () => {
      const r = pool.applyAsync(poolSleep, [700, "done"]);
      const t0 = performance.now();
      await assert.rejects(r.get(150), TimeoutError);
      assert.ok(performance.now() - t0 >= 150 - TIMER_SLACK_MS, "get(150) waited 150 ms");
      assert.equal(r.ready(), false);
      const t1 = performance.now();
      await r.wait(100);
      assert.ok(performance.now() - t1 >= 100 - TIMER_SLACK_MS, "wait(100) waited 100 ms");
      assert.equal(r.ready(), false);
      await r.wait();
      assert.equal(r.ready(), true);
      assert.equal(r.successful(), true);
      assert.equal(await r.get(10), "done", "a ready result is given whatever the timeout");
    });

    test("a failed result: wait() resolves, successful() is false, get() rejects", T, async () => {
      const r = pool.applyAsync(poolThrow, ["RangeError", "nope"]);
      await r.wait();
      assert.equal(r.ready(), true);
      assert.equal(r.successful(), false);
      await assert.rejects(r.get(), RangeError);
      await assert.rejects(Promise.resolve(r), RangeError);
    });

    // ---------------------------------------------------------- map & co

    test("map keeps the order of its input, whatever the chunk size", T, async () => {
      const xs = range(37);
      assert.deepEqual(await pool.map(poolSquare, xs), squares(xs));
      for (const chunksize of [1, 2, 5, 36, 37, 100]) {
        assert.deepEqual(await pool.map(poolSquare, xs, chunksize), squares(xs), `${chunksize}`);
      }
      assert.deepEqual(await pool.map(poolSquare, new Set([3, 1, 2])), [9, 1, 4]);
      function* gen() {
        yield* [5, 6, 7];
      }
      assert.deepEqual(await pool.map(poolSquare, gen(), 2), [25, 36, 49]);
    });

    test("mapAsync resolves with every result, in order, and calls back once", T, async () => {
      const calls: unknown[] = [];
      const r = pool.mapAsync(poolSquare, range(10), {
        chunksize: 3,
        callback: (v) => calls.push(v),
      });
      assert.deepEqual(await r.get(), squares(range(10)));
      assert.equal(r.successful(), true);
      assert.deepEqual(calls, [squares(range(10))]);
      assert.deepEqual(await pool.mapAsync(poolSquare, [2, 3]), [4, 9]);
    });

    test("starmap and starmapAsync spread each item as the arguments", T, async () => {
      const pairs: [number, number][] = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]];
      const sums = [3, 7, 11, 15, 19];
      assert.deepEqual(await pool.starmap(poolAdd, pairs), sums);
      assert.deepEqual(await pool.starmap(poolAdd, pairs, 2), sums);
      const calls: unknown[] = [];
      const r = pool.starmapAsync(poolAdd, pairs, { chunksize: 4, callback: (v) => calls.push(v) });
      assert.deepEqual(await r, sums);
      assert.deepEqual(calls, [sums]);
      function* gen(): Generator<[number, number]> {
        yield [10, 1];
        yield [20, 2];
      }
      assert.deepEqual(await pool.starmap(poolAdd, gen()), [11, 22]);
    });

    test("imap yields in input order; imapUnordered as results come", T, async () => {
      const items: [number, string][] = [[400, "a"], [0, "b"], [150, "c"], [0, "d"]];
      assert.deepEqual((await drain(pool.imap(poolDelayedEcho, items))).values, [
        "a",
        "b",
        "c",
        "d",
      ]);
      const xs = range(23);
      for (const chunksize of [1, 4, 50]) {
        const ordered = await drain(pool.imap(poolSquare, xs, chunksize));
        assert.deepEqual(ordered, { values: squares(xs), error: null }, `imap ${chunksize}`);
        const unordered = await drain(pool.imapUnordered(poolSquare, xs, chunksize));
        assert.equal(unordered.error, null);
        assert.deepEqual(
          unordered.values.sort((a, b) => a - b),
          squares(xs),
          `imapUnordered ${chunksize}`,
        );
      }
      // The fast item comes out first even though it was given second.
      const first = await drain(pool.imapUnordered(poolDelayedEcho, [[500, "slow"], [0, "fast"]]));
      assert.deepEqual(first.values, ["fast", "slow"]);
    });

    test("a chunk size that is not a positive integer is a ValueError", T, async () => {
      for (const chunksize of [0, -1, 1.5]) {
        assert.ok(
          (await failureOf(() => pool.map(poolSquare, [1, 2], chunksize))) instanceof ValueError,
        );
        assert.ok(
          (await failureOf(() =>
            drain(pool.imap(poolSquare, [1, 2], chunksize)).then((r) => {
              if (r.error) throw r.error;
            })
          )) instanceof ValueError,
        );
      }
      assert.deepEqual(await pool.map(poolSquare, [3]), [9]);
    });

    test("an empty iterable gives [] at once", T, async () => {
      const r = pool.mapAsync(poolSquare, []);
      assert.equal(r.ready(), true, "ready without a round trip to a worker");
      assert.deepEqual(await r, []);
      assert.deepEqual(await pool.map(poolSquare, []), []);
      assert.deepEqual(await pool.map(poolSquare, [], 3), []);
      assert.deepEqual(await pool.starmap(poolAdd, []), []);
      const s = pool.starmapAsync(poolAdd, []);
      assert.equal(s.ready(), true);
      assert.deepEqual(await s, []);
      assert.deepEqual(await drain(pool.imap(poolSquare, [])), { values: [], error: null });
      assert.deepEqual(await drain(pool.imapUnordered(poolSquare, [])), {
        values: [],
        error: null,
      });
    });

    test("an iterable that throws gives that very error and the pool stays usable", T, async () => {
      const boom = new Error("the input fails after three items");
      function* failing(): Generator<number> {
        yield 0;
        yield 1;
        yield 2;
        throw boom;
      }
      function* failingPairs(): Generator<[number, number]> {
        yield [1, 1];
        throw boom;
      }
      assert.equal(await failureOf(() => pool.map(poolSquare, failing())), boom);
      assert.equal(await failureOf(() => pool.mapAsync(poolSquare, failing())), boom);
      assert.equal(await failureOf(() => pool.starmap(poolAdd, failingPairs())), boom);
      assert.equal(await failureOf(() => pool.starmapAsync(poolAdd, failingPairs())), boom);
      // imap yields what came before the failure, then the failure (as CPython's does).
      assert.deepEqual(await drain(pool.imap(poolSquare, failing())), {
        values: [0, 1, 4],
        error: boom,
      });
      const unordered = await drain(pool.imapUnordered(poolSquare, failing()));
      assert.equal(unordered.error, boom);
      assert.deepEqual(unordered.values.sort((a, b) => a - b), [0, 1, 4]);
      assert.deepEqual(await pool.map(poolSquare, [1, 2, 3]), [1, 4, 9]);
      assert.equal(await pool.apply(poolSquare, [8]), 64);
    });

    test(
      "imap over an input that throws yields the chunks before it, then throws (CPython's test)",
      T,
      async () => {
        // CPython's test_imap_handle_iterable_exception: the chunk the input
        // fails in is not run, the chunks before it are.
        for (let again = 0; again < 2; again++) {
          assert.deepEqual(await drain(pool.imap(poolSquare, sayWhen(1, -1), 1)), {
            values: [],
            error: saidWhen,
          });
        }
        assert.deepEqual(await drain(pool.imap(poolSquare, sayWhen(10, 3), 1)), {
          values: [0, 1, 4],
          error: saidWhen,
        });
        assert.deepEqual(await drain(pool.imap(poolSquare, sayWhen(20, 7), 2)), {
          values: [0, 1, 4, 9, 16, 25],
          error: saidWhen,
        });
        assert.deepEqual(await drain(pool.imap(poolSquare, sayWhen(20, 7), 4)), {
          values: [0, 1, 4, 9],
          error: saidWhen,
        });
        assert.deepEqual(await pool.map(poolSquare, [1, 2, 3]), [1, 4, 9]);
      },
    );

    test(
      "imapUnordered over an input that throws yields the chunks before it, then throws",
      T,
      async () => {
        // CPython's test_imap_unordered_handle_iterable_exception allows any
        // subset of the results before the error; this pool gives all of the
        // chunks before the failing one, and nothing of that chunk.
        for (let again = 0; again < 2; again++) {
          assert.deepEqual(await drain(pool.imapUnordered(poolSquare, sayWhen(1, -1), 1)), {
            values: [],
            error: saidWhen,
          });
        }
        const byOne = await drain(pool.imapUnordered(poolSquare, sayWhen(10, 3), 1));
        assert.equal(byOne.error, saidWhen);
        assert.deepEqual(byOne.values.sort((a, b) => a - b), [0, 1, 4]);
        const byTwo = await drain(pool.imapUnordered(poolSquare, sayWhen(20, 7), 2));
        assert.equal(byTwo.error, saidWhen);
        assert.deepEqual(byTwo.values.sort((a, b) => a - b), [0, 1, 4, 9, 16, 25]);
        assert.deepEqual(await pool.map(poolSquare, [1, 2, 3]), [1, 4, 9]);
      },
    );

    test("map over an input that throws fails with that error (CPython's test)", T, async () => {
      // CPython's test_map_handle_iterable_exception, with its SpecialIterable
      // (an iterator whose next() throws) twice.
      for (let again = 0; again < 2; again++) {
        assert.equal(await failureOf(() => pool.map(poolSquare, sayWhen(1, -1), 1)), saidWhen);
      }
      assert.equal(await failureOf(() => pool.map(poolSquare, sayWhen(10, 3), 1)), saidWhen);
      const special: IterableIterator<number> = {
        [Symbol.iterator]() {
          return this;
        },
        next(): IteratorResult<number> {
          throw saidWhen;
        },
      };
      for (let again = 0; again < 2; again++) {
        assert.equal(await failureOf(() => pool.map(poolSquare, special, 1)), saidWhen);
      }
      assert.deepEqual(await pool.map(poolSquare, [1, 2, 3]), [1, 4, 9]);
    });

    test("imap reads an endless input lazily, with bounded look-ahead", T, async () => {
      let pulled = 0;
      function* naturals(): Generator<number> {
        for (let i = 0;; i++) {
          // An eager reader fails here instead of eating all memory.
          if (++pulled > 10_000) throw new Error("imap read far ahead of its consumer");
          yield i;
        }
      }
      const got: number[] = [];
      for await (const v of pool.imap(poolSquare, naturals())) {
        got.push(v);
        if (got.length === 25) break;
      }
      assert.deepEqual(got, squares(range(25)));
      assert.ok(pulled < 25 + 50, `imap read ${pulled} items to give 25`);

      pulled = 0;
      const chunked: number[] = [];
      for await (const v of pool.imap(poolSquare, naturals(), 7)) {
        chunked.push(v);
        if (chunked.length === 30) break;
      }
      assert.deepEqual(chunked, squares(range(30)));
      assert.ok(pulled < 30 + 7 * 20, `imap(chunksize 7) read ${pulled} items to give 30`);

      pulled = 0;
      const unordered: number[] = [];
      for await (const v of pool.imapUnordered(poolSquare, naturals())) {
        unordered.push(v);
        if (unordered.length === 25) break;
      }
      assert.equal(new Set(unordered).size, 25);
      for (const v of unordered) assert.ok(Number.isInteger(Math.sqrt(v)) && Math.sqrt(v) < pulled);
      assert.ok(pulled < 25 + 50, `imapUnordered read ${pulled} items to give 25`);
      assert.equal(await pool.apply(poolSquare, [9]), 81, "the pool still serves");
    });

    // ---------------------------------------------------------- callbacks

    test(
      "callbacks run in this process, in completion order, before get() returns",
      T,
      async () => {
        const order: unknown[] = [];
        const where: string[] = [];
        const record = (v: unknown) => {
          order.push(v);
          where.push(currentProcess().name);
        };
        const slow = pool.applyAsync(poolSleep, [400, "slow"], { callback: record });
        const fast = pool.applyAsync(poolSleep, [0, "fast"], { callback: record });
        assert.equal(await fast, "fast");
        assert.deepEqual(order, ["fast"], "the callback ran before the result was handed out");
        assert.equal(await slow, "slow");
        assert.deepEqual(order, ["fast", "slow"]);
        assert.deepEqual(where, ["MainProcess", "MainProcess"]);

        const errors: unknown[] = [];
        const failing = pool.applyAsync(poolThrow, ["RangeError", "for the error callback"], {
          callback: () => assert.fail("callback called for a failed task"),
          errorCallback: (e) => errors.push(e),
        });
        await failing.wait();
        assert.equal(errors.length, 1);
        assert.ok(errors[0] instanceof RangeError);
        assert.equal((errors[0] as Error).message, "for the error callback");

        const mapErrors: unknown[] = [];
        await pool.mapAsync(poolFailFirst, [0, 1], {
          chunksize: 1,
          callback: () => assert.fail("callback called for a failed map"),
          errorCallback: (e) => mapErrors.push(e),
        }).wait();
        assert.equal(mapErrors.length, 1);
        assert.ok(mapErrors[0] instanceof RangeError);
      },
    );

    test("a callback that throws does not wedge its result or later ones", T, async () => {
      // The parent reports the throw on its stderr: kept and read here.
      const { stderr } = await capturingStderr(async () => {
        const r1 = pool.applyAsync(poolSquare, [2], {
          callback: () => {
            throw new Error("callback boom on purpose (expected on stderr)");
          },
        });
        assert.equal(await r1, 4);
        assert.equal(r1.successful(), true);
        const later: unknown[] = [];
        const r2 = pool.applyAsync(poolSquare, [3], { callback: (v) => later.push(v) });
        assert.equal(await r2.get(20_000), 9);
        assert.deepEqual(later, [9]);
        assert.deepEqual(await pool.map(poolSquare, [4, 5]), [16, 25]);
      });
      assert.match(stderr, /a pool callback threw .*callback boom on purpose/);
    });

    test("an error thrown by a callback is reported on stderr", {
      ...T,
      skip: pageLacks("processes"),
    }, async () => {
      const run = await runScript(testdata("pool_targets.ts"), ["callbacks", startMethod]);
      assert.equal(run.code, 0, run.stderr);
      const line = run.stdout.trim().split("\n").pop()!;
      const seen = JSON.parse(line) as PoolCallbackRun;
      assert.deepEqual(seen.results, [9, "RangeError: task fails", [1, 4, 9], 25, [36, 49]]);
      assert.deepEqual(seen.calls, [
        ["throwing callback", 9],
        ["throwing errorCallback", "task fails"],
        ["throwing map callback", [1, 4, 9]],
        ["later callback", 25],
      ]);
      assert.match(run.stderr, /callback boom on purpose/);
      assert.match(run.stderr, /errorCallback boom on purpose/);
      assert.match(run.stderr, /map callback boom on purpose/);
    });

    test("a program waiting on the pool stays alive until the result arrives", {
      ...T,
      skip: pageLacks("processes"),
    }, async () => {
      const run = await runScript(testdata("pool_targets.ts"), [
        "no-top-level-await",
        startMethod,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, "apply 9\nmap [1,4,9]\nterminated\n");
    });

    test(
      "a program that leaves its pool open exits at its end, and its workers with it",
      { ...T, skip: pageLacks("processes") },
      async () => {
        const run = await runUntilExit(["left-open", startMethod]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /^map \[1,4,9,16\]\npids \[\d+,\d+\]\nmain done\n$/);
        if (osProcess) {
          const pids = JSON.parse(/pids (.*)/.exec(run.stdout)![1]) as number[];
          await waitFor(() => pids.every((pid) => !pidAlive(pid)), `workers ${pids} to exit`);
        }
      },
    );

    test("a pool left open still keeps the program alive for a pending result", {
      ...T,
      skip: pageLacks("processes"),
    }, async () => {
      const run = await runUntilExit(["left-open-pending", startMethod]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /\napply 11\nmain done\n$/);
    });

    // ---------------------------------------------------------- errors

    for (const scenario of ["pool-map", "pool-apply-top"]) {
      test(
        `a task's error nobody catches is printed once, with the worker's stack as its cause (${scenario})`,
        { ...T, skip: pageLacks("processes") },
        async () => {
          const run = await runScript(testdata("uncaught_remote.ts"), [scenario, startMethod]);
          assert.notEqual(run.code, 0, "the program fails");
          assertSaidOnce(
            run.stderr,
            CHILD_MESSAGE,
            /at uncaughtTask \(.*uncaught_remote\.ts:\d+:\d+\)/,
            "a pool worker",
          );
        },
      );
    }

    test(
      "a task's error keeps its class and message, with the worker's stack as cause",
      T,
      async () => {
        const rangeError = await failureOf(() =>
          pool.apply(poolThrow, ["RangeError", "out of range"])
        );
        assert.ok(rangeError instanceof RangeError, `got ${rangeError}`);
        assert.equal(rangeError.message, "out of range");
        const cause = rangeError.cause as Error;
        assert.ok(cause instanceof Error, "the cause holds the worker's stack");
        assert.equal(cause.name, "RemoteTraceback");
        assert.match(String(cause.stack), /^RemoteTraceback: raised in a pool worker\n/);
        assert.match(String(cause.stack), /at poolThrow \(/);
        assert.doesNotMatch(String(cause.stack), /out of range/, "the message is said once");

        const type = await failureOf(() => pool.applyAsync(poolThrow, ["TypeError", "bad type"]));
        assert.ok(type instanceof TypeError);
        assert.equal(type.message, "bad type");

        const value = await failureOf(() => pool.apply(poolThrow, ["ValueError", "library's own"]));
        assert.ok(value instanceof ValueError, "a library error class is matched by name too");
        assert.equal(value.message, "library's own");

        const custom = await failureOf(() => pool.apply(poolThrow, ["custom", "mine"]));
        assert.ok(custom instanceof Error);
        assert.equal(custom.name, "PoolCustomError");
        assert.equal(custom.message, "mine");
        assert.equal((custom as PoolCustomError).code, 42);

        assert.equal(
          await failureOf(() => pool.apply(poolThrow, ["string", "just text"])),
          "just text",
        );

        assert.equal(await pool.apply(poolSquare, [5]), 25, "the pool still serves");
      },
    );

    test("map fails with a task's error only after every chunk has settled", T, async () => {
      const t0 = performance.now();
      const error = await failureOf(() => pool.map(poolFailFirst, range(5), 1));
      const elapsed = performance.now() - t0;
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, "item 0 fails at once");
      // Items 1..4 sleep 150 ms each on two workers: at least two rounds.
      assert.ok(elapsed >= 300 - TIMER_SLACK_MS, `map failed after ${elapsed} ms`);
      const r = pool.mapAsync(poolFailFirst, range(3), { chunksize: 1 });
      await r.wait();
      assert.equal(r.successful(), false);
    });

    test("a result that cannot be copied fails that task only", T, async () => {
      const bad = pool.applyAsync(poolUncloneable, []);
      const good = pool.applyAsync(poolSquare, [6]);
      const error = await failureOf(() => bad.get());
      assert.ok(error instanceof TypeError, `got ${error}`);
      assert.match(error.message, /cannot be copied/);
      assert.equal(await good, 36);
      const mapped = await failureOf(() => pool.map(poolUncloneableAt2, range(6), 1));
      assert.ok(mapped instanceof TypeError);
      assert.deepEqual(await pool.map(poolUncloneableAt2, [0, 1, 3]), [0, 1, 3]);
    });

    test(
      "a runtime socket in a task's arguments fails that task saying what it is",
      { ...T, skip: pageLacks("sockets") },
      async () => {
        await using sockets = await openRuntimeSockets();
        const error = await failureOf(() => pool.apply(poolSquare, [sockets.conn as never]));
        assert.ok(error instanceof TypeError, `got ${error}`);
        assert.equal(error.message, `Cannot copy args[0] to another process: ${SOCKET_REFUSED}`);
        assert.equal(await pool.apply(poolSquare, [3]), 9, "the pool keeps serving");
      },
    );

    test(
      "an argument that cannot be copied fails that task, and the pool keeps serving",
      T,
      async () => {
        await using own = new ctx.Pool(1);
        const error = await failureOf(() => own.apply(poolSquare, [new WeakMap() as never]));
        assert.ok(error instanceof TypeError, `got ${error}`);
        assert.match(error.message, /WeakMap/);
        // The same function, to the same (only) worker, must still work.
        assert.equal(await own.apply(poolSquare, [3]), 9);
        assert.deepEqual(await own.map(poolSquare, [1, 2]), [1, 4]);
      },
    );

    // ---------------------------------------------------------- initializer, chunking

    test("the initializer runs once in each worker, with initargs", T, async () => {
      const q = new ctx.Queue<unknown>();
      const made = withChildren(() =>
        new ctx.Pool({ processes: 2, initializer: poolInit, initargs: [q, "hello"] })
      );
      try {
        const states = await made.value.map(poolInitState, range(12), 1);
        for (const s of states) {
          assert.equal(s.initCalls, 1);
          assert.equal(s.initTag, "hello");
        }
        const inits = [await q.get({ timeout: 20_000 }), await q.get({ timeout: 20_000 })];
        const idents = made.children.map((p) => p.ident).sort();
        assert.deepEqual(inits.map((m) => (m as unknown[])[1]).sort(), idents);
        for (const s of states) assert.ok(idents.includes(s.ident));
        made.value.close();
        await made.value.join();
        assert.deepEqual(await takeRest(q), [], "no worker ran the initializer twice");
      } finally {
        await made.value.terminate();
        q.close();
      }
    });

    test("map's default chunk size is CPython's ceil(len / (4 * workers))", T, async () => {
      // poolRecord reports each item it runs; item 0 throws and so ends its
      // chunk: the items skipped are exactly the rest of the first chunk.
      const q = new ctx.Queue<unknown>();
      await using own = new ctx.Pool({ processes: 2, initializer: poolInit, initargs: [q, null] });
      try {
        // 40 items, 2 workers: chunks of ceil(40 / 8) = 5, so 1..4 never run.
        assert.ok((await failureOf(() => own.map(poolRecord, range(40)))) instanceof RangeError);
        const ran = (await takeReports(q, 36)) as number[];
        ran.push(...((await takeRest(q)).filter((x) => typeof x === "number") as number[]));
        assert.deepEqual(ran.sort((a, b) => a - b), [0, ...range(40).slice(5)]);
        // 10 items, explicit chunksize 3: 1 and 2 never run.
        assert.ok((await failureOf(() => own.map(poolRecord, range(10), 3))) instanceof RangeError);
        const ran3 = (await takeReports(q, 8)) as number[];
        ran3.push(...((await takeRest(q)).filter((x) => typeof x === "number") as number[]));
        assert.deepEqual(ran3.sort((a, b) => a - b), [0, 3, 4, 5, 6, 7, 8, 9]);
        // 9 items, 2 workers: ceil(9 / 8) = 2, so 1 never runs.
        assert.ok((await failureOf(() => own.map(poolRecord, range(9)))) instanceof RangeError);
        const ran2 = (await takeReports(q, 8)) as number[];
        ran2.push(...((await takeRest(q)).filter((x) => typeof x === "number") as number[]));
        assert.deepEqual(ran2.sort((a, b) => a - b), [0, 2, 3, 4, 5, 6, 7, 8]);
      } finally {
        q.close();
      }
    });

    // ---------------------------------------------------------- close, terminate, join

    test("join() while running is a ValueError; close() lets queued work finish", T, async () => {
      const made = withChildren(() => new ctx.Pool(2));
      const own = made.value;
      try {
        await assert.rejects(own.join(), ValueError);
        const results = range(6).map((i) => own.applyAsync(poolSleep, [100, i]));
        own.close();
        await own.join();
        for (const [i, r] of results.entries()) {
          assert.equal(r.ready(), true, `result ${i} settled before join() returned`);
          assert.equal(await r, i);
        }
        for (const child of made.children) {
          assert.equal(child.isAlive(), false);
          assert.equal(child.exitcode, 0, `${child.name} exited cleanly`);
        }
      } finally {
        await own.terminate();
      }
    });

    test(
      "work submitted after close() or terminate() fails with a clear ValueError",
      T,
      async () => {
        const closed = new ctx.Pool(1);
        closed.close();
        const terminated = new ctx.Pool(1);
        await terminated.terminate();
        try {
          for (const p of [closed, terminated]) {
            const failures = [
              await failureOf(() => p.apply(poolSquare, [1])),
              await failureOf(() => p.applyAsync(poolSquare, [1])),
              await failureOf(() => p.map(poolSquare, [1])),
              await failureOf(() => p.mapAsync(poolSquare, [1])),
              await failureOf(() => p.starmap(poolAdd, [[1, 2]])),
              await failureOf(() => p.starmapAsync(poolAdd, [[1, 2]])),
              // As in CPython, imap on a pool that is not running throws at the call.
              await failureOf(() => p.imap(poolSquare, [1])),
              await failureOf(() => p.imapUnordered(poolSquare, [1])),
            ];
            for (const [i, error] of failures.entries()) {
              assert.ok(error instanceof ValueError, `call ${i}: got ${error}`);
              assert.match(error.message, /not running/i);
            }
            assert.throws(
              () => p.applyAsync(poolSquare, [1]),
              ValueError,
              "applyAsync throws at once",
            );
          }
          await closed.join();
          await terminated.join();
        } finally {
          await closed.terminate();
        }
      },
    );

    test("imap started before close() still yields every result", T, async () => {
      await using own = new ctx.Pool(2);
      const it = own.imap(poolSquare, range(20));
      const unordered = own.imapUnordered(poolSquare, range(20), 3);
      own.close();
      assert.deepEqual(await drain(it), { values: squares(range(20)), error: null });
      const rest = await drain(unordered);
      assert.equal(rest.error, null);
      assert.deepEqual(rest.values.sort((a, b) => a - b), squares(range(20)));
      await own.join();
    });

    test(
      "terminate() settles every pending result with an error and ends the workers",
      T,
      async () => {
        const q = new ctx.Queue<unknown>();
        const made = withChildren(() =>
          new ctx.Pool({ processes: 2, initializer: poolInit, initargs: [q, null] })
        );
        const own = made.value;
        const running = [
          own.applyAsync(poolReportThenSleep, ["one", 120_000]),
          own.applyAsync(poolReportThenSleep, ["two", 120_000]),
        ];
        await takeReports(q, 2); // both workers are busy
        const queued = own.applyAsync(poolSquare, [2]);
        const mapped = own.mapAsync(poolSleep, [120_000, 120_000]);
        const imapped = own.imap(poolSleep, [120_000]).next();
        const imapError = imapped.then(() => null, (error) => error);
        // An ordering, not a wait for long enough: imap reads its input and submits in
        // microtasks, and every microtask runs before any timer fires, whatever the load.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await own.terminate();
        q.close();
        for (const r of [...running, queued, mapped] as AsyncResult<unknown>[]) {
          assert.equal(r.ready(), true);
          assert.equal(r.successful(), false);
          const error = await failureOf(() => r.get());
          assert.ok(error instanceof ProcessError, `got ${error}`);
          assert.match(error.message, /terminated/);
        }
        const imapFailure = await imapError;
        assert.ok(imapFailure instanceof ProcessError, `got ${imapFailure}`);
        assert.match(imapFailure.message, /terminated/);
        for (const child of made.children) assert.equal(child.isAlive(), false);
        if (osProcess) {
          for (const child of made.children) {
            assert.equal(pidAlive(child.pid!), false);
          }
        }
        await own.terminate(); // again: nothing to do
        await own.join();
      },
    );

    test("await using terminates the pool at the end of the block", T, async () => {
      let children: Process[] = [];
      let pending: AsyncResult<unknown> | null = null;
      {
        const made = withChildren(() => new ctx.Pool(2));
        await using own = made.value;
        children = made.children;
        assert.equal(await own.apply(poolSquare, [4]), 16);
        pending = own.applyAsync(poolSleep, [120_000, "never"]);
      }
      assert.equal(children.length, 2);
      for (const child of children) assert.equal(child.isAlive(), false);
      assert.equal(pending!.ready(), true);
      assert.ok((await failureOf(() => pending!.get())) instanceof ProcessError);
    });

    // ---------------------------------------------------------- dying workers

    test(
      "a worker killed mid-task fails exactly its task, is replaced, and the pool serves on",
      T,
      async () => {
        const q = new ctx.Queue<unknown>();
        const others = new Set(activeChildren());
        const made = withChildren(() =>
          new ctx.Pool({ processes: 2, initializer: poolInit, initargs: [q, null] })
        );
        const own = made.value;
        try {
          const doomed = own.applyAsync(poolReportThenSleep, ["doomed", 120_000]);
          const survivor = own.applyAsync(poolReportThenSleep, ["survivor", 1_000]);
          const started = new Map(
            (await takeReports(q, 2)).map((r) => r as [string, number]),
          );
          const victim = started.get("doomed")!;
          assert.notEqual(victim, started.get("survivor"), "the two tasks run in two workers");
          killWorker(startMethod, victim);
          const lost = await failureOf(() => doomed.get());
          assert.ok(lost instanceof WorkerLostError, `got ${lost}`);
          assert.ok(lost instanceof ProcessError);
          assert.equal(await survivor, started.get("survivor"));
          const killed = made.children.find((p) => p.ident === victim)!;
          assert.equal(killed.isAlive(), false);
          if (osProcess) assert.equal(killed.exitcode, -9);
          assert.deepEqual(await own.map(poolSquare, range(10), 1), squares(range(10)));
          const serving = await own.map(poolIdentity, range(8), 1);
          assert.ok(serving.every((me) => me.ident !== victim), "the killed worker does not serve");
          await waitFor(
            () => activeChildren().filter((p) => !others.has(p)).length === 2,
            "the pool to have two live workers again",
          );
        } finally {
          await own.terminate();
          q.close();
        }
      },
    );

    test("a task that calls exit() fails with WorkerLostError; the others succeed", T, async () => {
      await using own = new ctx.Pool(2);
      const other = own.applyAsync(poolSleep, [400, "other"]);
      const exiting = own.applyAsync(poolExit, [7]);
      const lost = await failureOf(() => exiting.get());
      assert.ok(lost instanceof WorkerLostError, `got ${lost}`);
      assert.match(lost.message, /\b7\b/, "the message gives the exit code");
      assert.equal(await other, "other");
      // Again, with the replacement: the pool keeps serving after each loss.
      assert.ok((await failureOf(() => own.apply(poolExit, [0]))) instanceof WorkerLostError);
      assert.deepEqual(await own.map(poolSquare, range(8)), squares(range(8)));
      const seen = new Set((await own.map(poolIdentity, range(6), 1)).map((me) => me.name));
      for (const name of seen) assert.match(name, workerName);
    });

    test(
      "a worker that crashes outside its task fails that task with WorkerLostError",
      { ...T, skip: pageLacks("stderr") },
      async () => {
        using stderr = new StderrFile();
        await using own = new ctx.Pool(2);
        const crashed = await failureOf(() => own.apply(poolCrash, [stderr.path]));
        assert.ok(crashed instanceof WorkerLostError, `got ${crashed}`);
        // A spawned worker reports the crash before it exits; a worker thread
        // may be gone before it does (Bun), so there only what it wrote is checked.
        const report = stderr.read();
        if (osProcess || report !== "") {
          assert.match(
            report,
            /^Process \w+PoolWorker-\d+:\n(Uncaught )?Error: poolCrash: an uncaught error outside/,
          );
        }
        assert.deepEqual(await own.map(poolSquare, [1, 2, 3]), [1, 4, 9]);
      },
    );

    test("workers that keep dying at start-up make the pool fail clearly", {
      ...T,
      skip: pageLacks("stderr"),
    }, async () => {
      const q = new ctx.Queue<unknown>();
      const others = new Set(activeChildren());
      // Every Process object made in this process takes the next number of
      // one counter: made (not started) before and after, two tell how many
      // workers the pool made in between.
      const nextNumber = () => Number(new ctx.Process().name.split("-")[1]);
      const first = nextNumber();
      using stderr = new StderrFile();
      const own = new ctx.Pool({
        processes: 2,
        initializer: poolFailingInit,
        initargs: [q, stderr.path],
      });
      try {
        const r = own.applyAsync(poolSquare, [2]);
        const error = await failureOf(() => r.get());
        assert.ok(error instanceof ProcessError, `got ${error}`);
        // The last worker's own error, as it told the pool, is said and is the cause.
        assert.match(
          error.message,
          /keep dying at start-up \(3 in a row, last exit code 1\): the last one failed with Error: poolFailingInit fails on purpose/,
        );
        assert.ok(error.cause instanceof Error, `cause: ${error.cause}`);
        assert.equal(error.cause.message, "poolFailingInit fails on purpose");
        const later = await failureOf(() => own.apply(poolSquare, [3]));
        assert.ok(later instanceof ProcessError, "later work fails too");
        // Every worker the pool started has ended (each reported "start" first).
        await waitFor(
          () => activeChildren().every((p) => others.has(p) || !p.isAlive()),
          "the pool's workers to end",
        );
        const starts = (await takeRest(q)).length;
        assert.ok(starts >= 2 && starts <= 8, `${starts} workers started`);
        // The workers printed their initializer's error (one may be ended before it does).
        const reports = stderr.read().match(
          /^Process \w+PoolWorker-\d+:\n.*poolFailingInit fails/gm,
        );
        assert.ok((reports?.length ?? 0) >= 1, stderr.read());
        // A window for a wrong restart to show, not a synchronisation: under load
        // it can only miss one, never fail a pool that started none.
        await new Promise((resolve) => setTimeout(resolve, 700));
        assert.deepEqual(await takeRest(q), [], "no worker started after the pool gave up");
        // Two workers, and one for each of the first two that died: the
        // third death gives up, and the worker it kills is not replaced.
        assert.equal(nextNumber() - first - 1, 4, "workers the pool made");
      } finally {
        await own.terminate();
        q.close();
      }
    });

    test(
      "workers killed by a signal while they start do not break the pool",
      T,
      async () => {
        // Only a worker that ends by itself before it is ready (its module or
        // initializer failed) counts towards "keep dying at start-up".
        const q = new ctx.Queue<unknown>();
        const own = new ctx.Pool({
          processes: 2,
          initializer: poolSlowInit,
          initargs: [q, 1_500],
          maxtasksperchild: 10,
        });
        try {
          const mapped = own.map(poolSquare, range(30), 1);
          // A pool that gave up fails the map: that error ends the test at once.
          const gaveUp = mapped.then(() => {
            throw new Error("the map finished while every worker was being killed");
          });
          for (let kills = 0; kills < 6; kills++) {
            const [tag, ident] = (await Promise.race([
              q.get({ timeout: 20_000 }),
              gaveUp,
            ])) as [string, number];
            assert.equal(tag, "init");
            killWorker(startMethod, ident);
          }
          assert.deepEqual(await mapped, squares(range(30)));
          assert.deepEqual(await own.map(poolSquare, range(8), 1), squares(range(8)));
        } finally {
          await own.terminate();
          q.close();
        }
      },
    );

    test(
      "tasks caught by a worker's exit fail with WorkerLostError, never a closed-pipe error",
      T,
      async () => {
        // Tasks sent while a worker exits (here by exit() in a task) used to
        // meet its closed pipe and fail with OSError; those never reached it.
        await using own = new ctx.Pool(2);
        for (let round = 0; round < 10; round++) {
          const results = range(200).map((i) =>
            (i % 50 === 25 ? own.applyAsync(poolExit, [3]) : own.applyAsync(poolSquare, [i]))
              .get().then(
                (value) => ({ i, value, error: null as unknown }),
                (error: unknown) => ({ i, value: null, error }),
              )
          );
          for (const { i, value, error } of await Promise.all(results)) {
            if (error === null) assert.equal(value, i * i);
            else assert.ok(error instanceof WorkerLostError, `task ${i} failed with ${error}`);
          }
        }
        assert.deepEqual(await own.map(poolSquare, range(8), 1), squares(range(8)));
      },
    );

    test(
      "chaos: workers killed at random under maxtasksperchild; every result is right or " +
        "WorkerLostError, and the pool serves on",
      { timeout: 180_000, skip: pageLacks("fastStart") },
      async () => {
        // Under "spawn" a worker is SIGKILLed from outside by its pid, as the
        // OOM killer or an operator would; under "worker" there is no OS
        // process to signal, so it is killed with the library's own kill().
        const KILLS = 30;
        const MAX_WAVES = 40;
        const others = new Set(activeChildren());
        const own = new ctx.Pool({ processes: 2, maxtasksperchild: 10 });
        const mine = () => activeChildren().filter((p) => !others.has(p) && p.isAlive());
        const killed: number[] = [];
        let ok = 0;
        let lost = 0;
        try {
          // On a loaded machine every victim may still be starting (no task
          // lost): the chaos goes on until it has caught one in a task too.
          const killer = (async () => {
            while (killed.length < KILLS || (lost === 0 && killed.length < 10 * KILLS)) {
              // The schedule of the chaos, not a synchronisation: 10-100 ms apart.
              await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 90));
              const live = mine();
              if (live.length === 0) continue;
              const victim = live[Math.floor(Math.random() * live.length)];
              if (osProcess) {
                try {
                  process.kill(victim.pid!, "SIGKILL");
                } catch {
                  continue; // it ended by itself (maxtasksperchild) meanwhile
                }
              } else victim.kill();
              killed.push(victim.pid!);
            }
          })();
          let done = false;
          killer.finally(() => (done = true));
          const check = (error: unknown, what: string) => {
            assert.ok(error instanceof WorkerLostError, `${what} failed with ${error}`);
            lost++;
          };
          for (let wave = 0; (wave < MAX_WAVES || lost === 0) && !done; wave++) {
            const singles = range(60).map((i) =>
              own.applyAsync(poolSlowSquare, [i]).get().then(
                (value) => {
                  assert.equal(value, i * i, `task ${i}`);
                  ok++;
                },
                (error) => check(error, `task ${i}`),
              )
            );
            const maps = range(2).map(() =>
              own.mapAsync(poolSlowSquare, range(20), { chunksize: 2 }).get().then(
                (values) => {
                  assert.deepEqual(values, squares(range(20)));
                  ok++;
                },
                (error) => check(error, "a map"),
              )
            );
            await Promise.all([...singles, ...maps]);
          }
          await killer;
          assert.ok(killed.length >= KILLS, "the chaos ran to its end");
          assert.ok(ok > 0 && lost > 0, `${ok} results right, ${lost} lost: no chaos seen`);
          // After the chaos, a fresh batch all succeeds, on two live workers.
          assert.deepEqual(await own.map(poolSquare, range(100), 1), squares(range(100)));
          assert.deepEqual(
            await own.mapAsync(poolSlowSquare, range(40), { chunksize: 3 }).get(),
            squares(range(40)),
          );
          await waitFor(() => mine().length === 2, "the pool to have two live workers");
        } finally {
          const last = mine();
          await own.terminate();
          if (osProcess) {
            await waitFor(
              () => [...killed, ...last.map((p) => p.pid!)].every((pid) => !pidAlive(pid)),
              "every worker the pool started to be gone",
            );
          }
        }
      },
    );

    // ---------------------------------------------------------- cancellation, timeouts

    test(
      "an aborted task is dropped before it starts and its worker ended while it runs",
      T,
      async () => {
        const q = new ctx.Queue<unknown>();
        await using own = new ctx.Pool({
          processes: 1,
          initializer: poolInit,
          initargs: [q, null],
        });
        try {
          // Aborted before it is submitted: rejected at once with the reason.
          const early = new AbortController();
          early.abort(new Error("aborted early"));
          const before = own.applyAsync(poolReportThenSleep, ["before", 0], {
            signal: early.signal,
          });
          assert.equal(before.ready(), true);
          assert.equal(await failureOf(() => before.get()), early.signal.reason);

          // Aborted while queued behind another task: dropped, never run.
          const blocker = own.applyAsync(poolSleep, [400, "blocker"]);
          const queued = new AbortController();
          const dropped = own.applyAsync(poolReportThenSleep, ["queued", 0], {
            signal: queued.signal,
          });
          queued.abort();
          assert.equal(await failureOf(() => dropped.get()), queued.signal.reason);
          assert.equal(await blocker, "blocker");

          // Aborted while running: rejected, its worker ended and replaced.
          const running = new AbortController();
          const long = own.applyAsync(poolReportThenSleep, ["running", 120_000], {
            signal: running.signal,
          });
          const [[tag, ident]] = (await takeReports(q, 1)) as [string, number][];
          assert.equal(tag, "running", "the task aborted while queued never ran");
          const worker = childWithIdent(ident);
          running.abort(new Error("aborted while running"));
          assert.equal(await failureOf(() => long.get()), running.signal.reason);
          await worker.join();
          assert.equal(worker.isAlive(), false);
          if (osProcess) assert.equal(pidAlive(ident), false);
          const next = await own.apply(poolIdentity);
          assert.notEqual(next.ident, ident, "a new worker serves");
          assert.equal(await own.apply(poolSquare, [5]), 25);
          assert.deepEqual(
            (await takeRest(q)).filter((m) => !(Array.isArray(m) && m[0] === "init")),
            [],
            "nothing else ran",
          );
        } finally {
          q.close();
        }
      },
    );

    test(
      "a task timeout counts from the task's start and replaces a worker that overruns",
      T,
      async () => {
        const q = new ctx.Queue<unknown>();
        await using own = new ctx.Pool({
          processes: 1,
          initializer: poolInit,
          initargs: [q, null],
        });
        try {
          // Waits 600 ms in the queue, then runs 100 ms of its 400 ms allowance.
          const t0 = performance.now();
          const blocker = own.applyAsync(poolSleep, [600, "blocker"]);
          const patient = own.applyAsync(poolSleep, [100, "in time"], { timeout: 400 });
          assert.equal(await patient, "in time");
          assert.ok(performance.now() - t0 >= 700 - TIMER_SLACK_MS);
          assert.equal(await blocker, "blocker");

          const t1 = performance.now();
          const overrun = own.applyAsync(poolReportThenSleep, ["overrun", 120_000], {
            timeout: 300,
          });
          const [[, ident]] = (await takeReports(q, 1)) as [string, number][];
          const error = await failureOf(() => overrun.get());
          assert.ok(error instanceof TimeoutError, `got ${error}`);
          assert.ok(performance.now() - t1 >= 300 - TIMER_SLACK_MS);
          assert.notEqual((await own.apply(poolIdentity)).ident, ident, "the worker was replaced");
          assert.equal(await own.apply(poolSquare, [6]), 36);
        } finally {
          q.close();
        }
      },
    );

    // ---------------------------------------------------------- worker lifetime

    test("maxtasksperchild replaces each worker after that many tasks", T, async () => {
      await using own = new ctx.Pool({ processes: 2, maxtasksperchild: 2 });
      const idents: unknown[] = [];
      for (let i = 0; i < 8; i++) idents.push((await own.apply(poolIdentity)).ident);
      const mapped = await own.map(poolIdentity, range(12), 1);
      idents.push(...mapped.map((me) => me.ident));
      const counts = new Map<unknown, number>();
      for (const ident of idents) counts.set(ident, (counts.get(ident) ?? 0) + 1);
      for (const [ident, n] of counts) assert.ok(n <= 2, `worker ${ident} ran ${n} tasks`);
      assert.ok(counts.size >= 10, `20 tasks ran in only ${counts.size} workers`);
      for (const me of mapped) assert.match(me.name, workerName);
    });

    test("close() and join() with maxtasksperchild finish every queued task", T, async () => {
      const own = new ctx.Pool({ processes: 2, maxtasksperchild: 1 });
      try {
        const results = range(6).map((i) => own.applyAsync(poolSleep, [50, i]));
        own.close();
        await own.join();
        for (const [i, r] of results.entries()) assert.equal(await r.get(0), i);
      } finally {
        await own.terminate();
      }
    });
  });
}
