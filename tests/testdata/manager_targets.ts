/**
 * What the manager contract runs in its children, and the types it
 * registers on its own managers. Everything is exported so a child (and a
 * manager's server process) finds it by name in the module that started it
 * (the contract file re-exports this module). Names start with `mgr` so
 * they cannot clash with the other contracts' targets.
 *
 * @module
 */

import process from "node:process";
import {
  type Address,
  type Barrier,
  BaseManager,
  type BoundedSemaphore,
  Client,
  type Condition,
  type Connection,
  type DictProxy,
  type Event,
  type JoinableQueue,
  KeyError,
  type ListProxy,
  type Lock,
  type NamespaceProxy,
  type Queue,
  type RLock,
  type Semaphore,
  type Synchronized,
  type SynchronizedArray,
  SyncManager,
  ValueError,
} from "../../mod.ts";
import { captureStderr } from "./stderr_capture.ts";
import type { AutoProxy } from "../../mod.ts";

/** What a child reports about an error it caught: its class (by `instanceof`) and message. */
export interface MgrCaught {
  name: string;
  message: string;
  isKeyError: boolean;
  isRangeError: boolean;
  isValueError: boolean;
  isTypeError: boolean;
}

function caught(error: unknown): MgrCaught {
  const e = error as Error;
  return {
    name: e?.name,
    message: e?.message,
    isKeyError: error instanceof KeyError,
    isRangeError: error instanceof RangeError,
    isValueError: error instanceof ValueError,
    isTypeError: error instanceof TypeError,
  };
}

/** Runs `action` and reports how it failed (or `"ok"` when it did not). */
async function attempt(action: () => Promise<unknown>): Promise<MgrCaught | "ok"> {
  try {
    await action();
    return "ok";
  } catch (error) {
    return caught(error);
  }
}

// ---------------------------------------------------------------- children

/** One of ten writers: appends `i` to the list and sets `d[i] = i * i`. */
export async function mgrRecord(d: DictProxy<number, number>, l: ListProxy<number>, i: number) {
  await l.append(i);
  await d.set(i, i * i);
}

/** Reaches a list stored inside a dict, appends to it, and stores a dict in the list. */
export async function mgrTouchNested(outer: DictProxy<string, unknown>, pid: number) {
  const inner = await outer.get("inner") as ListProxy<unknown>;
  await inner.append("from child");
  const deeper = await inner.get(0) as DictProxy<string, unknown>;
  await deeper.set("child", pid);
}

/** Reports how each mistake made through proxies fails in the child. */
export async function mgrErrorsInChild(
  conn: Connection,
  d: DictProxy<string, number>,
  l: ListProxy<number>,
  ns: NamespaceProxy,
): Promise<void> {
  await conn.send({
    dictDelete: await attempt(() => d.delete("missing")),
    dictPop: await attempt(() => d.pop("missing")),
    listGet: await attempt(() => l.get(99)),
    listRemove: await attempt(() => l.remove(42)),
    nsGet: await attempt(() => ns.get("missing")),
  });
  conn.close();
}

/** Uses every primitive a SyncManager makes, from a child. */
export async function mgrUsePrimitives(
  conn: Connection,
  q: Queue<string>,
  jq: JoinableQueue<number>,
  lock: Lock,
  rlock: RLock,
  sem: Semaphore,
  bsem: BoundedSemaphore,
  ev: Event,
  v: Synchronized,
  arr: SynchronizedArray,
  ns: NamespaceProxy,
): Promise<void> {
  await q.put("from child");
  let total = 0;
  for (let i = 0; i < 3; i++) {
    total += await jq.get();
    await jq.taskDone();
  }
  await lock.acquire();
  await lock.release();
  await rlock.acquire();
  await rlock.acquire();
  await rlock.release();
  await rlock.release();
  await sem.acquire();
  await sem.release();
  await bsem.acquire();
  await bsem.release();
  const overRelease = await attempt(() => bsem.release());
  const eventSeen = await ev.wait(10_000);
  await v.set(Number(await v.get()) + 1);
  await arr.set(1, 42);
  await ns.set("child", "was here");
  await conn.send({ total, overRelease, eventSeen });
  conn.close();
}

/** Adds 1 to `v`, `times` times, each under `lock`. */
export async function mgrLockedIncrements(v: Synchronized, lock: Lock, times: number) {
  for (let i = 0; i < times; i++) {
    await using _ = await lock.hold();
    const x = Number(await v.get());
    await v.set(x + 1);
  }
}

/** Sets `flag` in the namespace under the condition and notifies. */
export async function mgrNotify(cond: Condition, ns: NamespaceProxy) {
  await using _ = await cond.hold();
  await ns.set("flag", true);
  await cond.notifyAll();
}

