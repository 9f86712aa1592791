/**
 * `Process`: run a function (or a subclass's `run()`) in a child, as
 * Python's `multiprocessing.Process` does; plus `currentProcess()`,
 * `parentProcess()`, `activeChildren()` and `cpuCount()`.
 *
 * @module
 */

import type { ChildHandle, StartMethod } from "./host.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import { getHost } from "./host.ts";
import { processState } from "./_state.ts";
import { defaultStartMethod } from "./_start_method.ts";
import { RuntimeError, ValueError } from "./errors.ts";
import { callerModules, moduleBeingImported } from "./reduction.ts";
import { checkTimeout, holdAlive, unrefTimeout } from "./_util.ts";
import { Popen } from "./_popen.ts";
import { Handoff } from "./_handoff.ts";
import type { TargetArguments } from "./types.ts";

/**
 * The options of `new Process(...)`, as Python's keyword arguments, for a
 * target with parameters `A`: `args` (and `kwargs`) are checked against
 * them (see {@linkcode TargetArguments}). A subclass that overrides `run()`
 * passes no target.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProcessOptions } from "@procs/multiprocessing";
 *
 * function greet(name: string, options?: { loud?: boolean }) {
 *   return options?.loud ? name.toUpperCase() : name;
 * }
 * const plain: ProcessOptions<Parameters<typeof greet>> = { target: greet, args: ["kel"] };
 * const kw: ProcessOptions<Parameters<typeof greet>> = {
 *   target: greet,
 *   args: ["kel"],
 *   kwargs: { loud: true },
 * };
 * // @ts-expect-error: greet takes a string
 * const wrong: ProcessOptions<Parameters<typeof greet>> = { target: greet, args: [1] };
 * assert.deepEqual([plain.args, kw.kwargs, wrong.args], [["kel"], { loud: true }, [1]]);
 * ```
 */
export type ProcessOptions<A extends unknown[] = never[]> =
  & ProcessBaseOptions<A>
  & TargetArguments<A>;

/** What `new Process(...)` takes besides `args` and `kwargs` (see {@linkcode ProcessOptions}). */
export interface ProcessBaseOptions<A extends unknown[] = never[]> {
  /** The function `run()` calls; exported, or self-contained if not. */
  target?: ((...args: A) => unknown) | null;
  /** The name; `Process-N` (`Process-1:2` in a child) by default. */
  name?: string;
  /** Whether the child is ended when its parent ends; inherited by default. */
  daemon?: boolean;
}

/** What the constructor reads of the options, whatever the target's parameters. */
interface GivenOptions {
  target?: ((...args: unknown[]) => unknown) | null;
  args?: readonly unknown[];
  kwargs?: Record<string, unknown>;
  name?: string;
  daemon?: boolean;
}

/** Milliseconds `terminate()` waits for a child to honour SIGTERM before it sends SIGKILL. */
export const TERMINATE_GRACE_MS = 3000;

/** The start method a bound Process class (see {@linkcode processClassFor}) starts its children with. */
const START_METHOD: unique symbol = Symbol("startMethod");

/** @internal What a child's Process object is made from. */
export interface RebuildState {
  name: string;
  identity: number[];
  daemon: boolean;
  target: ((...args: unknown[]) => unknown) | null;
  args: unknown[];
  kwargs: Record<string, unknown> | undefined;
  pid: number;
  ident: number;
}

/**
 * @internal Throws a {@linkcode RuntimeError} when this process is a child
 * still importing the module of a function it runs (CPython's check of the
 * bootstrapping phase): the module started `what` at its top level, and
 * every child that imports it would start another, for ever.
 */
export function checkNotBootstrapping(what: string): void {
  const state = processState();
  const url = state.startMethod === null ? null : moduleBeingImported();
  if (url === null) return;
  throw new RuntimeError(
    `An attempt has been made to start ${what} before ${state.name} has finished its ` +
      `bootstrapping phase: it is importing ${url} to find a function it was given, and that ` +
      `module starts processes at its top level. Every child imports that module, so each one ` +
      `would start more children, for ever. Guard the main program of ${url} with ` +
      `\`if (import.meta.main) { ... }\` (Python's \`if __name__ == "__main__":\`) and ` +
      `export the functions the children run`,
  );
}

