/**
 * The functions the synchronization contract runs in its children. Each is
 * exported so a child finds it by name in the module that started it (the
 * contract file re-exports this module). A child reports through `out`, a
 * bounded `Queue` owned by the parent (a bounded queue's `put` resolves once
 * the item is in the queue, so reports keep their order across processes).
 *
 * @module
 */

import {
  type Barrier,
  type BoundedSemaphore,
  Condition,
  currentProcess,
  type Event,
  type Lock,
  type Queue,
  type RLock,
  type Semaphore,
} from "../../mod.ts";
import { captureStderr } from "./stderr_capture.ts";

/** Something with `acquire` and `release`: a lock, a semaphore or a condition. */
export interface Acquirable {
  acquire(options?: { block?: boolean; timeout?: number | null }): Promise<boolean>;
  release(): Promise<void>;
}

/** How long a child that is meant to be killed waits before giving up on its own. */
const LINGER_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The name of the error `action` rejects with, or null when it succeeds. */
async function errorName(action: () => Promise<unknown>): Promise<string | null> {
  try {
    await action();
    return null;
  } catch (error) {
    return (error as Error).name;
  }
}

// ------------------------------------------------------------------ Lock, RLock

/**
 * `rounds` read-modify-writes of a counter under `lock`: the counter is how
 * many entries `log` holds; each round reads it, pauses, and appends it. With
 * mutual exclusion the entries are 0, 1, 2, ... without a repeat.
 */
export async function syncCountUnderLock(
  lock: Acquirable,
  log: Queue<number>,
  rounds: number,
): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await lock.acquire();
    const seen = await log.qsize();
    await sleep(1);
    await log.put(seen);
    await lock.release();
  }
}

/** Releases `lock` (held by another process) and reports the error's name, or null. */
export async function syncRelease(lock: Acquirable, out: Queue): Promise<void> {
  await out.put(await errorName(() => lock.release()));
}

/**
 * Reports what a non-blocking acquire, a timed acquire (`timeout` ms) and a
 * non-blocking acquire given a long timeout resolve to, and how long the
 * timed one took; releases whatever it got.
 */
export async function syncTryAcquire(lock: Acquirable, out: Queue, timeout: number): Promise<void> {
  const nonBlocking = await lock.acquire({ block: false });
  const start = performance.now();
  const timed = await lock.acquire({ timeout });
  const elapsed = performance.now() - start;
  const nonBlockingWithTimeout = await lock.acquire({ block: false, timeout: 120_000 });
  for (const got of [nonBlocking, timed, nonBlockingWithTimeout]) if (got) await lock.release();
  await out.put({ nonBlocking, timed, elapsed, nonBlockingWithTimeout });
}

/** Says "trying", blocks in `acquire()`, reports what it got and how long it waited, releases. */
export async function syncBlockingAcquire(lock: Acquirable, out: Queue): Promise<void> {
  const start = performance.now();
  await out.put("trying");
  const got = await lock.acquire();
  const waited = performance.now() - start;
  await lock.release();
  await out.put({ got, waited });
}

/**
 * Tries an RLock someone else may hold: reports whether a non-blocking
 * acquire got it and the name of the error a release then gives (null when
 * the release was of its own acquisition).
 */
export async function syncProbeRLock(lock: RLock, out: Queue): Promise<void> {
  const got = await lock.acquire({ block: false });
  const releaseError = await errorName(() => lock.release());
  await out.put({ got, releaseError });
}

/** Acquires `lock`, says "held", releases it when `go` gives a token, says "released". */
export async function syncHoldUntilTold(lock: Acquirable, out: Queue, go: Queue): Promise<void> {
  await lock.acquire();
  await out.put("held");
  await go.get();
  await lock.release();
  await out.put("released");
}

/**
 * Holds `lock` with `await using`: says "in" inside the block, then throws
 * out of it when `go` gives a token; says "out" after the block and waits
 * for one more token before ending.
 */
