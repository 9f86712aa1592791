/**
 * Functions and classes that children run in the Process contract. They are
 * exported (and re-exported by the contract) so a child finds them by name.
 */
import process from "node:process";
import { captureStderr } from "./stderr_capture.ts";
import {
  activeChildren,
  type Connection,
  currentProcess,
  getAllStartMethods,
  getContext,
  getStartMethod,
  parentProcess,
  Pool,
  type Process,
  Process as DefaultProcess,
  type StartMethod,
} from "../../mod.ts";

/** Sends each value, then closes. */
export async function sendBack(conn: Connection, ...values: unknown[]): Promise<void> {
  for (const v of values) await conn.send(v);
  conn.close();
}

/** Sends the arguments it received (positional and kwargs) as one array. */
export async function echoArgs(conn: Connection, ...rest: unknown[]): Promise<void> {
  await conn.send(rest);
  conn.close();
}

/** Sleeps `ms` milliseconds. */
export async function sleeper(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Says "ready", then sleeps until ended. */
export async function readyThenSleep(conn: Connection, ms = 60_000): Promise<void> {
  await conn.send("ready");
  await new Promise((r) => setTimeout(r, ms));
}

/** Throws a RangeError with `message`. */
export function thrower(message: string): never {
  throw new RangeError(message);
}

/** Sends this child's stderr to the file `stderrPath`, then throws a RangeError with `message`. */
export function throwerCapturing(stderrPath: string, message: string): never {
  captureStderr(stderrPath);
  throw new RangeError(message);
}

/** Exits with `code` through node:process (Deno and Bun both have it). */
export function exiter(code: number): void {
  process.exit(code);
}

/** Ignores SIGTERM, says "ready", then sleeps. */
export async function ignoreSigterm(conn: Connection): Promise<void> {
  process.on("SIGTERM", () => {});
  await conn.send("ready");
  await new Promise((r) => setTimeout(r, 60_000));
}

/** Reports what the child knows about itself and its parent. */
export async function reportIdentity(conn: Connection): Promise<void> {
  const me = currentProcess();
  const parent = parentProcess();
  await conn.send({
    name: me.name,
    pid: me.pid,
    ident: me.ident,
    daemon: me.daemon,
    authkey: me.authkey,
    osPid: process.pid,
    parent: parent && { name: parent.name, pid: parent.pid, alive: parent.isAlive() },
  });
  conn.close();
}

/** Starts a grandchild that reports its identity through `conn`; reports the grandchild's name too. */
export async function startGrandchild(conn: Connection, method: StartMethod): Promise<void> {
  const p = new (getContext(method).Process)({ target: reportIdentity, args: [conn] });
  p.start();
  await p.join();
  await conn.send({ grandchildName: p.name, exitcode: p.exitcode });
  conn.close();
}

/** Tries to start a child from a daemon; sends the error's class and message. */
export async function tryToStartChild(conn: Connection, method: StartMethod): Promise<void> {
  try {
    new (getContext(method).Process)({ target: sleeper, args: [1] }).start();
    await conn.send("started");
  } catch (error) {
    await conn.send({ name: (error as Error).name, message: (error as Error).message });
  }
  conn.close();
}

/** Reports how many children are active after starting one and after it ends. */
export async function countChildren(conn: Connection, method: StartMethod): Promise<void> {
  const p = new (getContext(method).Process)({ target: sleeper, args: [300] });
  p.start();
  const during = activeChildren().length;
  await p.join();
  await conn.send([during, activeChildren().length]);
  conn.close();
}

/** What a Greeter says, in the child. */
async function greet(p: Process & { conn: Connection; greeting: string }): Promise<void> {
  await p.conn.send(`${p.greeting} from ${p.name} (${p.constructor.name})`);
  p.conn.close();
}

/**
 * A subclass with its own constructor argument and fields, under "spawn"
 * (under "worker" in a web page, which has no "spawn": the tests that use it skip there).
 */
export class SpawnGreeter
  extends getContext(getAllStartMethods().includes("spawn") ? "spawn" : "worker").Process {
  greeting: string;
  conn: Connection;
  constructor(conn: Connection, greeting: string) {
    super();
    this.conn = conn;
    this.greeting = greeting;
  }
  override run(): Promise<void> {
    return greet(this);
  }
}

/** The same subclass under "worker" (a child finds a subclass by its own name and source). */
export class WorkerGreeter extends getContext("worker").Process {
  greeting: string;
  conn: Connection;
  constructor(conn: Connection, greeting: string) {
    super();
    this.conn = conn;
    this.greeting = greeting;
  }
  override run(): Promise<void> {
    return greet(this);
  }
}

/** The Greeter subclass for each start method. */
export const greeters: Record<StartMethod, typeof SpawnGreeter> = {
  spawn: SpawnGreeter,
  worker: WorkerGreeter,
};

/** Module state the memory-isolation test checks. */
export const shared = { x: 100 };

/** Sets `shared.x` in the child and reports it. */
export async function setShared(conn: Connection): Promise<void> {
  shared.x = 0;
  await conn.send(shared.x);
  conn.close();
}

/** Doubles a number (passed to a child as a function argument). */
export function double(n: number): number {
  return n * 2;
}

/** Sends `fn(value)`: `fn` arrived as an argument. */
export async function applyTo(
  conn: Connection,
  fn: (n: number) => number,
  value: number,
): Promise<void> {
  await conn.send(fn(value));
  conn.close();
}

/**
 * Says "ready", then keeps counting in `cells[0]` (when given) in one of the
 * ways a child can be busy: a loop that never returns to the event loop
 * ("spin"), a timer ("timer"), or blocked in `Atomics.wait` on `cells[1]`
 * ("wait"; counting again once woken). Never returns.
 */
export async function busyCounting(
  conn: Connection,
  how: "spin" | "timer" | "wait",
  cells: Int32Array | null,
): Promise<never> {
  const counter = cells ?? new Int32Array(new SharedArrayBuffer(8));
  await conn.send("ready");
  if (how === "timer") {
    setInterval(() => Atomics.add(counter, 0, 1), 1);
    return await new Promise<never>(() => {});
  }
  // Let the "ready" frame leave before the event loop stops turning.
  await new Promise((r) => setTimeout(r, 0));
  if (how === "wait") {
    Atomics.add(counter, 0, 1);
    Atomics.wait(counter, 1, 0);
  }
  for (;;) Atomics.add(counter, 0, 1);
}

/** This OS process's pid. */
export function osPid(): number {
  return process.pid;
}

/** Sends this OS process's pid. */
export async function sendOsPid(conn: Connection): Promise<void> {
  await conn.send(process.pid);
  conn.close();
}

/**
 * Reports the start method this child sees (`getStartMethod()`, with and
 * without `allowNone`) and whether a `Process` and a `Pool` made here with
 * the defaults run in this OS process.
 */
export async function reportStartMethod(conn: Connection): Promise<void> {
  const p = new DefaultProcess({ target: sendOsPid, args: [conn] });
  p.start();
  await p.join();
  const pool = new Pool(1);
  const poolPid = await pool.apply(osPid);
  pool.close();
  await pool.join();
  await conn.send({
    method: getStartMethod(),
    allowNone: getStartMethod({ allowNone: true }),
    processMethod: p.startMethod,
    poolInThisProcess: poolPid === process.pid,
  });
  conn.close();
}