/** What a child's own Process object, or the view of the main program or parent, is made from. */
const rebuilds = new Handoff<RebuildState>();

/**
 * @internal A child's own Process object, made from `state` by the
 * constructor of `Process` with `cls` (a Process subclass the child
 * rebuilt) as its class: the subclass's own constructor does not run, as
 * Python's unpickling does not call `__init__`.
 */
export function rebuildProcess(
  state: RebuildState,
  cls?: (...args: never[]) => unknown,
): Process {
  return rebuilds.build(state, () => Reflect.construct(Process, [], cls ?? Process) as Process);
}

const boundClasses = new Map<StartMethod, typeof Process>();

/**
 * @internal The `Process` class whose children use `method` (a context's,
 * a pool's workers', a manager's server): named "Process", so its children
 * are "Process-N" as in Python.
 */
export function processClassFor(method: StartMethod): typeof Process {
  let bound = boundClasses.get(method);
  if (!bound) {
    bound = class<A extends unknown[] = never[]> extends Process<A> {
      static readonly [START_METHOD]: StartMethod = method;
    };
    // Engines differ in the name they infer for a class expression.
    Object.defineProperty(bound, "name", { value: "Process" });
    boundClasses.set(method, bound);
  }
  return bound;
}

type Role = "child" | "current" | "parent";

interface Started {
  handle: ChildHandle;
  method: StartMethod;
  osProcess: boolean;
  finished: Promise<void>;
  exitcode: number | null;
  killedWith: number | null;
  /** The error the child said ended it (set when it has finished). */
  failure: Error | null;
}

/** Called with the ident of a child that ended abnormally (killed, crashed). */
const childDeathHooks: ((ident: number) => void)[] = [];

/** @internal Runs `hook` when a child of this process dies (not on a clean exit). */
export function onChildDeath(hook: (ident: number) => void): void {
  childDeathHooks.push(hook);
}

/** Called with the ident of every child that ended, and whether it died (not a clean exit). */
const childExitHooks: ((ident: number, died: boolean) => void)[] = [];

/** @internal Runs `hook` when a child of this process ends, clean or not. */
export function onChildExit(hook: (ident: number, died: boolean) => void): void {
  childExitHooks.push(hook);
}

/**
 * Called with the ident of a child as `kill()`/`terminate()` is called on
 * it, and whether it is an OS process (a signal ends it at once) or a
 * worker (which may run on a moment).
 */
const childKillHooks: ((ident: number, osProcess: boolean) => void)[] = [];

/**
 * @internal Runs `hook` as a child is killed or terminated, before it is
 * signalled (a worker may run on a moment: the hook makes it inert first).
 */
export function onChildKill(hook: (ident: number, osProcess: boolean) => void): void {
  childKillHooks.push(hook);
}

/** Children this process started that have not been seen to end. */
const children = new Set<Process>();

let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // At the end of the program, daemon children are ended; the others were
  // waited for (they keep the program alive while they run).
  getHost().onExit(() => {
    for (const child of children) if (child.daemon && child.isAlive()) child.terminate();
  });
}

/**
 * A child process (or worker) running `target(...args, kwargs?)`, or the
 * `run()` of an exported subclass. `start()` launches it, `join()` waits for
 * it, `exitcode` tells how it ended.
 *
 * `args` (and `kwargs`) are checked against the target's parameters: `A`
 * is inferred from `target` (see {@linkcode ProcessOptions}); write no
 * type arguments.
 *
 * Under `"spawn"` the child is a new OS process of the same runtime that
 * imports the module that created the Process afresh: guard the main
 * program with `if (import.meta.main)`, as Python guards it with
 * `if __name__ == "__main__"`.
 *
 * @example Run a function in a child
 * ```ts
 * import assert from "node:assert/strict";
 * import { Process } from "@procs/multiprocessing";
 *
 * export function greet(name: string) {
 *   console.log(`hello, ${name}`);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: greet, args: ["kel"] });
 *   p.start();
 *   await p.join();
 *   assert.equal(p.exitcode, 0);
 * }
 * ```
 *
 * @example A subclass overriding run()
 * ```ts
 * import assert from "node:assert/strict";
 * import { Process } from "@procs/multiprocessing";
 *
 * export class Worker extends Process {
 *   constructor(public interval = 1) {
 *     super();
 *   }
 *   override run() {
 *     console.log(`${this.name} waits ${this.interval} ms`);
 *   }
 * }
 *
 * if (import.meta.main) {
 *   const w = new Worker(5);
 *   w.start();
 *   await w.join();
 *   assert.equal(w.exitcode, 0);
 * }
 * ```
 */