export async function syncHoldWithUsing(
  lock: Acquirable & { hold(): Promise<AsyncDisposable> },
  out: Queue,
  go: Queue,
): Promise<void> {
  try {
    await using _held = await lock.hold();
    await out.put("in");
    await go.get();
    throw new RangeError("leaving the block by throwing");
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  await out.put("out");
  await go.get();
}

// ------------------------------------------------------------------ dying holders

/** Acquires `lock` `levels` times, says "held", then lingers until killed. */
export async function syncAcquireAndLinger(
  lock: Acquirable,
  out: Queue,
  levels = 1,
): Promise<void> {
  for (let i = 0; i < levels; i++) await lock.acquire();
  await out.put("held");
  await sleep(LINGER_MS);
}

/**
 * Sends its stderr to `stderrPath`, acquires `lock`, says "held", then
 * crashes with an uncaught error.
 */
export async function syncAcquireAndCrash(
  lock: Acquirable,
  out: Queue,
  stderrPath: string,
): Promise<void> {
  captureStderr(stderrPath);
  await lock.acquire();
  await out.put("held");
  throw new RangeError("crashing while holding the lock");
}

/** Says "trying", then blocks in `acquire()` (until killed); says "acquired" if it gets it. */
export async function syncWaitToAcquire(lock: Acquirable, out: Queue): Promise<void> {
  await out.put("trying");
  await lock.acquire();
  await out.put("acquired");
  await sleep(LINGER_MS);
}

// ------------------------------------------------------------------ Semaphore

/** Holds a unit of `sem` for `ms`, logging ["in", id] and ["out", id] while holding it. */
export async function syncSemaphoreHolder(
  sem: Semaphore,
  log: Queue,
  id: number,
  ms: number,
): Promise<void> {
  await sem.acquire();
  await log.put(["in", id]);
  await sleep(ms);
  await log.put(["out", id]);
  await sem.release();
}

/** Takes one unit of `sem` (waiting up to 10 s) and reports whether it got it and the value seen after. */
export async function syncTakeUnit(sem: Semaphore, out: Queue): Promise<void> {
  const got = await sem.acquire({ timeout: 10_000 });
  await out.put({ got, value: await sem.getValue() });
}

/** Gives one unit to `sem` and reports the name of the error, or null. */
export async function syncGiveUnit(sem: Semaphore | BoundedSemaphore, out: Queue): Promise<void> {
  await out.put(await errorName(() => sem.release()));
}

// ------------------------------------------------------------------ Event

/** Says "waiting", waits for `event` and reports what `wait()` gave and how long it waited. */
export async function syncEventWaiter(event: Event, out: Queue): Promise<void> {
  const start = performance.now();
  await out.put("waiting");
  const result = await event.wait();
  await out.put({ result, waited: performance.now() - start });
}

/** Reports `isSet()` and what `wait(timeout)` gives. */
export async function syncEventProbe(event: Event, out: Queue, timeout: number): Promise<void> {
  await out.put({ isSet: await event.isSet(), wait: await event.wait(timeout) });
}

/** Sets `event` after `ms`. */
export async function syncEventSetter(event: Event, ms: number): Promise<void> {
  await sleep(ms);
  await event.set();
}

// ------------------------------------------------------------------ Condition

/**
 * Takes `cond`'s lock, says ["waiting", name] while holding it, waits to be
 * notified, says ["woken", what wait() gave] while holding the lock again,
 * releases.
 */
export async function syncConditionWaiter(cond: Condition, out: Queue): Promise<void> {
  await cond.acquire();
  await out.put(["waiting", currentProcess().name]);
  const notified = await cond.wait();
  await out.put(["woken", notified]);
  await cond.release();
}

/** Takes `cond`'s lock (reports whether it could), notifies one waiter, releases. */
export async function syncConditionNotifier(cond: Condition, out: Queue): Promise<void> {
  const got = await cond.acquire({ timeout: 10_000 });
  await cond.notify();
  await cond.release();
  await out.put(got);
}

/**
 * Under `cond`, waits until `items` holds `n` items and reports what
 * `waitFor` returned and how often the predicate ran.
 */
export async function syncConditionWaitFor(
  cond: Condition,
  items: Queue,
  n: number,
  out: Queue,
): Promise<void> {
  let calls = 0;
  await cond.acquire();
  const result = await cond.waitFor(async () => {
    calls++;
    const size = await items.qsize();
    return size >= n ? `${size} items` : 0;
  });
  await cond.release();
  await out.put({ result, calls });
}

/** Tries to make a Condition over a lock made in another process; reports the error's name. */
export async function syncConditionOverForeignLock(lock: Lock, out: Queue): Promise<void> {
  await out.put(await errorName(() => Promise.resolve().then(() => new Condition(lock))));
}

/** Takes `cond`'s lock, says "waiting", waits (until killed); says "woken" if notified. */
export async function syncConditionWaitAndLinger(cond: Condition, out: Queue): Promise<void> {
  await cond.acquire();
  await out.put("waiting");
  await cond.wait();
  await out.put("woken");
  await sleep(LINGER_MS);
}

// ------------------------------------------------------------------ Barrier

/**
 * Where `syncRecordTrip` writes. A barrier action takes no arguments and
 * runs in whichever party arrives last, so each party points this at the
 * shared queue before it waits.
 */
const tripLog: { queue: Queue<string> | null } = { queue: null };

/** A barrier action: appends this process's name to the trip log. */
export async function syncRecordTrip(): Promise<void> {
  await tripLog.queue!.put(currentProcess().name);
}

/** A barrier action that appends this process's name to the trip log, then hangs (until killed). */
export async function syncHangingAction(): Promise<void> {
  await tripLog.queue!.put(currentProcess().name);
  await sleep(LINGER_MS);
}

/** A barrier action that fails. */
export function syncFailingAction(): never {
  throw new RangeError("the barrier action failed");
}

/**
 * Passes `barrier` `trips` times; after each trip reports the trip, its
 * index and how many entries the trip log holds then.
 */
export async function syncBarrierParty(
  barrier: Barrier,
  trips: number,
  log: Queue<string>,
  out: Queue,
): Promise<void> {
  tripLog.queue = log;
  for (let trip = 0; trip < trips; trip++) {
    const index = await barrier.wait();
    await out.put({ trip, index, logged: await log.qsize() });
  }
}

/**
 * For each token `go` gives, waits at `barrier` once and reports
 * `{ index }` or `{ error, waited }` (the error's name and how long the wait took).
 */
export async function syncBarrierRounds(
  barrier: Barrier,
  rounds: number,
  go: Queue,
  out: Queue,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    await go.get();
    const start = performance.now();
    try {
      await out.put({ round, index: await barrier.wait() });
    } catch (error) {
      await out.put({ round, error: (error as Error).name, waited: performance.now() - start });
    }
  }
}

