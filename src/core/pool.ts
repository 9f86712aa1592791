/**
 * `Pool`: a fixed set of worker processes running tasks, as Python's
 * `multiprocessing.Pool` — `apply`, `applyAsync`, `map`, `mapAsync`,
 * `starmap`, `starmapAsync`, `imap`, `imapUnordered` — with CPython's
 * defaults, chunking and error semantics, and where CPython hangs, this
 * pool does not: a worker that dies (killed, crashed, out of memory,
 * `exit()`) fails exactly the tasks it held with `WorkerLostError` and is
 * replaced (only workers that fail at start-up by their own error, not
 * ones killed by a signal, make the pool give up); `terminate()` settles
 * every pending result; a task can be cancelled with an `AbortSignal` or a
 * timeout. As in CPython, a pool left open does not keep the program alive
 * once it is idle: its workers end with the program. Pending results do
 * keep it alive until they settle.
 *
 * @module
 */

import type { StartMethod } from "./host.ts";
import { type Connection, Pipe } from "./connection.ts";
import { checkNotBootstrapping, onChildExit, type Process, processClassFor } from "./process.ts";
import { cpuCount } from "./process.ts";
import { defaultStartMethod } from "./_start_method.ts";
import { OSError, ProcessError, TimeoutError, ValueError, WorkerLostError } from "./errors.ts";
import { type CallableSpec, callerModules, describeCallable } from "./reduction.ts";
import { decode, encode } from "./_wire/codec.ts";
import { getHost } from "./host.ts";
import { holdAlive } from "./_util.ts";
import { Deque } from "./_deque.ts";
import { awaitFromChild, fromChild } from "./_remote.ts";
import type { PoolMessage, PoolReport, PoolTask } from "./_wire/protocol.ts";
import { poolWorkerLoop } from "./_pool_worker.ts";
import type { Arguments, KeywordSplit, MapItem, StarItem, Undeclared } from "./types.ts";

type Fn = (...args: never[]) => unknown;

/**
 * The options of `new Pool({...})`, as Python's keyword arguments, for an
 * initializer with parameters `I`: `initargs` are checked against them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PoolOptions } from "@procs/multiprocessing";
 *
 * function setup(level: number) {
 *   return level;
 * }
 * const options: PoolOptions<[level: number]> = { initializer: setup, initargs: [2] };
 * // @ts-expect-error: setup takes a number
 * const wrong: PoolOptions<[level: number]> = { initializer: setup, initargs: ["2"] };
 * assert.deepEqual([options.initargs, wrong.initargs], [[2], ["2"]]);
 * ```
 */
export type PoolOptions<I extends unknown[] = never[]> = PoolBaseOptions<I> & InitArguments<I>;

/** What the constructor reads of the options, whatever the initializer's parameters. */
interface GivenPoolOptions {
  processes?: number;
  initializer?: Fn | null;
  initargs?: readonly unknown[];
  maxtasksperchild?: number | null;
  context?: { getStartMethod(): StartMethod };
}

/**
 * The `initargs` of a pool whose initializer has parameters `I`: required
 * when it has required parameters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InitArguments } from "@procs/multiprocessing";
 * const some: InitArguments<[level: number]> = { initargs: [1] };
 * const none: InitArguments<[]> = {};
 * assert.deepEqual([some, none], [{ initargs: [1] }, {}]);
 * ```
 */
export type InitArguments<I extends unknown[]> = Undeclared<I> extends true
  ? { initargs?: readonly unknown[] }
  : [] extends I ? { initargs?: Readonly<I> }
  : { initargs: Readonly<I> };

/** What `new Pool({...})` takes besides `initargs` (see {@linkcode PoolOptions}). */
export interface PoolBaseOptions<I extends unknown[] = never[]> {
  /** How many workers (default `cpuCount()`). */
  processes?: number;
  /** Runs once in each worker before its first task, with `initargs`. */
  initializer?: ((...args: I) => unknown) | null;
  /** Replace a worker after it ran this many tasks (a chunk counts as one). */
  maxtasksperchild?: number | null;
  /** The start method of the workers (default: the default start method). */
  context?: { getStartMethod(): StartMethod };
}

/**
 * The options of one task: keyword arguments, callbacks, cancellation and a
 * timeout. `K` is the type of `kwargs` (see {@linkcode ApplyAsyncArguments}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskOptions } from "@procs/multiprocessing";
 * const seen: number[] = [];
 * const options: TaskOptions<number> = { callback: (n) => seen.push(n), timeout: 1000 };
 * options.callback?.(1);
 * assert.deepEqual(seen, [1]);
 * ```
 */