export class Process<A extends unknown[] = never[]> implements AsyncDisposable {
  #role: Role = "child";
  #target: ((...args: unknown[]) => unknown) | null = null;
  #args: unknown[] = [];
  #kwargs: Record<string, unknown> | undefined;
  #name: string;
  #daemon: boolean;
  #identity: number[];
  #authkey: Uint8Array;
  #modules: string[] = [];
  #pid: number | null = null;
  #ident: number | null = null;
  #started: Started | null = null;
  #closed = false;

  /**
   * Makes a process object; nothing runs until {@linkcode Process.start}.
   *
   * @param options the target, its arguments (checked against its parameters), name and daemon flag
   */
  constructor(options?: ProcessOptions<A>) {
    const s = rebuilds.take();
    if (s) {
      this.#role = "current";
      this.#name = s.name;
      this.#identity = s.identity;
      this.#daemon = s.daemon;
      this.#target = s.target;
      this.#args = s.args;
      this.#kwargs = s.kwargs;
      this.#authkey = processState().authkey;
      this.#pid = s.pid;
      this.#ident = s.ident;
      return;
    }
    if (options === undefined) options = {} as ProcessOptions<A>;
    if (options === null || typeof options !== "object") {
      throw new TypeError(
        `Process options must be an object such as { target, args }: received ${String(options)}`,
      );
    }
    const { target, args = [], kwargs, name, daemon } = options as GivenOptions;
    if (target !== undefined && target !== null && typeof target !== "function") {
      throw new TypeError(`Process target must be a function: received ${typeof target}`);
    }
    if (!Array.isArray(args)) {
      throw new TypeError(`Process args must be an array: received ${typeof args}`);
    }
    const state = processState();
    this.#identity = [...state.identity, ++state.counter];
    this.#name = name ?? `${new.target.name}-${this.#identity.join(":")}`;
    this.#daemon = daemon ?? state.daemon;
    this.#authkey = state.authkey;
    this.#target = target ?? null;
    this.#args = [...args];
    this.#kwargs = kwargs;
    this.#modules = callerModules();
  }

  /**
   * @internal The error that ended the child, as the child said it before
   * exiting (its module, target or initializer threw); null while it runs,
   * when it ended without one, or when it was killed first.
   */
  get _failure(): Error | null {
    return this.#started?.failure ?? null;
  }

  /** @internal Where a child looks for the functions of this process (a pool's workers use the pool creator's). */
  _useModules(modules: string[]): void {
    this.#modules = modules;
  }

  /** @internal The object standing for the main program or for this process's parent. */
  static _view(
    role: "current" | "parent",
    init: { name: string; pid: number; ident: number; daemon: boolean },
  ): Process {
    const p = rebuildProcess({
      ...init,
      identity: processState().identity,
      target: null,
      args: [],
      kwargs: undefined,
    });
    p.#role = role;
    return p;
  }

  /**
   * The work of the child. By default calls `target(...args, kwargs?)`;
   * override it in a subclass. Runs in the child after `start()`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Process } from "@procs/multiprocessing";
   * let seen = 0;
   * new Process({ target: (n: number) => (seen = n), args: [3] }).run();
   * assert.equal(seen, 3);
   * ```
   */
  run(): unknown {
    if (!this.#target) return undefined;
    const args = this.#kwargs === undefined ? this.#args : [...this.#args, this.#kwargs];
    return this.#target(...args);
  }

  #checkClosed(): void {
    if (this.#closed) {
      throw new ValueError(
        `Process object ${this.#name} is closed: make a new Process to run again`,
      );
    }
  }