/**
 * Sends its stderr to `stderrPath` (a worker child killed in the wait may
 * still see the barrier break), then waits at `barrier` (until killed).
 */
export async function syncBarrierWaitAndLinger(
  barrier: Barrier,
  stderrPath: string,
): Promise<void> {
  captureStderr(stderrPath);
  await barrier.wait();
  await sleep(LINGER_MS);
}

/**
 * Says it runs (`flag[0] = 1`), waits for the go (`2`), takes `lock` and
 * releases it, then sets `flag[0] = 3` and wakes whoever waits on it.
 */
export async function syncTakeLockThenFlag(
  lock: Lock | RLock | Semaphore,
  flag: Int32Array,
): Promise<void> {
  Atomics.store(flag, 0, 1);
  while (Atomics.load(flag, 0) !== 2) await new Promise((r) => setTimeout(r, 1));
  await lock.acquire();
  await lock.release();
  Atomics.store(flag, 0, 3);
  Atomics.notify(flag, 0);
}

/** Says it runs (`flag[0] = 1`), waits for the go (`2`), sets `event`, then sets `flag[0] = 3`. */
export async function syncSetEventThenFlag(event: Event, flag: Int32Array): Promise<void> {
  Atomics.store(flag, 0, 1);
  while (Atomics.load(flag, 0) !== 2) await new Promise((r) => setTimeout(r, 1));
  await event.set();
  Atomics.store(flag, 0, 3);
  Atomics.notify(flag, 0);
}