export interface TaskOptions<R, K = Record<string, unknown>> {
  /** Keyword arguments, passed as one trailing object. */
  kwargs?: K;
  /** Called in this process with the result, in completion order. */
  callback?: ((result: R) => unknown) | null;
  /** Called in this process with the error, in completion order. */
  errorCallback?: ((error: unknown) => unknown) | null;
  /** Cancels the task: before it starts it is dropped; while it runs its worker is ended and replaced. */
  signal?: AbortSignal;
  /** Fails the task with `TimeoutError` if it runs longer than this (ms, counted from its start). */
  timeout?: number;
}

/**
 * The arguments after `fn` of `pool.applyAsync(fn, args?, options?)` for a
 * function with parameters `A` and result `R`: `kwargs`, in the options, is
 * allowed when the last parameter takes an object, and `args` then gives
 * the parameters before it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApplyAsyncArguments } from "@procs/multiprocessing";
 * type Params = [a: number, options: { x: number }];
 * const all: ApplyAsyncArguments<Params, number> = [[1, { x: 2 }]];
 * const kw: ApplyAsyncArguments<Params, number> = [[1], { kwargs: { x: 2 } }];
 * assert.equal(all.length + kw.length, 3);
 * ```
 */
export type ApplyAsyncArguments<A extends unknown[], R> = Undeclared<A> extends true
  ? [args?: readonly unknown[], options?: TaskOptions<R>]
  :
    | ([] extends A ? [args?: Readonly<A>, options?: TaskOptions<R, undefined>]
      : [args: Readonly<A>, options?: TaskOptions<R, undefined>])
    | ([KeywordSplit<A>] extends [never] ? never
      : KeywordSplit<A> extends [infer P extends unknown[], infer K]
        ? [args: Readonly<P>, options: TaskOptions<R, K> & { kwargs: K }]
      : never);

/**
 * The options of `mapAsync` / `starmapAsync`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MapOptions } from "@procs/multiprocessing";
 * const options: MapOptions<number> = { chunksize: 2, callback: (all) => assert.ok(all.length) };
 * assert.equal(options.chunksize, 2);
 * ```
 */
export interface MapOptions<R> {
  /** Items per task (default: CPython's `ceil(len / (4 * processes))`). */
  chunksize?: number;
  /** Called with every result, in order, once all are done. */
  callback?: ((result: R[]) => unknown) | null;
  /** Called with the error if a task failed. */
  errorCallback?: ((error: unknown) => unknown) | null;
}

// ---------------------------------------------------------------- results

/** Where a task's error was raised, as its `RemoteTraceback` says. */
const IN_WORKER = "a pool worker";

function reportCallbackError(error: unknown): void {
  getHost().writeStderr(
    `@procs/multiprocessing: a pool callback threw (later results are not affected): ${
      (error as Error)?.stack ?? error
    }\n`,
  );
}

/**
 * The result of `applyAsync` / `mapAsync` (Python's `AsyncResult`). It is
 * also a `PromiseLike`: `await pool.applyAsync(f, [x])` gives the result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Pool } from "@procs/multiprocessing";
 *
 * export function square(x: number) {
 *   return x * x;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool(1);
 *   const r = pool.applyAsync(square, [7]);
 *   assert.equal(await r.get(30_000), 49); // or TimeoutError if not ready within 30 s
 *   assert.equal(r.ready(), true);
 *   assert.equal(r.successful(), true);
 * }
 * ```
 */
export class AsyncResult<R> implements PromiseLike<R> {
  readonly #promise: Promise<R>;
  #resolve!: (value: R) => void;
  #reject!: (reason: unknown) => void;
  #state: "pending" | "ok" | "error" = "pending";

  /** @internal Made by the pool. */
  constructor() {
    this.#promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#promise.catch(() => {}); // a result nobody asks for is not an unhandled rejection
  }

  /** @internal */
  _settle(ok: boolean, value: unknown): void {
    if (this.#state !== "pending") return;
    this.#state = ok ? "ok" : "error";
    if (ok) this.#resolve(value as R);
    else this.#reject(value);
  }

  /**
   * The result; rejects with the task's error. With `timeout` (ms), rejects
   * with `TimeoutError` if not ready by then (the task keeps running).
   */
  get(timeout?: number | null): Promise<R> {
    // Awaited here, a task's error names the caller's line (see _remote.ts).
    if (timeout === undefined || timeout === null || this.#state !== "pending") {
      return awaitFromChild(this.#promise, IN_WORKER);
    }
    return awaitFromChild(this.#timed(timeout), IN_WORKER);
  }

  #timed(timeout: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new TimeoutError(
              `The result was not ready within ${timeout} ms (the task keeps running)`,
            ),
          ),
        Math.max(0, timeout),
      );
      this.#promise.then(resolve, reject).finally(() => clearTimeout(timer));
    });
  }

  /** Waits until the result is ready, or `timeout` ms pass. */
  async wait(timeout?: number | null): Promise<void> {
    try {
      await this.get(timeout);
    } catch {
      // wait() reports nothing: ready() tells
    }
  }

  /** Whether the task has finished. */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /** Whether it finished without error; a `ValueError` before it is ready. */
  successful(): boolean {
    if (this.#state === "pending") {
      throw new ValueError("The result is not ready: call successful() after ready() is true");
    }
    return this.#state === "ok";
  }

  /** Makes the result awaitable. */
  then<T1 = R, T2 = never>(
    onfulfilled?: ((value: R) => T1 | PromiseLike<T1>) | null,
    onrejected?: ((reason: unknown) => T2 | PromiseLike<T2>) | null,
  ): Promise<T1 | T2> {
    return this.#promise.then(onfulfilled, onrejected);
  }
}

