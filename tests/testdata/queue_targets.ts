/**
 * The functions the queue contract runs in its children. Each is exported
 * so a child finds it by name in the module that started it (the contract
 * file re-exports this module). Names start with `queue` so they cannot
 * clash with the other contracts' targets in a test file that runs them all.
 *
 * @module
 */

import process from "node:process";
import {
  Empty,
  Full,
  getContext,
  type JoinableQueue,
  type Lock,
  type Queue,
  type SimpleQueue,
  type StartMethod,
  ValueError,
} from "../../mod.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What a child reports about an error it caught: its class (by `instanceof`) and message. */
export interface QueueCaught {
  name: string;
  message: string;
  isFull: boolean;
  isEmpty: boolean;
  isValueError: boolean;
  isTypeError: boolean;
}

function caught(error: unknown): QueueCaught {
  const e = error as Error;
  return {
    name: e?.name,
    message: e?.message,
    isFull: error instanceof Full,
    isEmpty: error instanceof Empty,
    isValueError: error instanceof ValueError,
    isTypeError: error instanceof TypeError,
  };
}

/** Runs `action` and reports how it failed (or `"ok"` when it did not). */
async function attempt(action: () => Promise<unknown>): Promise<QueueCaught | "ok"> {
  try {
    await action();
    return "ok";
  } catch (error) {
    return caught(error);
  }
}

/** The byte at `i` of the pattern the big-value tests send. */
export function queuePatternByte(i: number): number {
  return (i * 31 + 7) & 0xff;
}

/** Puts each item in turn (waiting `delayMs` first), then returns without closing `q`. */
export async function queuePutAll(q: Queue, items: unknown[], delayMs = 0): Promise<void> {
  if (delayMs > 0) await sleep(delayMs);
  for (const item of items) await q.put(item);
}

/** Puts `0 .. count - 1` (each `put` awaited), then ends with `process.exit(code)`. */
export async function queuePutThenExit(q: Queue, count: number, code: number): Promise<void> {
  for (let i = 0; i < count; i++) await q.put(i);
  process.exit(code);
}

/** Puts `0 .. count - 1` without waiting for a reply, then reports the `qsize()` it sees on `results`. */
export async function queuePutThenCount(q: Queue, count: number, results: Queue): Promise<void> {
  for (let i = 0; i < count; i++) await q.put(i);
  await results.put(await q.qsize());
}

/** Puts `{ producer, seq }` for `seq` in `0 .. count - 1`. */
export async function queueProduce(q: Queue, producer: string, count: number): Promise<void> {
  for (let seq = 0; seq < count; seq++) await q.put({ producer, seq });
}

/** Gets until it meets `null`, then puts everything it got, in order, on `results` as one list. */
export async function queueConsume(q: Queue, results: Queue): Promise<void> {
  const got: unknown[] = [];
  for (;;) {
    const item = await q.get();
    if (item === null) break;
    got.push(item);
  }
  await results.put(got);
}

/** Waits `delayMs`, gets one item from `q` and puts it on `results`. */
export async function queueGetOneInto(q: Queue, results: Queue, delayMs: number): Promise<void> {
  await sleep(delayMs);
  await results.put(await q.get());
}

/** Puts `item` on `q` (waiting while it is full), then puts `"put done"` on `results`. */
export async function queuePutThenReport(q: Queue, item: unknown, results: Queue): Promise<void> {
  await q.put(item);
  await results.put("put done");
}

/**
 * Takes `lock` (and says "locked" on `results`), then puts `item` on `q` and
 * reports "put done". A killed child's lock comes free when the queue's owner
 * settles its death, which also drops the put it was blocked in.
 */
export async function queueLockThenPut(
  lock: Lock,
  q: Queue,
  item: unknown,
  results: Queue,
): Promise<void> {
  await lock.acquire();
  await results.put("locked");
  await q.put(item);
  await results.put("put done");
}

/** Puts `"first"` on `q` and `"ready"` on `ready`, then sleeps until killed. */
export async function queueProduceThenHang(q: Queue, ready: Queue): Promise<void> {
  await q.put("first");
  await ready.put("ready");
  await sleep(60_000);
}

/** Puts `first` on `q`, makes sure it arrived, then waits in `q.get()` (and tells `ready`) until killed. */
export async function queuePutThenWaitInGet(q: Queue, ready: Queue): Promise<void> {
  await q.put("first");
  await q.qsize(); // a round trip: the put has reached the queue
  const waiting = q.get();
  await ready.put("waiting in get");
  await waiting;
  await ready.put("the get returned, which it must not");
}

/** On a full `full` and an empty `empty`, tries every failing call and reports how each failed. */
export async function queueErrorsInChild(
  full: Queue,
  empty: Queue,
  results: Queue,
): Promise<void> {
  const report = {
    putNowait: await attempt(() => full.putNowait("x")),
    putNoBlock: await attempt(() => full.put("x", { block: false })),
    putTimeout: await attempt(() => full.put("x", { timeout: 100 })),
    getNowait: await attempt(() => empty.getNowait()),
    getTimeout: await attempt(() => empty.get({ timeout: 100 })),
    symbol: await attempt(() => empty.put({ deep: [Symbol("no")] })),
    sizes: {
      fullQsize: await full.qsize(),
      fullFull: await full.full(),
      fullEmpty: await full.empty(),
      emptyQsize: await empty.qsize(),
      emptyEmpty: await empty.empty(),
      emptyFull: await empty.full(),
      maxsize: full.maxsize,
    },
  };
  await results.put(report);
}