  /**
   * Starts the child. Returns at once; under `"spawn"` the child's pid is
   * known on return. Arguments that cannot be copied throw a `TypeError`
   * naming where they sit, and nothing is started.
   *
   * @throws {ValueError} when started twice, closed, or started by a daemon
   * @throws {RuntimeError} in a child still importing the module of its target (a program
   * that starts processes at its top level, not under `if (import.meta.main)`)
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Process } from "@procs/multiprocessing";
   *
   * export function work() {}
   *
   * if (import.meta.main) {
   *   const p = new Process({ target: work });
   *   assert.equal(p.pid, null);
   *   p.start();
   *   assert.equal(typeof p.pid, "number"); // under "spawn", known on return
   *   await p.join();
   * }
   * ```
   */
  start(): void {
    this.#checkClosed();
    if (this.#role !== "child") {
      throw new ValueError(
        `Cannot start ${this.#name}: it is the ${this.#role} process, not a child`,
      );
    }
    if (this.#started) {
      throw new ValueError(
        `Cannot start a process twice: ${this.#name} was started already; make a new Process`,
      );
    }
    checkNotBootstrapping(`a new process (${this.#name})`);
    const state = processState();
    if (state.daemon) {
      throw new ValueError(
        `Daemonic processes are not allowed to have children: ${state.name} is a daemon, so it cannot start ${this.#name}`,
      );
    }
    const method = (this.constructor as { [START_METHOD]?: StartMethod })[START_METHOD] ??
      defaultStartMethod()!;
    const isSubclass = this.constructor !== Process &&
      Object.prototype.hasOwnProperty.call(this.constructor, START_METHOD) === false &&
      this.run !== Process.prototype.run;
    const popen = new Popen({
      method,
      modules: this.#modules,
      target: this.#target,
      cls: isSubclass ? this.constructor as never : null,
      args: this.#args,
      kwargs: this.#kwargs,
      fields: isSubclass ? { ...this } : {},
      daemon: this.#daemon,
      identity: () => ({
        name: this.#name,
        identity: this.#identity,
        daemon: this.#daemon,
        authkey: this.#authkey,
      }),
    });
    const osProcess = popen.osProcess;
    this.#pid = popen.pid;
    this.#ident = popen.ident;

    const started: Started = {
      handle: popen.handle,
      method,
      osProcess,
      finished: Promise.resolve(),
      exitcode: null,
      killedWith: null,
      failure: null,
    };
    started.finished = (async () => {
      const status = await popen.finished;
      started.failure = popen.failure;
      if (status.code !== 0) {
        for (const hook of childDeathHooks) hook(this.#ident!);
      }
      for (const hook of childExitHooks) hook(this.#ident!, status.code !== 0);
      started.exitcode = started.killedWith !== null && !osProcess
        ? started.killedWith
        : status.code;
      children.delete(this);
    })();
    this.#started = started;
    children.add(this);
    installExitHook();
  }

  /**
   * Waits until the child ends, or until `timeout` milliseconds have passed
   * (then check `exitcode`, which is still `null` if it runs on).
   *
   * @throws {ValueError} when the process was never started, or is the current one
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Process } from "@procs/multiprocessing";
   *
   * export function sleep(ms: number) {
   *   return new Promise((resolve) => setTimeout(resolve, ms));
   * }
   *
   * if (import.meta.main) {
   *   const p = new Process({ target: sleep, args: [60_000] });
   *   p.start();
   *   await p.join(500);
   *   assert.equal(p.exitcode, null); // still running after 500 ms
   *   if (p.exitcode === null) p.terminate();
   *   await p.join();
   *   assert.equal(p.exitcode, -15);
   * }
   * ```
   */
  async join(timeout?: number | null): Promise<void> {
    this.#checkClosed();
    checkTimeout(timeout, "join()");
    if (this.#role === "current") {
      throw new ValueError("Cannot join the current process: a process cannot wait for itself");
    }
    if (this.#role === "parent") {
      const channel = localEndpoint().parentChannel;
      if (channel) await this.#raceTimeout(new Promise<void>((r) => channel.onClose(r)), timeout);
      return;
    }
    if (!this.#started) {
      throw new ValueError(`Cannot join ${this.#name}: it was never started; call start() first`);
    }
    await this.#raceTimeout(this.#started.finished, timeout);
  }

  async #raceTimeout(done: Promise<void>, timeout: number | null | undefined): Promise<void> {
    if (timeout === undefined || timeout === null) {
      // Keeps the program alive while it waits (a daemon child does not).
      const release = holdAlive();
      try {
        return await done;
      } finally {
        release();
      }
    }
    let cancel = () => {};
    const timedOut = new Promise<void>((resolve) => {
      // Ref'd on purpose: a join with a timeout keeps the program alive
      // until it returns; the timer is cleared as soon as the child ends.
      const t = setTimeout(resolve, Math.max(0, timeout));
      cancel = () => clearTimeout(t);
    });
    try {
      await Promise.race([done, timedOut]);
    } finally {
      cancel();
    }
  }

  /**
   * Whether the child is running: false before `start()` and once it ended.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Process } from "@procs/multiprocessing";
   * assert.equal(new Process().isAlive(), false);
   * ```
   */
  isAlive(): boolean {
    this.#checkClosed();
    if (this.#role === "current") return true;
    if (this.#role === "parent") return !(localEndpoint().parentChannel?.closed ?? true);
    return this.#started !== null && this.#started.exitcode === null;
  }

  #signal(signal: "SIGTERM" | "SIGKILL"): void {
    this.#checkClosed();
    const started = this.#started;
    if (!started || started.exitcode !== null) return;
    started.killedWith ??= signal === "SIGKILL" ? -9 : -15;
    for (const hook of childKillHooks) hook(this.#ident!, started.osProcess);
    started.handle.kill(signal);
  }

  /**
   * Ends the child: SIGTERM under `"spawn"` (then SIGKILL if it is still
   * alive after {@linkcode TERMINATE_GRACE_MS}); a worker is terminated,
   * whatever it is doing (a loop that never returns to its event loop
   * included), and `join()` returns only once it has stopped running.
   * `exitcode` becomes `-15` (or `-9` if it had to be killed).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Process } from "@procs/multiprocessing";
   *
   * export function sleep(ms: number) {
   *   return new Promise((resolve) => setTimeout(resolve, ms));
   * }
   *
   * if (import.meta.main) {
   *   const p = new Process({ target: sleep, args: [60_000] });
   *   p.start();
   *   p.terminate();
   *   await p.join();
   *   assert.equal(p.exitcode, -15);
   * }
   * ```
   */
  terminate(): void {
    this.#signal("SIGTERM");
    const started = this.#started;
    if (!started || !started.osProcess || started.exitcode !== null) return;
    const cancel = unrefTimeout(() => {
      if (started.exitcode === null) started.handle.kill("SIGKILL");
    }, TERMINATE_GRACE_MS);
    started.finished.then(cancel);
  }

  /**
   * Ends the child at once with SIGKILL (a worker is terminated, as by
   * {@linkcode Process.terminate}); `exitcode` becomes `-9`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Process } from "@procs/multiprocessing";
   *
   * export function sleep(ms: number) {
   *   return new Promise((resolve) => setTimeout(resolve, ms));
   * }
   *
   * if (import.meta.main) {
   *   const p = new Process({ target: sleep, args: [60_000] });
   *   p.start();
   *   p.kill();
   *   await p.join();
   *   assert.equal(p.exitcode, -9);
   * }
   * ```
   */
  kill(): void {
    this.#signal("SIGKILL");
  }

  /**
   * Releases what the object holds. Throws while the child runs; afterwards
   * most uses of the object throw `ValueError`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Process, ValueError } from "@procs/multiprocessing";
   *
   * export function work() {}
   *
   * if (import.meta.main) {
   *   const p = new Process({ target: work });
   *   p.start();
   *   await p.join();
   *   p.close();
   *   assert.throws(() => p.start(), ValueError); // a closed object cannot be used
   * }
   * ```
   */
  close(): void {
    if (this.#closed) return;
    if (this.#started && this.#started.exitcode === null) {
      throw new ValueError(
        `Cannot close ${this.#name} while it is still running: call join() or terminate() first`,
      );
    }
    this.#closed = true;
    children.delete(this);
  }

  /** Terminates the child if it still runs and waits for it (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed || !this.#started) return;
    if (this.isAlive()) this.terminate();
    await this.join();
  }

  /** The name: `Process-1` by default, `Process-1:2` for a child's second child. */
  get name(): string {
    return this.#role === "current" ? processState().name : this.#name;
  }
  set name(value: string) {
    if (typeof value !== "string") {
      throw new TypeError(`name must be a string: received ${typeof value}`);
    }
    if (this.#role === "current") processState().name = value;
    this.#name = value;
  }

  /** Whether the child is ended when its parent ends; settable before `start()` only. */
  get daemon(): boolean {
    return this.#role === "current" ? processState().daemon : this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#started) {
      throw new ValueError(`Cannot change daemon on ${this.#name}: it has already started`);
    }
    if (this.#role !== "child") {
      throw new ValueError(`Cannot change daemon on the ${this.#role} process`);
    }
    this.#daemon = Boolean(value);
  }

  /** The OS pid (`null` before `start()`); under `"worker"`, the parent's pid. */
  get pid(): number | null {
    return this.#pid;
  }

  /** A unique id: the pid under `"spawn"`, a number unique to the worker under `"worker"`. */
  get ident(): number | null {
    return this.#ident;
  }

  /** `null` while running (or before start); the exit code after; `-N` when signal N ended it. */
  get exitcode(): number | null {
    this.#checkClosed();
    return this.#started?.exitcode ?? null;
  }

  /** The authentication key, inherited from the parent; settable (any bytes or a string). */
  get authkey(): Uint8Array {
    return this.#role === "current" ? processState().authkey : this.#authkey;
  }
  set authkey(value: Uint8Array | string) {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("authkey must be a Uint8Array or a string");
    }
    if (this.#role === "current") processState().authkey = bytes;
    this.#authkey = bytes;
  }

  /** How this child was started, once started. */
  get startMethod(): StartMethod | null {
    return this.#started?.method ?? null;
  }

  /** A short description, as Python's repr. */
  toString(): string {
    const status = this.#role === "current"
      ? "started"
      : !this.#started
      ? "initial"
      : this.#started.exitcode === null
      ? "started"
      : `stopped exitcode=${this.#started.exitcode}`;
    return `<${this.constructor.name}(${this.name}, ${status}${this.daemon ? " daemon" : ""})>`;
  }
}

let current: Process | null = null;
let parent: Process | null = null;

/** @internal Sets this process's own Process object (in a child). */
export function setCurrentProcess(p: Process): void {
  current = p;
}

/**
 * The Process object of the code that calls it: `MainProcess` in the main
 * program, the child's own object in a child.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { currentProcess } from "@procs/multiprocessing";
 * assert.equal(currentProcess().name, "MainProcess");
 * ```
 */
export function currentProcess(): Process {
  if (!current) {
    const s = processState();
    current = Process._view("current", {
      name: s.name,
      pid: s.pid,
      ident: s.ident,
      daemon: s.daemon,
    });
  }
  return current;
}

/**
 * The parent of the current process, or `null` in the main program. In a
 * child it has the parent's `name` and `pid`, and `isAlive()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parentProcess } from "@procs/multiprocessing";
 * assert.equal(parentProcess(), null);
 * ```
 */
export function parentProcess(): Process | null {
  const info = processState().parent;
  if (!info) return null;
  parent ??= Process._view("parent", {
    name: info.name,
    pid: info.pid,
    ident: info.ident,
    daemon: false,
  });
  return parent;
}

/**
 * The children of the current process that are still running.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activeChildren } from "@procs/multiprocessing";
 * assert.deepEqual(activeChildren(), []);
 * ```
 */
export function activeChildren(): Process[] {
  return [...children].filter((p) => p.isAlive());
}

/** @internal Ends or waits for this process's children before it exits (as Python does). */
export async function settleChildrenAtExit(): Promise<void> {
  const live = [...children];
  for (const child of live) if (child.daemon) child.terminate();
  await Promise.all(live.map((child) => child.join()));
}

/**
 * The number of CPUs the runtime reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cpuCount } from "@procs/multiprocessing";
 * assert.ok(cpuCount() >= 1);
 * ```
 */
export function cpuCount(): number {
  return navigator.hardwareConcurrency || 1;
}
