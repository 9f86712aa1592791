/**
 * What the benchmark's children run, and the calls that start them.
 *
 * A "spawn" child imports the module that constructed its `Process` and
 * finds its target there, as Python's spawn re-imports `__main__`. Every
 * `new Process` of the suite therefore happens in this module, which imports
 * nothing but the library: a child pays for the library and this file, not
 * for tinybench or the suite.
 *
 * @module
 */

import {
  type Connection,
  type DictProxy,
  getContext,
  type Lock,
  type Pool,
  type Process,
  type Queue,
  type StartMethod,
  type Synchronized,
} from "../mod.ts";

/** The trivial target of the start + join workload. */
export function noop(): void {}

/** Echoes every value back until it receives `null`. */
export async function echo(conn: Connection): Promise<void> {
  for (;;) {
    const value = await conn.recv();
    if (value === null) break;
    await conn.send(value);
  }
  conn.close();
}

/**
 * Counts the bytes of every message; an empty message asks for the count so
 * far (and resets it), a one-byte message ends the child.
 */
export async function sink(conn: Connection): Promise<void> {
  let bytes = 0;
  for (;;) {
    const data = await conn.recvBytes();
    if (data.byteLength === 0) {
      await conn.send(bytes);
      bytes = 0;
    } else if (data.byteLength === 1) break;
    else bytes += data.byteLength;
  }
  conn.close();
}

/** Starts a child running `noop` with `method`, waits for it, and returns its exit code. */
export async function startAndJoin(method: StartMethod): Promise<number | null> {
  const p = new (getContext(method).Process)({ target: noop });
  p.start();
  await p.join();
  return p.exitcode;
}

/** Starts a child running `echo` or `sink` on `conn` with `method`. */
export function startPeer(method: StartMethod, target: "echo" | "sink", conn: Connection): Process {
  const p = new (getContext(method).Process)({
    target: target === "echo" ? echo : sink,
    args: [conn],
  });
  p.start();
  return p;
}

// ------------------------------------------------ children that measure themselves

/** A sampling plan a child follows (the same fields as bench/_measure.ts's `Plan`). */
export interface ChildPlan {
  iterations: number;
  time: number;
  warmup: number;
}

/**
 * Runs `fn` as tinybench's sequential mode would (warm-up iterations, then
 * at least `iterations` samples and `time` ms of them) and returns each
 * sample's latency in ms. Children use this instead of tinybench so that
 * they import nothing but the library and this module.
 */
export async function childSample(fn: () => Promise<void>, plan: ChildPlan): Promise<number[]> {
  for (let i = 0; i < plan.warmup; i++) await fn();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < plan.iterations || total < plan.time) {
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    samples.push(ms);
    total += ms;
  }
  return samples;
}

/** Starts a child running `target(...args)` with `method` (every child of the suite starts here). */
export function startChild(
  method: StartMethod,
  target: (...args: never[]) => unknown,
  args: unknown[],
): Process {
  const p = new (getContext(method).Process)({ target, args });
  p.start();
  return p;
}

// ------------------------------------------------ queues

/**
 * Puts items on `q` when asked: each command `[n, sentinel]` on `conn` puts
 * `0 … n-1`, then `null` when `sentinel`; `null` ends the child.
 */
export async function producer(conn: Connection, q: Queue<number | null>): Promise<void> {
  for (;;) {
    const command = await conn.recv() as [number, boolean] | null;
    if (command === null) break;
    const [n, sentinel] = command;
    for (let i = 0; i < n; i++) await q.put(i);
    if (sentinel) await q.put(null);
  }
  conn.close();
}

/**
 * Gets items from `q` when asked: each command on `conn` gets items until a
 * `null` and answers how many there were; `null` ends the child.
 */
export async function consumer(conn: Connection, q: Queue<number | null>): Promise<void> {
  for (;;) {
    const command = await conn.recv();
    if (command === null) break;
    let count = 0;
    while ((await q.get()) !== null) count++;
    await conn.send(count);
  }
  conn.close();
}

// ------------------------------------------------ locks and values

/** Measures `ops` uncontended acquire + release pairs per sample and sends the samples. */
export async function lockLoop(
  conn: Connection,
  lock: Lock,
  ops: number,
  plan: ChildPlan,
): Promise<void> {
  const samples = await childSample(async () => {
    for (let i = 0; i < ops; i++) {
      await lock.acquire();
      await lock.release();
    }
  }, plan);
  await conn.send(samples);
  conn.close();
}

/**
 * Increments `value` under its lock when asked: each command `n` on `conn`
 * runs `n` times Python's `with v.get_lock(): v.value += 1`, then answers;
 * `null` ends the child.
 */
export async function incrementer(conn: Connection, value: Synchronized): Promise<void> {
  const lock = value.getLock()!;
  for (;;) {
    const n = await conn.recv() as number | null;
    if (n === null) break;
    for (let i = 0; i < n; i++) {
      await lock.acquire();
      try {
        await value.set(Number(await value.get()) + 1);
      } finally {
        await lock.release();
      }
    }
    await conn.send(n);
  }
  conn.close();
}