/** Closes its handle of `q`, then reports how `put` and `get` fail and what `joinThread` does. */
export async function queueUseAfterClose(q: Queue, results: Queue): Promise<void> {
  const beforeClose = await attempt(() => q.joinThread());
  await q.put("before close");
  q.close();
  await results.put({
    beforeClose,
    put: await attempt(() => q.put("after close")),
    get: await attempt(() => q.get()),
    joinThread: await attempt(() => q.joinThread()),
  });
}

/**
 * Puts `count` items of `size` bytes into `q`, which nobody reads, calls
 * `cancelJoinThread()` and closes its handle, then reports that
 * `joinThread()` returned; the child then exits.
 */
export async function queueFillCancelAndExit(
  q: Queue,
  results: Queue,
  count: number,
  size: number,
): Promise<void> {
  for (let i = 0; i < count; i++) await q.put(new Uint8Array(size).fill(i % 256));
  q.cancelJoinThread();
  q.close();
  await q.joinThread();
  await results.put("joinThread returned");
}

/** Passes both queues to a grandchild that answers on `outbox`, then reports the grandchild's end. */
export async function queueRelayToGrandchild(
  inbox: Queue,
  outbox: Queue,
  method: StartMethod,
): Promise<void> {
  const p = new (getContext(method).Process)({
    target: queueGrandchildAnswer,
    args: [inbox, outbox],
  });
  p.start();
  await p.join();
  await outbox.put(`grandchild exitcode ${p.exitcode}`);
}

/** Gets one item from `inbox` and puts `"<item> back"` on `outbox`. */
export async function queueGrandchildAnswer(inbox: Queue, outbox: Queue): Promise<void> {
  const item = await inbox.get();
  await outbox.put(`${item} back`);
}

/** Gets items until `null`; for each one puts it on `done` and calls `taskDone()` after `delayMs`. */
export async function queueTaskWorker(
  jq: JoinableQueue,
  done: Queue,
  delayMs: number,
): Promise<void> {
  for (;;) {
    const item = await jq.get();
    await sleep(delayMs);
    if (item !== null) await done.put(item);
    await jq.taskDone();
    if (item === null) return;
  }
}

/** Waits in `jq.join()` and puts `"joined"` on `results` when it returns. */
export async function queueJoinThenReport(jq: JoinableQueue, results: Queue): Promise<void> {
  await jq.join();
  await results.put("joined");
}

/** Gets every item `jq` holds, calls `taskDone()` once per item and once more; reports the extra one. */
export async function queueTaskDoneTooMany(
  jq: JoinableQueue,
  count: number,
  results: Queue,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await jq.get();
    await jq.taskDone();
  }
  await results.put(await attempt(() => jq.taskDone()));
}

/** Puts a `size`-byte Uint8Array holding {@linkcode queuePatternByte}. */
export async function queuePutBig(q: Queue, size: number): Promise<void> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = queuePatternByte(i);
  await q.put(bytes);
}

/** Gets a big Uint8Array, checks the pattern, and reports its length and first wrong byte (-1: none). */
export async function queueCheckBig(q: Queue, results: Queue): Promise<void> {
  const bytes = await q.get() as Uint8Array;
  let wrong = -1;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== queuePatternByte(i)) {
      wrong = i;
      break;
    }
  }
  await results.put({ isUint8Array: bytes instanceof Uint8Array, length: bytes.length, wrong });
}

/** Gets one item from `inbox` and puts the same value on `outbox`. */
export async function queueEchoOne(inbox: Queue, outbox: Queue): Promise<void> {
  await outbox.put(await inbox.get());
}

/** Gets from a SimpleQueue until `null`, putting each item doubled on `out`. */
export async function queueSimpleDoubler(inbox: SimpleQueue, out: SimpleQueue): Promise<void> {
  for (;;) {
    const item = await inbox.get() as number | null;
    if (item === null) break;
    await out.put(item * 2);
  }
  await out.put(await inbox.empty());
}

/** Makes a queue, lets its own child put on it, and reports what that queue then holds. */
export async function queueOwnQueueWithGrandchild(out: Queue, method: StartMethod): Promise<void> {
  using mine = new (getContext(method).Queue)<string>();
  const p = new (getContext(method).Process)({
    target: queuePutAll,
    args: [mine, ["gc 1", "gc 2"]],
  });
  p.start();
  await p.join();
  const qsize = await mine.qsize();
  const items = [await mine.getNowait(), await mine.getNowait()];
  await out.put({ exitcode: p.exitcode, qsize, items });
}

/** Makes a queue holding `"inside"`, puts it on `out`, then sleeps until killed. */
export async function queueSendOwnQueue(out: Queue, method: StartMethod): Promise<void> {
  const mine = new (getContext(method).Queue)<string>();
  await mine.put("inside");
  await out.put(mine);
  await sleep(60_000);
}

async function waitForGo(flag: Int32Array): Promise<void> {
  Atomics.add(flag, 0, 1);
  while (Atomics.load(flag, 0) < 10) await new Promise((r) => setTimeout(r, 1));
}

/** Says it runs, waits for the go, then puts `0 .. n - 1`. */
export async function queueRingProducer(
  q: Queue<number>,
  flag: Int32Array,
  n: number,
): Promise<void> {
  await waitForGo(flag);
  for (let i = 0; i < n; i++) await q.put(i);
}

/** Says it runs, waits for the go, gets `n` items in order, then flags 11 and wakes the parent. */
export async function queueRingConsumer(
  q: Queue<number>,
  flag: Int32Array,
  n: number,
): Promise<void> {
  await waitForGo(flag);
  for (let i = 0; i < n; i++) {
    const got = await q.get({ timeout: 9_000 });
    if (got !== i) throw new Error(`expected ${i}, got ${got}`);
  }
  Atomics.store(flag, 0, 11);
  Atomics.notify(flag, 0);
}
