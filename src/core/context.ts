/**
 * Start methods and contexts, as Python's `get_context` /
 * `set_start_method`: a context holds the library's classes and factories
 * bound to one start method.
 *
 * @module
 */

import type { StartMethod } from "./host.ts";
import { Handoff } from "./_handoff.ts";
import {
  activeChildren,
  cpuCount,
  currentProcess,
  parentProcess,
  Process,
  processClassFor,
} from "./process.ts";
import { Pipe } from "./connection.ts";
import { JoinableQueue, Queue, SimpleQueue } from "./queues.ts";
import {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
} from "./synchronize.ts";
import {
  checkRawAllowed,
  rawArray,
  rawValue,
  SharedArray,
  type Typecode,
  type TypecodeArrays,
  type TypecodeInput,
  Value,
} from "./sharedctypes.ts";
import { getHost } from "./host.ts";
import { Pool, type PoolOptions } from "./pool.ts";
import { Manager, type ManagerOptions, type SyncManager } from "./managers.ts";
import {
  availableStartMethods,
  checkStartMethod,
  defaultStartMethod,
  setDefaultStartMethod,
} from "./_start_method.ts";

export type { StartMethod };

/**
 * The classes and factories of the library bound to one start method
 * (`ctx.Process` starts its children that way).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getContext } from "@procs/multiprocessing";
 * const ctx = getContext("worker");
 * assert.equal(ctx.getStartMethod(), "worker");
 * ```
 */
export class Context {
  readonly #method: StartMethod | null;
  /** `Process`, starting children with this context's start method. */
  readonly Process: typeof Process;
  /** {@linkcode Pipe}. */
  readonly Pipe: typeof Pipe = Pipe;
  /** {@linkcode currentProcess}. */
  readonly currentProcess: typeof currentProcess = currentProcess;
  /** {@linkcode parentProcess}. */
  readonly parentProcess: typeof parentProcess = parentProcess;
  /** {@linkcode activeChildren}. */
  readonly activeChildren: typeof activeChildren = activeChildren;
  /** {@linkcode cpuCount}. */
  readonly cpuCount: typeof cpuCount = cpuCount;
  /** {@linkcode Pool}, its workers started with this context's start method. */
  readonly Pool: typeof Pool;
  /** {@linkcode Queue}. */
  readonly Queue: typeof Queue = Queue;
  /** {@linkcode Manager}, its server started with this context's start method. */
  readonly Manager: (options?: ManagerOptions) => Promise<SyncManager>;
  /** {@linkcode JoinableQueue}. */
  readonly JoinableQueue: typeof JoinableQueue = JoinableQueue;
  /** {@linkcode SimpleQueue}. */
  readonly SimpleQueue: typeof SimpleQueue = SimpleQueue;
  /** {@linkcode Lock}. */
  readonly Lock: typeof Lock = Lock;
  /** {@linkcode RLock}. */
  readonly RLock: typeof RLock = RLock;
  /** {@linkcode Semaphore}. */
  readonly Semaphore: typeof Semaphore = Semaphore;
  /** {@linkcode BoundedSemaphore}. */
  readonly BoundedSemaphore: typeof BoundedSemaphore = BoundedSemaphore;
  /** {@linkcode Event}. */
  readonly Event: typeof Event = Event;
  /** {@linkcode Condition}. */
  readonly Condition: typeof Condition = Condition;
  /** {@linkcode Barrier}. */
  readonly Barrier: typeof Barrier = Barrier;
  /** {@linkcode Value}. */
  readonly Value: typeof Value = Value;
  /** Python's `Array`: {@linkcode SharedArray}. */
  readonly Array: typeof SharedArray = SharedArray;
  /** {@linkcode SharedArray}. */
  readonly SharedArray: typeof SharedArray = SharedArray;

  /**
   * Contexts are made by {@linkcode getContext}.
   *
   * @throws {TypeError} when constructed directly
   */
  constructor() {
    const given = contextMethods.take();
    if (!given) throw new TypeError("Contexts are made by getContext(); do not construct them");
    const method = given.method;
    this.#method = method;
    this.Process = method === null ? Process : processClassFor(method);
    this.Pool = method === null ? Pool : boundPool(this);
    this.Manager = (options = {}) =>
      Manager(method === null ? options : { context: this, ...options });
  }

  /**
   * The start method of this context (the default context answers with the
   * current default).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { getContext } from "@procs/multiprocessing";
   * assert.equal(getContext("spawn").getStartMethod(), "spawn");
   * ```
   */
  getStartMethod(): StartMethod {
    return this.#method ?? defaultStartMethod()!;
  }

