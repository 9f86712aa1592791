/**
 * The functions the pool contract runs in its workers. Each is exported so a
 * worker finds it by name in the module that called the pool (the contract
 * re-exports this module). Names start with `pool` so they cannot clash with
 * the other contracts' targets in a test file that runs them all.
 *
 * Run as a program (`pool_targets.ts <scenario> <startMethod>`): `callbacks`
 * drives a pool whose callbacks throw and prints what it saw as one JSON
 * line, so a test can read the reports those callbacks leave on stderr;
 * `no-top-level-await` uses a pool from an async function nobody awaits.
 *
 * @module
 */

import process from "node:process";
import { captureStderr } from "./stderr_capture.ts";
import {
  activeChildren,
  currentProcess,
  getContext,
  type Queue,
  type StartMethod,
  ValueError,
} from "../../mod.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ------------------------------------------------------------ per-worker state

/** What `poolInit` stored in this worker. */
let initCalls = 0;
let initTag: unknown = undefined;
let reports: Queue<unknown> | null = null;

/**
 * An initializer: counts its calls, keeps `tag`, keeps `queue` for the
 * tasks that report, and reports `["init", ident]` on it.
 */
export async function poolInit(queue: Queue<unknown> | null, tag: unknown): Promise<void> {
  initCalls++;
  initTag = tag;
  reports = queue;
  if (queue) await queue.put(["init", currentProcess().ident]);
}

/** What the initializer left in this worker: how often it ran, its tag, and who this is. */
export function poolInitState(): { initCalls: number; initTag: unknown; ident: number | null } {
  return { initCalls, initTag, ident: currentProcess().ident };
}

/**
 * An initializer that sends its stderr to `stderrPath`, reports `"start"`
 * on `queue` and then fails: the worker dies at start-up.
 */
export async function poolFailingInit(queue: Queue<unknown>, stderrPath: string): Promise<void> {
  captureStderr(stderrPath);
  await queue.put("start");
  throw new Error("poolFailingInit fails on purpose");
}

/**
 * A slow initializer: reports `["init", ident]` on `queue`, then sleeps
 * `ms`, so a test can kill a worker while it is still starting.
 */
export async function poolSlowInit(queue: Queue<unknown>, ms: number): Promise<void> {
  reports = queue;
  await queue.put(["init", currentProcess().ident]);
  await sleep(ms);
}

function report(): Queue<unknown> {
  if (!reports) throw new Error("poolInit was not given a queue in this worker");
  return reports;
}

/** Reports `[tag, ident]` on the initializer's queue, sleeps `ms`, returns this worker's ident. */
export async function poolReportThenSleep(tag: string, ms: number): Promise<number | null> {
  await report().put([tag, currentProcess().ident]);
  await sleep(ms);
  return currentProcess().ident;
}

/** Reports `x` on the initializer's queue; item 0 then throws (and ends its chunk). */
export async function poolRecord(x: number): Promise<number> {
  await report().put(x);
  if (x === 0) throw new RangeError("item 0 fails on purpose");
  return x;
}

// ------------------------------------------------------------ plain tasks

/** `x * x`. */
export function poolSquare(x: number): number {
  return x * x;
}

/** `x * x` after `ms` milliseconds (default 2), for tests that need tasks to take time. */
export async function poolSlowSquare(x: number, ms = 2): Promise<number> {
  await sleep(ms);
  return x * x;
}

/** `a + b`. */
export function poolAdd(a: number, b: number): number {
  return a + b;
}

/** The arguments it received (positional and the trailing kwargs). */
export function poolEchoArgs(...args: unknown[]): unknown[] {
  return args;
}

/** Sleeps `ms`, then returns `value` (or this worker's ident when no value is given). */
export async function poolSleep(ms: number, value?: unknown): Promise<unknown> {
  await sleep(ms);
  return value === undefined ? currentProcess().ident : value;
}

/** `imap` item: sleeps `item[0]` ms, returns `item[1]`. */
export async function poolDelayedEcho(item: [number, unknown]): Promise<unknown> {
  await sleep(item[0]);
  return item[1];
}

/** Who runs this task, as the worker sees itself. */
export function poolIdentity(): {
  name: string;
  pid: number | null;
  ident: number | null;
  daemon: boolean;
  osPid: number;
} {
  const me = currentProcess();
  return { name: me.name, pid: me.pid, ident: me.ident, daemon: me.daemon, osPid: process.pid };
}

/** `map` item: item 0 throws a RangeError at once, the others sleep `ms` and return themselves. */
export async function poolFailFirst(x: number): Promise<number> {
  if (x === 0) throw new RangeError("item 0 fails at once");
  await sleep(150);
  return x;
}

// ------------------------------------------------------------ errors

/** An error class of the user's own, with a field of its own. */
export class PoolCustomError extends Error {
  override name = "PoolCustomError";
  code = 42;
}