/** Waits at the barrier and reports the arrival index. */
export async function mgrBarrierWait(conn: Connection, barrier: Barrier) {
  await conn.send(await barrier.wait(20_000));
  conn.close();
}

/** Times `n` pairs of `d.set` + `d.get` from this child; sends microseconds per pair. */
export async function mgrLatency(conn: Connection, d: DictProxy<string, number>, n: number) {
  for (let i = 0; i < 20; i++) await d.set("warm", i); // open the channel, warm up
  const start = performance.now();
  let last = -1;
  for (let i = 0; i < n; i++) {
    await d.set("k", i);
    last = await d.get("k") as number;
  }
  const micros = (performance.now() - start) * 1000 / n;
  await conn.send({ micros, last });
  conn.close();
}

/** Calls a registered type's proxy in the child and reports the results. */
export async function mgrUseCounter(conn: Connection, counter: AutoProxy) {
  await counter.increment(5);
  const value = await counter.value();
  const failure = await attempt(() => counter.fail("child"));
  await conn.send({ value, failure, hidden: typeof counter._secret });
  conn.close();
}

/** Sets a key through a proxy (a fresh connection from a new process). */
export async function mgrSetKey(d: DictProxy<string, unknown>, key: string, value: unknown) {
  await d.set(key, value);
}

/** Connects to a Listener, echoes the first message back with this process's pid. */
export async function mgrClientEcho(address: Address, authkey: string): Promise<void> {
  const conn = await Client(address, { authkey });
  const message = await conn.recv();
  await conn.send({ echo: message, pid: process.pid });
  conn.close();
}

// ---------------------------------------------------------------- registered types

/** A user type served by a manager: public methods, one private, an async one. */
export class MgrCounter {
  #n: number;
  constructor(start = 0) {
    this.#n = start;
  }
  increment(by = 1): number {
    this.#n += by;
    return this.#n;
  }
  value(): number {
    return this.#n;
  }
  async later(ms: number): Promise<number> {
    await new Promise((r) => setTimeout(r, ms));
    return this.#n;
  }
  fail(where: string): never {
    throw new RangeError(`counter failed in ${where}`);
  }
  missing(key: string): never {
    throw new KeyError(`'${key}'`);
  }
  /** Returns something that cannot be copied back to the caller. */
  unsendable(): unknown {
    return () => "a function";
  }
  _secret(): string {
    return "should not be reachable";
  }
  pid(): number {
    return process.pid;
  }
  env(name: string): string | undefined {
    return process.env[name];
  }
}

/** Makes a counter (the callable a manager registers). */
export function mgrMakeCounter(start?: number): MgrCounter {
  return new MgrCounter(start);
}

/** A callable that fails while making its object. */
export function mgrMakeBroken(): never {
  throw new Error("the factory refused");
}

/** A callable that returns a primitive, not an object. */
export function mgrMakeNumber(): number {
  return 42;
}

/** A manager for the contract's own types (CPython's `MyManager`). */
export class MgrManager extends BaseManager {}
MgrManager.register("Counter", mgrMakeCounter);
MgrManager.register("Narrow", mgrMakeCounter, { exposed: ["value", "_secret"] });
MgrManager.register("Broken", mgrMakeBroken);
MgrManager.register("Number", mgrMakeNumber);

/** In a manager's server: sends its stderr to the file `path` (see stderr_capture.ts). */
export function mgrCaptureStderr(path: string): { path: string } {
  captureStderr(path);
  return { path };
}

/**
 * A SyncManager whose server a test can tell to send its stderr to a file
 * (`await manager.create("captureStderr", path)`), to read what it reports.
 */
export class MgrStderrManager extends SyncManager {}
MgrStderrManager.register("captureStderr", mgrCaptureStderr);

/** The client side of manager_server.ts: its type ids, without callables. */
export class MgrQueueClient extends BaseManager {}
MgrQueueClient.register("getQueue");
MgrQueueClient.register("Counter");

// ---------------------------------------------------------------- lifetimes

/**
 * Holds `d` (a proxy from its arguments) until told to use it: says
 * "holding", waits for "go", sets `child` and sends back what it reads,
 * then waits for "bye" and ends (its hold goes with it).
 */
export async function mgrHoldThenUse(conn: Connection, d: DictProxy<string, unknown>) {
  await conn.send("holding");
  if (await conn.recv() !== "go") return;
  await d.set("child", process.pid);
  await conn.send(await d.get("seen"));
  await conn.recv();
  conn.close();
}

/** Uses `d` and `l` once, says "holding", then blocks on `conn` until killed. */
export async function mgrHoldUntilKilled(
  conn: Connection,
  d: DictProxy<string, unknown>,
  l: ListProxy<unknown>,
) {
  await d.set("child", process.pid);
  await l.append(process.pid);
  await conn.send("holding");
  await conn.recv();
}