// ---------------------------------------------------------------- the pool

interface Job {
  id: number;
  fn: number;
  payload: Uint8Array;
  single: boolean;
  functions: CallableSpec[];
  star: boolean;
  settle: (ok: boolean, value: unknown) => void;
  settled: boolean;
  signal?: AbortSignal;
  timeout?: number;
  timer?: ReturnType<typeof setTimeout>;
  worker?: PoolWorker;
}

interface PoolWorker {
  process: Process;
  conn: Connection;
  inflight: Map<number, Job>;
  known: Set<number>;
  ready: boolean;
  tasksLeft: number;
  exclusive: boolean;
  stopping: boolean;
  killed: boolean;
  /** Its end of the pipe closed: nothing more can be sent to it. */
  closed: boolean;
  listening: Promise<void>;
}

/**
 * The results of a map's chunks as one array. Few chunks are joined by one
 * native `concat` (200k numbers in 2.4 ms on a cold Deno, against 12 ms
 * for a copy loop that has not been optimised yet: a program's first map);
 * many small ones by a loop (`concat` takes them as arguments).
 */
function joinParts(parts: unknown[][]): unknown[] {
  if (parts.length <= 256) return ([] as unknown[]).concat(...parts);
  const out: unknown[] = [];
  for (const part of parts) for (let i = 0; i < part.length; i++) out.push(part[i]);
  return out;
}

/** CPython's default chunk size for `map`: `ceil(len / (4 * workers))`. */
function defaultChunksize(length: number, workers: number): number {
  return Math.max(1, Math.ceil(length / (4 * workers)));
}

/**
 * Pool workers by ident, told when they end. The pool watches its workers
 * through this hook rather than `join()`, and reads them with `poll(null)`
 * rather than a bare `recvBytes()`, because both of those keep the program
 * alive while they wait: an idle pool must not (CPython finalizes a pool
 * left open at exit); its pending results keep the program alive instead.
 */
const poolWorkerExits = new Map<number, () => void>();
onChildExit((ident) => {
  const exited = poolWorkerExits.get(ident);
  poolWorkerExits.delete(ident);
  // Called before the Process records its exit code: resolving here runs
  // the pool's reaction in a later microtask, once `exitcode` is set.
  exited?.();
});

/** How many start-up deaths in a row make the pool give up. */
const MAX_START_FAILURES = 3;

/**
 * A pool of worker processes (Python's `multiprocessing.Pool`).
 *
 * Task functions reach the workers as `Process` targets do: exported from
 * the module that calls the pool (which the workers import; guard your main
 * program with `if (import.meta.main)`), or self-contained. Each call's
 * arguments are checked against the function's parameters and its result
 * takes the function's return type (awaited); `I` is the parameters of the
 * `initializer`, inferred from it (see {@linkcode PoolOptions}).
 *
 * @example Square numbers in four workers
 * ```ts
 * import assert from "node:assert/strict";
 * import { Pool } from "@procs/multiprocessing";
 *
 * export function square(x: number) {
 *   return x * x;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool(4);
 *   assert.deepEqual(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
 *   assert.equal(await pool.applyAsync(square, [7]), 49);
 * }
 * ```
 */
export class Pool<I extends unknown[] = never[]> implements AsyncDisposable {
  readonly #processes: number;
  readonly #initializer: Fn | null;
  readonly #initargs: unknown[];
  readonly #maxtasks: number | null;
  readonly #ProcessClass: typeof Process;
  readonly #method: StartMethod;
  readonly #modules: string[];
  #state: "RUN" | "CLOSE" | "TERMINATE" = "RUN";
  #broken: Error | null = null;
  readonly #workers = new Set<PoolWorker>();
  readonly #queue = new Deque<Job>();
  #nextJob = 1;
  readonly #functions = new Map<string, { id: number; spec: CallableSpec }>();
  readonly #specs = new Map<number, CallableSpec>();
  #startFailures = 0;
  #pending = 0;
  #iterators = 0;
  #releaseAlive: (() => void) | null = null;
  #pumpScheduled = false;
  #idle: (() => void)[] = [];