/** Throws an error of the kind asked for, with `message`. */
export function poolThrow(kind: string, message: string): never {
  switch (kind) {
    case "RangeError":
      throw new RangeError(message);
    case "TypeError":
      throw new TypeError(message);
    case "ValueError":
      throw new ValueError(message);
    case "custom":
      throw new PoolCustomError(message);
    default:
      throw message; // not an Error at all
  }
}

/** Returns something that cannot be copied back to the parent (a function inside). */
export function poolUncloneable(): { f: () => number } {
  return { f: () => 1 };
}

/** `map` item: item 2 returns something that cannot be copied, the others themselves. */
export function poolUncloneableAt2(x: number): unknown {
  return x === 2 ? { f: () => 1 } : x;
}

// ------------------------------------------------------------ dying workers

/** Ends its worker with `code` in the middle of the task. */
export function poolExit(code: number): void {
  process.exit(code);
}

/**
 * Sends its worker's stderr to `stderrPath`, crashes the worker with an error
 * thrown outside the task, then waits to be noticed; returns "survived" if
 * its worker lived through the crash.
 */
export async function poolCrash(stderrPath: string): Promise<string> {
  captureStderr(stderrPath);
  setTimeout(() => {
    throw new Error("poolCrash: an uncaught error outside the task, on purpose");
  }, 0);
  await sleep(5_000);
  return "survived";
}

// ------------------------------------------------------------ as a program

/** What `callbacks` prints: the results it got and the callbacks that ran, in order. */
export interface PoolCallbackRun {
  results: unknown[];
  calls: unknown[];
}

async function callbacksScenario(method: StartMethod): Promise<void> {
  await using pool = new (getContext(method).Pool)(2);
  const calls: unknown[] = [];
  const first = pool.applyAsync(poolSquare, [3], {
    callback: (v) => {
      calls.push(["throwing callback", v]);
      throw new Error("callback boom on purpose");
    },
  });
  const firstValue = await first;
  const failing = pool.applyAsync(poolThrow, ["RangeError", "task fails"], {
    errorCallback: (e) => {
      calls.push(["throwing errorCallback", (e as Error).message]);
      throw new Error("errorCallback boom on purpose");
    },
  });
  const failed = await failing.then(
    () => "no error",
    (e) => `${(e as Error).name}: ${(e as Error).message}`,
  );
  const mapped = pool.mapAsync(poolSquare, [1, 2, 3], {
    callback: (v) => {
      calls.push(["throwing map callback", v]);
      throw new Error("map callback boom on purpose");
    },
  });
  const mappedValue = await mapped;
  const later = pool.applyAsync(poolSquare, [5], {
    callback: (v) => calls.push(["later callback", v]),
  });
  const laterValue = await later.get(20_000);
  const run: PoolCallbackRun = {
    results: [firstValue, failed, mappedValue, laterValue, await pool.map(poolSquare, [6, 7])],
    calls,
  };
  console.log(JSON.stringify(run));
}

/**
 * Uses a pool from an async function the program does not await at its top
 * level, as event handlers and `main().then()` do: the pending work alone
 * must keep the program alive until the results arrive.
 */
async function withoutTopLevelAwait(method: StartMethod): Promise<void> {
  const pool = new (getContext(method).Pool)(2);
  console.log(`apply ${await pool.apply(poolSleep, [200, 9])}`);
  console.log(`map ${JSON.stringify(await pool.map(poolSquare, [1, 2, 3]))}`);
  await pool.terminate();
  console.log("terminated");
}

/**
 * Leaves a pool open at the end of the program (no close(), terminate() or
 * `using`), as CPython allows: prints the workers' OS pids, then the map's
 * result, and falls off the end. With `pending`, it also awaits an
 * `applyAsync` started last, whose result must still arrive.
 */
async function leftOpen(method: StartMethod, pending: boolean): Promise<void> {
  const pool = new (getContext(method).Pool)(2);
  console.log(`map ${JSON.stringify(await pool.map(poolSquare, [1, 2, 3, 4]))}`);
  const pids = activeChildren().map((p) => p.pid);
  console.log(`pids ${JSON.stringify(pids)}`);
  if (pending) console.log(`apply ${await pool.applyAsync(poolSleep, [300, 11])}`);
  console.log("main done");
}

if (import.meta.main) {
  const [scenario, method] = process.argv.slice(2);
  if (scenario === "callbacks") await callbacksScenario(method as StartMethod);
  else if (scenario === "left-open") await leftOpen(method as StartMethod, false);
  else if (scenario === "left-open-pending") await leftOpen(method as StartMethod, true);
  else if (scenario === "no-top-level-await") void withoutTopLevelAwait(method as StartMethod);
  else throw new Error(`unknown scenario ${scenario}`);
}