  /**
   * Raw shared memory for one value: the typed array itself, no lock.
   * Only the "worker" start method shares memory; elsewhere this throws a
   * `ValueError` that says so.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { getContext } from "@procs/multiprocessing";
   * const flag = getContext("worker").RawValue("i", 0);
   * flag[0] = 1;
   * assert.equal(flag[0], 1);
   * ```
   */
  RawValue<T extends Typecode>(typecode: T, init?: TypecodeInput<T>): TypecodeArrays[T] {
    checkRawAllowed(this.#sharesMemory(), "RawValue");
    return rawValue(typecode, init);
  }

  /**
   * Raw shared memory for an array: the typed array itself, no lock; "worker" only.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { getContext } from "@procs/multiprocessing";
   * const cells = getContext("worker").RawArray("d", 8);
   * assert.equal(cells.length, 8);
   * ```
   */
  RawArray<T extends Typecode>(
    typecode: T,
    sizeOrValues: number | Iterable<TypecodeInput<T>>,
  ): TypecodeArrays[T] {
    checkRawAllowed(this.#sharesMemory(), "RawArray");
    return rawArray(typecode, sizeOrValues);
  }

  #sharesMemory(): boolean {
    return getHost().launchers[this.getStartMethod()].capabilities.sharedMemory;
  }
}

/** A `Pool` class named "Pool" whose workers use `context`'s start method. */
function boundPool(context: Context): typeof Pool {
  const bound = class<I extends unknown[] = never[]> extends Pool<I> {
    constructor(options: number | PoolOptions<I> = {} as PoolOptions<I>) {
      super(
        (typeof options === "number"
          ? { processes: options, context }
          : { context, ...options }) as PoolOptions<I>,
      );
    }
  };
  Object.defineProperty(bound, "name", { value: "Pool" });
  return bound;
}

const contexts = new Map<StartMethod | null, Context>();
/** The start method of the context being made (null: the default context). */
const contextMethods = new Handoff<{ method: StartMethod | null }>();

/**
 * The context of a start method; with no argument, the default context
 * (whose classes follow {@linkcode setStartMethod}).
 *
 * @throws {ValueError} for an unknown start method
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getContext } from "@procs/multiprocessing";
 * const ctx = getContext("spawn");
 * assert.equal(typeof ctx.Process, "function");
 * ```
 */
export function getContext(method?: StartMethod | null): Context {
  const key = method === undefined || method === null ? null : checkStartMethod(method);
  let ctx = contexts.get(key);
  if (!ctx) {
    ctx = contextMethods.build({ method: key }, () => new Context());
    contexts.set(key, ctx);
  }
  return ctx;
}

/**
 * Sets the default start method, once (as Python's `set_start_method`);
 * `{ force: true }` changes it again, and `null` with `force` unsets it.
 *
 * @throws {ValueError} when already set without `force`, or for an unknown method
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getStartMethod, setStartMethod } from "@procs/multiprocessing";
 * setStartMethod("worker", { force: true });
 * assert.equal(getStartMethod(), "worker");
 * setStartMethod("spawn", { force: true });
 * ```
 */
export function setStartMethod(
  method: StartMethod | null,
  options: { force?: boolean } = {},
): void {
  setDefaultStartMethod(method, options.force ?? false);
}

/**
 * The default start method. It is fixed to `"spawn"` on first use unless
 * set; with `{ allowNone: true }` an unset method answers `null` and stays
 * unset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getStartMethod } from "@procs/multiprocessing";
 * assert.ok(["spawn", "worker"].includes(getStartMethod()!));
 * ```
 */
export function getStartMethod(options: { allowNone?: boolean } = {}): StartMethod | null {
  return defaultStartMethod(options.allowNone ?? false);
}

/**
 * Every start method this host can use (in a web page only `"worker"`), the
 * default first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getAllStartMethods } from "@procs/multiprocessing";
 * assert.deepEqual(getAllStartMethods(), ["spawn", "worker"]);
 * ```
 */
export function getAllStartMethods(): StartMethod[] {
  return availableStartMethods();
}

/**
 * Raw shared memory for one value, from the default context: the typed
 * array itself. Needs the "worker" start method (see `Context.RawValue`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getContext } from "@procs/multiprocessing";
 * const v = getContext("worker").RawValue("d", 1.5);
 * assert.equal(v[0], 1.5);
 * ```
 */
export function RawValue<T extends Typecode>(
  typecode: T,
  init?: TypecodeInput<T>,
): TypecodeArrays[T] {
  return getContext().RawValue(typecode, init);
}

/**
 * Raw shared memory for an array, from the default context. Needs the
 * "worker" start method (see `Context.RawArray`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getContext } from "@procs/multiprocessing";
 * const a = getContext("worker").RawArray("i", [1, 2]);
 * assert.equal(a[1], 2);
 * ```
 */
export function RawArray<T extends Typecode>(
  typecode: T,
  sizeOrValues: number | Iterable<TypecodeInput<T>>,
): TypecodeArrays[T] {
  return getContext().RawArray(typecode, sizeOrValues);
}