  /**
   * Starts the workers: `new Pool(4)` or `new Pool({ processes, initializer, initargs, maxtasksperchild, context })`.
   *
   * @throws {ValueError} for `processes < 1` or a `maxtasksperchild` that is not a positive integer
   * @throws {TypeError} for an initializer that is not a function
   * @throws {RuntimeError} in a child still importing the module of its target (a program
   * that makes a pool at its top level, not under `if (import.meta.main)`)
   */
  constructor(options?: number | PoolOptions<I>) {
    checkNotBootstrapping("a Pool");
    const o =
      (typeof options === "number" ? { processes: options } : options ?? {}) as GivenPoolOptions;
    const processes = o.processes ?? cpuCount();
    if (!Number.isInteger(processes) || processes < 1) {
      throw new ValueError(`Number of processes must be at least 1: received ${processes}`);
    }
    if (o.maxtasksperchild !== undefined && o.maxtasksperchild !== null) {
      if (!Number.isInteger(o.maxtasksperchild) || o.maxtasksperchild < 1) {
        throw new ValueError(
          `maxtasksperchild must be a positive integer or null: received ${o.maxtasksperchild}`,
        );
      }
    }
    if (
      o.initializer !== undefined && o.initializer !== null && typeof o.initializer !== "function"
    ) {
      throw new TypeError("initializer must be a function");
    }
    this.#processes = processes;
    this.#initializer = o.initializer ?? null;
    this.#initargs = [...(o.initargs ?? [])];
    this.#maxtasks = o.maxtasksperchild ?? null;
    this.#method = o.context?.getStartMethod() ?? defaultStartMethod()!;
    this.#modules = callerModules();
    this.#ProcessClass = processClassFor(this.#method);
    for (let i = 0; i < processes; i++) this.#spawnWorker();
  }

  /** How many workers the pool keeps. */
  get processes(): number {
    return this.#processes;
  }