// ------------------------------------------------ managers

/** Measures one `d.set("k", i)` + `d.get("k")` pair per sample and sends the samples. */
export async function dictPairs(conn: Connection, d: DictProxy, plan: ChildPlan): Promise<void> {
  let i = 0;
  const samples = await childSample(async () => {
    await d.set("k", ++i);
    if (await d.get("k") !== i) throw new Error("the manager's dict answered something else");
  }, plan);
  await conn.send(samples);
  conn.close();
}

// ------------------------------------------------ pools

/** The trivial task of the pool workloads. */
export function square(x: number): number {
  return x * x;
}

/** The CPU-bound task: the sum of `i * i` for `lo <= i < hi`. */
export function sumSquares(lo: number, hi: number): number {
  let sum = 0;
  for (let i = lo; i < hi; i++) sum += i * i;
  return sum;
}

/**
 * A pool of `processes` workers started with `method`. Pools are made and
 * called here so that their workers look for `square` and `sumSquares` in
 * this module, the nearest caller (and import nothing else).
 *
 * The helpers that call the pool are async functions on purpose: on Bun,
 * JavaScriptCore drops the frame of a strict-mode tail call (and Bun's
 * transpiler turns `const r = f(); return r;` into `return f();`), so a
 * plain `return pool.map(...)` hides this module from the stack the pool
 * reads, and its workers would import the caller's module instead (the
 * whole suite). A call in an async function is never a tail call.
 */
export function newPool(method: StartMethod, processes: number): Pool {
  return new (getContext(method).Pool)(processes);
}

/** `pool.map(square, items, chunksize)`. */
export async function mapSquares(
  pool: Pool,
  items: number[],
  chunksize?: number,
): Promise<number[]> {
  return await pool.map(square, items, chunksize);
}

/** `n` × `pool.applyAsync(square, [i])`, then every `get()`. */
export async function applySquares(pool: Pool, n: number): Promise<number[]> {
  const results = new Array(n);
  for (let i = 0; i < n; i++) results[i] = pool.applyAsync(square, [i]);
  return await Promise.all(results.map((r) => r.get()));
}

/** `sumSquares(0, n)` split in one half per worker. */
export async function sumSquaresSplit(pool: Pool, n: number): Promise<number> {
  const half = Math.floor(n / 2);
  const parts = await pool.starmap(sumSquares, [[0, half], [half, n]]);
  return parts[0] + parts[1];
}

// ------------------------------------------------ memory and large messages

/**
 * The pid of the process that runs it: a pool worker's own under
 * `"spawn"`, the parent's under `"worker"`.
 */
export function workerPid(): number {
  return "Deno" in globalThis
    ? Deno.pid
    : (globalThis as unknown as { process: { pid: number } }).process.pid;
}

let token = 0;

/**
 * `[pid, token]`: the pid of the process that runs it (`workerPid`) and a
 * number drawn once per isolate (a process or a worker thread), which tells
 * the workers of a `"worker"` pool apart.
 */
export function whichWorker(): [number, number] {
  if (token === 0) token = 1 + Math.random();
  return [workerPid(), token];
}

/**
 * Makes sure every worker of `pool` answered: maps `whichWorker` over
 * `4 × processes` one-item tasks until as many different workers answered
 * (for at most 20 s); returns the distinct pids that answered (one under
 * `"worker"`: the parent's).
 */
export async function warmAll(pool: Pool): Promise<number[]> {
  const n = pool.processes;
  const items = Array.from({ length: 4 * n }, (_, i) => i);
  const tokens = new Set<number>();
  const pids = new Set<number>();
  const deadline = performance.now() + 20_000;
  while (tokens.size < n && performance.now() < deadline) {
    for (const [pid, t] of await pool.map(whichWorker, items, 1)) {
      pids.add(pid);
      tokens.add(t);
    }
  }
  if (tokens.size < n) throw new Error(`only ${tokens.size} of the pool's ${n} workers answered`);
  return [...pids];
}

/** Answers the `byteLength` of every `ArrayBuffer` it receives on `conn`; `null` ends the child. */
export async function bufferSink(conn: Connection): Promise<void> {
  for (;;) {
    const value = await conn.recv() as ArrayBuffer | null;
    if (value === null) break;
    await conn.send(value.byteLength);
  }
  conn.close();
}

/**
 * Gets `ArrayBuffer`s from `q` and answers each one's `byteLength` on
 * `conn`; `null` on the queue ends the child.
 */
export async function queueBufferSink(
  conn: Connection,
  q: Queue<ArrayBuffer | null>,
): Promise<void> {
  for (;;) {
    const value = await q.get();
    if (value === null) break;
    await conn.send(value.byteLength);
  }
  conn.close();
}
