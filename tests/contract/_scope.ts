/**
 * What the contracts share: a `Scope` that closes what a test opened and
 * joins (or, after a grace period, kills) the children it started;
 * `within`, which fails a wait that does not settle in time; and
 * `stillPendingAfter`, which checks that a call waits.
 *
 * @module
 */

import type { Connection, Context, Process, Queue } from "../../mod.ts";

/** Resources of one test, released at its end (`await using s = new Scope(ctx)`). */
export class Scope implements AsyncDisposable {
  readonly #ctx: Context;
  readonly #closeables: { close(): void }[] = [];
  readonly #children: Process[] = [];

  constructor(ctx: Context) {
    this.#ctx = ctx;
  }

  /** A new pipe whose ends are closed when the test ends. */
  pipe(duplex = true): [Connection, Connection] {
    const pair = this.#ctx.Pipe(duplex);
    this.#closeables.push(...pair);
    return pair;
  }

  /** A new `Queue` closed when the test ends. */
  queue<T = unknown>(maxsize = 0): Queue<T> {
    return this.adopt(new this.#ctx.Queue<T>(maxsize));
  }

  /** Closes `resource` when the test ends (one that arrived in a message, say). */
  adopt<C extends { close(): void }>(resource: C): C {
    this.#closeables.push(resource);
    return resource;
  }

  /** Starts a child of this context's start method running `target(...args)`. */
  start<A extends unknown[]>(target: (...args: A) => unknown, args: A): Process {
    const p = new this.#ctx.Process({ target: target as (...args: never[]) => unknown, args });
    this.#children.push(p);
    p.start();
    return p;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const resource of this.#closeables) resource.close();
    for (const child of this.#children) {
      await child.join(10_000);
      if (child.exitcode === null) {
        child.kill();
        await child.join();
      }
    }
  }
}

/** `promise`, or a failure naming `what` if it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether `promise` is still pending after `ms` milliseconds: a lower bound
 * on how long a call waits, not a synchronisation. A call that must wait
 * stays pending however loaded the machine is; one that wrongly answers at
 * once settles first unless the machine stalls for the whole `ms`.
 */
export async function stillPendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const pending = Symbol("pending");
  promise.catch(() => {}); // a rejection is reported by whoever awaits it later
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<symbol>((resolve) => (timer = setTimeout(() => resolve(pending), ms)));
  try {
    return (await Promise.race([promise.then(() => false, () => false), waited])) === pending;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