  #spawnWorker(): void {
    const [mine, theirs] = Pipe();
    const p = new this.#ProcessClass({
      target: poolWorkerLoop as never,
      args: [theirs, this.#initializer, this.#initargs, this.#maxtasks],
      daemon: true,
    });
    p._useModules(this.#modules);
    p.name = `${this.#method === "spawn" ? "Spawn" : "Worker"}PoolWorker-${
      p.name.split("-").pop()
    }`;
    p.start();
    theirs.close();
    const worker: PoolWorker = {
      process: p,
      conn: mine,
      inflight: new Map(),
      known: new Set(),
      ready: false,
      tasksLeft: this.#maxtasks ?? Infinity,
      exclusive: false,
      stopping: false,
      killed: false,
      closed: false,
      listening: Promise.resolve(),
    };
    const exited = new Promise<void>((resolve) => poolWorkerExits.set(p.ident!, resolve));
    worker.listening = this.#listen(worker);
    this.#workers.add(worker);
    Promise.all([exited, worker.listening]).then(() => this.#onWorkerExit(worker));
  }

  async #listen(worker: PoolWorker): Promise<void> {
    for (;;) {
      let message: PoolReport;
      try {
        // poll(null) waits without keeping the program alive (see
        // poolWorkerExits); recvBytes() then has a message or the end.
        await worker.conn.poll(null);
        // Decoded here with views: each reply is decoded at once.
        message = decode(await worker.conn.recvBytes(), { views: true }) as PoolReport;
      } catch {
        // EOF: the worker is gone and everything it sent was read; until
        // the pool sees it exit, no task may be sent there.
        worker.closed = true;
        return;
      }
      if (message[0] === "ready") {
        worker.ready = true;
        this.#startFailures = 0;
      } else if (message[0] === "done") {
        for (const bytes of message[1]) {
          const [id, ok, value] = decode(bytes) as [number, boolean, unknown];
          const job = worker.inflight.get(id);
          if (!job) continue;
          worker.inflight.delete(id);
          this.#settle(job, ok, ok ? value : fromChild(value, IN_WORKER));
        }
        if (worker.inflight.size === 0) worker.exclusive = false;
      }
      this.#schedulePump();
    }
  }

  #onWorkerExit(worker: PoolWorker): void {
    this.#workers.delete(worker);
    worker.conn.close();
    const code = worker.process.exitcode;
    for (const job of worker.inflight.values()) {
      this.#settle(
        job,
        false,
        new WorkerLostError(
          `Pool worker ${worker.process.name} exited with code ${code} while running this task; the pool replaced it`,
        ),
      );
    }
    worker.inflight.clear();
    // A pool that gave up (see #break) replaces no one: the workers it
    // killed end here too, and must not start new ones.
    if (this.#state === "TERMINATE" || this.#broken) return this.#checkIdle();
    // Only a worker that ended by itself before it was ready says something
    // is wrong with the module or the initializer: one killed by a signal
    // (a negative exit code) while it started says nothing about them.
    if (!worker.ready && !worker.killed && code !== null && code >= 0) {
      if (++this.#startFailures >= MAX_START_FAILURES) {
        // The last worker's own error, as it told the pool, is the cause.
        const failure = worker.process._failure;
        const said = failure === null
          ? "the initializer or the import of your module probably fails; see their stderr"
          : `the last one failed with ${failure.name}: ${failure.message}`;
        this.#break(
          new ProcessError(
            `Pool workers keep dying at start-up (${this.#startFailures} in a row, last exit code ${code}): ${said}`,
            failure === null ? undefined : { cause: fromChild(failure, IN_WORKER) },
          ),
        );
        return;
      }
    }
    const workLeft = this.#queue.length > 0 || this.#pending > 0;
    if (this.#state === "RUN" || (this.#state === "CLOSE" && workLeft)) this.#spawnWorker();
    this.#schedulePump();
    this.#checkIdle();
  }

  #break(error: Error): void {
    this.#broken = error;
    for (const job of this.#queue.drain()) this.#settle(job, false, error);
    for (const w of this.#workers) {
      w.killed = true;
      w.process.kill();
    }
    this.#checkIdle();
  }

  #settle(job: Job, ok: boolean, value: unknown): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (--this.#pending === 0) {
      this.#releaseAlive?.();
      this.#releaseAlive = null;
    }
    job.settle(ok, value);
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#state === "RUN") return;
    if (this.#state === "CLOSE" && this.#pending === 0 && this.#iterators === 0) {
      for (const w of this.#workers) {
        if (!w.stopping) {
          w.stopping = true;
          w.conn.send(["stop"] satisfies PoolMessage).catch(() => {});
        }
      }
    }
    if (this.#workers.size === 0) { for (const resolve of this.#idle.splice(0)) resolve(); }
  }

  #checkRunning(): void {
    if (this.#broken) throw this.#broken;
    if (this.#state !== "RUN") {
      throw new ValueError(
        "Pool not running: it was closed or terminated; make a new Pool to submit more work",
      );
    }
  }

  readonly #functionIds = new WeakMap<Fn, number>();

  #functionId(fn: Fn): number {
    if (typeof fn !== "function") {
      throw new TypeError(`A pool task must be a function: received ${typeof fn}`);
    }
    // Describing a function reads the call stack: do it once per function.
    const known = this.#functionIds.get(fn);
    if (known !== undefined) return known;
    const spec = describeCallable(fn, callerModules());
    const key = `${spec.modules.join(" ")}\n${spec.name}\n${spec.source}`;
    let entry = this.#functions.get(key);
    if (!entry) {
      entry = { id: this.#functions.size + 1, spec };
      this.#functions.set(key, entry);
      this.#specs.set(entry.id, spec);
    }
    this.#functionIds.set(fn, entry.id);
    return entry.id;
  }

  /**
   * Encodes a task's arguments now (a value that cannot be copied fails
   * this call at once, naming where it sits), with the functions among them.
   */
  #encode(items: unknown, root: string): { payload: Uint8Array; functions: CallableSpec[] } {
    const functions: CallableSpec[] = [];
    const payload = encode(items, {
      describeFunction: (fn) => describeCallable(fn, this.#modules),
      functions,
    }, root);
    return { payload, functions };
  }

  /** Queues one task (one item list, or one args list when `single`). */
  #submit(
    fn: number,
    encoded: { payload: Uint8Array; functions: CallableSpec[] },
    single: boolean,
    star: boolean,
    settle: (ok: boolean, value: unknown) => void,
    control: { signal?: AbortSignal; timeout?: number } = {},
  ): void {
    const job: Job = {
      id: this.#nextJob++,
      fn,
      ...encoded,
      single,
      star,
      settle,
      settled: false,
      ...control,
    };
    if (this.#pending++ === 0) this.#releaseAlive = holdAlive();
    if (job.signal) {
      if (job.signal.aborted) {
        this.#settle(job, false, job.signal.reason);
        return;
      }
      job.signal.addEventListener("abort", () => this.#cancel(job, job.signal!.reason), {
        once: true,
      });
    }
    this.#queue.push(job);
    this.#schedulePump();
  }

  #cancel(job: Job, reason: unknown): void {
    if (job.settled) return;
    const queued = this.#queue.remove(job);
    const worker = job.worker;
    this.#settle(job, false, reason);
    if (worker && !queued) {
      // Running: end its worker (nothing else runs there) and replace it.
      worker.killed = true;
      worker.process.terminate();
    }
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#state === "TERMINATE" || this.#broken) return;
    const ready = [...this.#workers].filter((w) =>
      w.ready && !w.exclusive && !w.stopping && !w.closed && w.tasksLeft > 0
    );
    if (ready.length === 0 || this.#queue.length === 0) return;
    // Few tasks: one at a time per worker, as CPython's workers pull them.
    // Many: batches, so the parent is not a round trip per task.
    // Sized by the whole pool, not the workers ready so far: the first
    // worker up must not take the work of those still starting.
    const cap = this.#queue.length >= 4 * this.#processes
      ? Math.min(64, Math.ceil(this.#queue.length / (2 * this.#processes)))
      : 1;
    // Batched, a worker may hold a second batch while it runs the first, so
    // it never waits for the parent between batches.
    const limit = cap > 1 ? 2 * cap : 1;
    for (const worker of ready) {
      const batch: Job[] = [];
      while (
        this.#queue.length > 0 && batch.length < cap &&
        worker.inflight.size + batch.length < limit &&
        worker.tasksLeft > 0
      ) {
        const job = this.#queue.peek()!;
        const exclusive = job.signal !== undefined || job.timeout !== undefined;
        if (exclusive && (worker.inflight.size > 0 || batch.length > 0)) break;
        this.#queue.shift();
        batch.push(job);
        worker.tasksLeft--;
        if (exclusive) {
          worker.exclusive = true;
          break;
        }
      }
      if (batch.length > 0) this.#dispatch(worker, batch);
      if (this.#queue.length === 0) break;
    }
  }

  #dispatch(worker: PoolWorker, batch: Job[]): void {
    const tasks: PoolTask[] = batch.map((job) => {
      job.worker = worker;
      worker.inflight.set(job.id, job);
      const known = worker.known.has(job.fn);
      worker.known.add(job.fn);
      if (job.timeout !== undefined) {
        job.timer = setTimeout(
          () =>
            this.#cancel(
              job,
              new TimeoutError(
                `The task ran longer than its timeout of ${job.timeout} ms; its worker was replaced`,
              ),
            ),
          Math.max(0, job.timeout),
        );
      }
      return [
        job.id,
        String(job.fn),
        known ? null : this.#specs.get(job.fn)!,
        job.payload,
        job.star,
        job.single,
        job.functions,
      ];
    });
    worker.conn.send(["tasks", tasks] satisfies PoolMessage).catch((error) => {
      if (!(error instanceof OSError)) {
        // The batch could not be encoded: a bug, not a lost worker.
        for (const job of batch) {
          worker.inflight.delete(job.id);
          this.#settle(job, false, error);
        }
        return;
      }
      // The worker's end is gone (it died before the pool saw it exit):
      // the batch never reached it, so it goes back to the front of the
      // queue for the other workers and the replacement.
      worker.closed = true;
      worker.exclusive = false;
      for (const job of batch) {
        worker.inflight.delete(job.id);
        clearTimeout(job.timer);
        job.worker = undefined;
      }
      const waiting = this.#queue.drain();
      for (const job of batch) if (!job.settled) this.#queue.push(job);
      for (const job of waiting) this.#queue.push(job);
      this.#schedulePump();
    });
  }

  /** The task's positional args, with kwargs as a trailing object when given. */
  #args(args: readonly unknown[] | undefined, kwargs?: Record<string, unknown>): unknown[] {
    if (args !== undefined && !Array.isArray(args)) {
      throw new TypeError(`args must be an array: received ${typeof args}`);
    }
    const list = [...(args ?? [])];
    if (kwargs !== undefined) list.push(kwargs);
    return list;
  }

  /**
   * Runs `fn(...args, kwargs?)` in a worker and waits for its result
   * (Python's blocking `apply`). `args` (and `kwargs`) are checked against
   * `fn`'s parameters (see {@linkcode Arguments}); the result has `fn`'s
   * return type, awaited.
   */
  apply<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...argsAndKwargs: Arguments<A>
  ): Promise<Awaited<R>> {
    const [args, kwargs] = argsAndKwargs;
    try {
      return this.#applyAsync(fn as Fn, args, { kwargs } as TaskOptions<Awaited<R>>).get();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Runs `fn(...args, kwargs?)` in a worker; returns at once with an
   * {@linkcode AsyncResult}. `callback`/`errorCallback` run in this process.
   * `args` (and `options.kwargs`) are checked against `fn`'s parameters
   * (see {@linkcode ApplyAsyncArguments}); the result has `fn`'s return
   * type, awaited.
   */
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    ...argsAndOptions: ApplyAsyncArguments<A, Awaited<R>>
  ): AsyncResult<Awaited<R>> {
    const [args, options = {}] = argsAndOptions;
    return this.#applyAsync(fn as Fn, args, options as TaskOptions<Awaited<R>>);
  }

  #applyAsync<R>(
    fn: Fn,
    args: readonly unknown[] | undefined,
    options: TaskOptions<R>,
  ): AsyncResult<R> {
    this.#checkRunning();
    const id = this.#functionId(fn);
    const list = this.#args(args, options.kwargs);
    const encoded = this.#encode(list, "args");
    const result = new AsyncResult<R>();
    const { callback, errorCallback, signal, timeout } = options;
    this.#submit(id, encoded, true, true, (ok, value) => {
      const v = ok ? (value as unknown[])[0] : value;
      result._settle(ok, v);
      try {
        if (ok) callback?.(v as R);
        else errorCallback?.(v);
      } catch (error) {
        reportCallbackError(error);
      }
    }, { signal, timeout });
    return result;
  }

  #materialize(iterable: Iterable<unknown>): unknown[] {
    if (
      iterable === null || typeof (iterable as Iterable<unknown>)[Symbol.iterator] !== "function"
    ) {
      throw new TypeError("map() needs an iterable of items");
    }
    // An array is used as it is: every chunk is encoded before map returns.
    return Array.isArray(iterable) ? iterable : [...iterable];
  }

  #mapAsync<R>(fn: Fn, items: unknown[], star: boolean, options: MapOptions<R>): AsyncResult<R[]> {
    const id = this.#functionId(fn);
    const result = new AsyncResult<R[]>();
    const finish = (ok: boolean, value: unknown) => {
      result._settle(ok, value);
      try {
        if (ok) options.callback?.(value as R[]);
        else options.errorCallback?.(value);
      } catch (error) {
        reportCallbackError(error);
      }
    };
    if (items.length === 0) {
      finish(true, []);
      return result;
    }
    const chunksize = options.chunksize ?? defaultChunksize(items.length, this.#processes);
    if (!Number.isInteger(chunksize) || chunksize < 1) {
      throw new ValueError(`chunksize must be a positive integer: received ${chunksize}`);
    }
    const chunks = Math.ceil(items.length / chunksize);
    const parts: unknown[][] = new Array(chunks);
    // Every chunk is encoded before any is queued: an item that cannot be
    // copied fails the whole call at once and nothing runs.
    const encoded = Array.from(
      { length: chunks },
      (_, c) => this.#encode(items.slice(c * chunksize, (c + 1) * chunksize), "items"),
    );
    let remaining = chunks;
    let firstError: { error: unknown } | null = null;
    for (let c = 0; c < chunks; c++) {
      this.#submit(id, encoded[c], false, star, (ok, value) => {
        if (ok) parts[c] = value as unknown[];
        else firstError ??= { error: value };
        // Like CPython, fail only once every chunk has settled.
        if (--remaining === 0) {
          finish(firstError === null, firstError ? firstError.error : joinParts(parts));
        }
      });
    }
    return result;
  }

  /**
   * Applies `fn` to every item, in chunks, and resolves with the results in
   * order. The items are checked against `fn`'s first parameter.
   */
  map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<MapItem<NoInfer<T>>>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    try {
      return this.mapAsync(fn, iterable, { chunksize }).get();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `map` that returns at once with an {@linkcode AsyncResult}. */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<MapItem<NoInfer<T>>>,
    options: MapOptions<Awaited<R>> = {},
  ): AsyncResult<Awaited<R>[]> {
    this.#checkRunning();
    return this.#mapAsync(fn as Fn, this.#materialize(iterable), false, options);
  }

  /**
   * Like `map`, but each item is an array of arguments: `fn(...item)`,
   * checked against `fn`'s parameters.
   */
  starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<StarItem<A>>,
    chunksize?: number,
  ): Promise<Awaited<R>[]> {
    try {
      return this.starmapAsync(fn, iterable, { chunksize }).get();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `starmap` that returns at once with an {@linkcode AsyncResult}. */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<StarItem<A>>,
    options: MapOptions<Awaited<R>> = {},
  ): AsyncResult<Awaited<R>[]> {
    this.#checkRunning();
    return this.#mapAsync(fn as Fn, this.#materialize(iterable), true, options);
  }

  /**
   * Applies `fn` to every item and yields the results in order, reading
   * the input lazily with bounded look-ahead (an endless generator works).
   */
  imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<MapItem<NoInfer<T>>> | AsyncIterable<MapItem<NoInfer<T>>>,
    chunksize = 1,
  ): AsyncIterableIterator<Awaited<R>> {
    this.#checkRunning();
    return this.#imap(fn as Fn, iterable, chunksize, true) as AsyncIterableIterator<Awaited<R>>;
  }

  /** Like `imap`, but yields each result as soon as it is ready. */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<MapItem<NoInfer<T>>> | AsyncIterable<MapItem<NoInfer<T>>>,
    chunksize = 1,
  ): AsyncIterableIterator<Awaited<R>> {
    this.#checkRunning();
    return this.#imap(fn as Fn, iterable, chunksize, false) as AsyncIterableIterator<Awaited<R>>;
  }

  async *#imap(
    fn: Fn,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number,
    ordered: boolean,
  ): AsyncIterableIterator<unknown> {
    // An iterator made before close() keeps the workers until it is done.
    this.#iterators++;
    try {
      yield* this.#imapItems(fn, iterable, chunksize, ordered);
    } finally {
      this.#iterators--;
      this.#checkIdle();
    }
  }

  async *#imapItems(
    fn: Fn,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number,
    ordered: boolean,
  ): AsyncIterableIterator<unknown> {
    if (!Number.isInteger(chunksize) || chunksize < 1) {
      throw new ValueError(`chunksize must be a positive integer: received ${chunksize}`);
    }
    const id = this.#functionId(fn);
    const iterator = Symbol.asyncIterator in Object(iterable)
      ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (iterable as Iterable<unknown>)[Symbol.iterator]();
    const ahead = 2 * this.#processes;
    type Pending = { promise: Promise<unknown[]>; done: boolean };
    const window: Pending[] = [];
    let exhausted = false;
    let inputError: { error: unknown } | null = null;
    const fill = async () => {
      while (!exhausted && inputError === null && window.filter((p) => !p.done).length < ahead) {
        const items: unknown[] = [];
        try {
          while (items.length < chunksize) {
            const next = await iterator.next();
            if (next.done) {
              exhausted = true;
              break;
            }
            items.push(next.value);
          }
        } catch (error) {
          inputError = { error };
        }
        // As CPython's: the chunk the input failed in is not run (its items
        // before the failure are dropped); the chunks before it are.
        if (inputError !== null || items.length === 0) break;
        if (this.#broken) throw this.#broken;
        if (this.#state === "TERMINATE") {
          throw new ValueError("Pool was terminated while imap() was running");
        }
        const encoded = this.#encode(items, "items");
        const pending: Pending = { promise: Promise.resolve([]), done: false };
        pending.promise = new Promise<unknown[]>((resolve, reject) => {
          this.#submit(id, encoded, false, false, (ok, value) => {
            pending.done = true;
            if (ok) resolve(value as unknown[]);
            else reject(value);
          });
        });
        pending.promise.catch(() => {});
        window.push(pending);
      }
    };
    await fill();
    while (window.length > 0) {
      let next: Pending;
      if (ordered) next = window[0];
      else {
        const index = await Promise.race(window.map((p, i) => p.promise.then(() => i, () => i)));
        next = window[index];
      }
      const values = await next.promise;
      window.splice(window.indexOf(next), 1);
      await fill();
      for (const v of values) yield v;
    }
    if (inputError !== null) throw (inputError as { error: unknown }).error;
  }

  /** Accepts no more work; the workers exit once the queued tasks are done. */
  close(): void {
    if (this.#state === "RUN") this.#state = "CLOSE";
    this.#checkIdle();
  }

  /**
   * Ends the workers at once; every result not yet settled is rejected (a
   * CPython pool leaves them pending forever).
   */
  async terminate(): Promise<void> {
    if (this.#state !== "TERMINATE") {
      this.#state = "TERMINATE";
      const error = new ProcessError("The pool was terminated before this task finished");
      for (const job of this.#queue.drain()) this.#settle(job, false, error);
      for (const w of this.#workers) {
        for (const job of w.inflight.values()) this.#settle(job, false, error);
        w.killed = true;
        w.process.terminate();
      }
    }
    await this.#whenIdle();
  }

  /** Waits for the workers to exit; call `close()` or `terminate()` first. */
  async join(): Promise<void> {
    if (this.#state === "RUN") {
      throw new ValueError("Pool is still running: call close() or terminate() before join()");
    }
    await this.#whenIdle();
  }

  async #whenIdle(): Promise<void> {
    if (this.#workers.size === 0) return;
    // Waiting for the workers keeps the program alive, as a blocking
    // join() does in Python (the pool's own watch does not).
    const release = holdAlive();
    try {
      await new Promise<void>((resolve) => {
        this.#idle.push(resolve);
        this.#checkIdle();
      });
    } finally {
      release();
    }
  }

  /** Terminates the pool (for `await using`, as Python's `with Pool()`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.terminate();
  }
}
