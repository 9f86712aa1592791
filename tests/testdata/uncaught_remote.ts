/**
 * A program whose child raises an error nobody catches: run as
 * `uncaught_remote.ts <scenario> <startMethod>`, it lets the error a pool
 * task or a manager's method raised reach the top of the program, so a test
 * can read what the runtime prints for it (the message once, then the
 * child's stack as its cause). Scenarios: `pool-map` (awaited in a
 * function), `pool-apply-top` (awaited at the module's top level),
 * `manager` (a proxy's method).
 *
 * @module
 */

import process from "node:process";
import { BaseManager, getContext, type StartMethod } from "../../mod.ts";

/** The message each scenario's child raises: a test counts it in stderr. */
export const CHILD_MESSAGE = "the child failed on purpose (uncaught_remote)";

/** A pool task that fails for one item. */
export function uncaughtTask(n: number): number {
  if (n === 2) throw new RangeError(CHILD_MESSAGE);
  return n;
}

/** A type a manager serves, whose method fails. */
export class UncaughtThing {
  /** Always raises. */
  explode(): never {
    throw new RangeError(CHILD_MESSAGE);
  }
}

/** Makes an {@linkcode UncaughtThing} in the manager's server. */
export function makeUncaughtThing(): UncaughtThing {
  return new UncaughtThing();
}

/** A manager serving `UncaughtThing`. */
export class UncaughtManager extends BaseManager {}
UncaughtManager.register("UncaughtThing", makeUncaughtThing);

async function poolMap(method: StartMethod): Promise<void> {
  const pool = new (getContext(method).Pool)(1);
  try {
    await pool.map(uncaughtTask, [1, 2, 3]);
  } finally {
    pool.terminate();
  }
}

async function manager(method: StartMethod): Promise<void> {
  const m = new UncaughtManager({ context: getContext(method) });
  await m.start();
  try {
    const thing = await (m as unknown as { UncaughtThing(): Promise<UncaughtThing> })
      .UncaughtThing();
    await thing.explode();
  } finally {
    await m.shutdown();
  }
}

if (import.meta.main) {
  const [scenario, method] = process.argv.slice(2) as [string, StartMethod];
  if (scenario === "pool-map") await poolMap(method);
  else if (scenario === "manager") await manager(method);
  else if (scenario === "pool-apply-top") {
    const pool = new (getContext(method).Pool)(1);
    await pool.apply(uncaughtTask, [2]);
  } else throw new Error(`unknown scenario ${scenario}`);
}
