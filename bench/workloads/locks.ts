/**
 * The lock workloads: uncontended acquire + release (in the process that
 * made the lock, and in a child, which measures itself), and two children
 * incrementing one `Value` under its lock.
 *
 * @module
 */

import { type Connection, Lock, Pipe, type StartMethod, Value } from "../../mod.ts";
import { incrementer, lockLoop, startChild } from "../_targets.ts";
import { type Plan, sample } from "../_measure.ts";
import { type CommonPlan, perMethod, type Suite } from "../_workload.ts";

/** Latency (ms) of `ops` acquire + release pairs of a lock made by the measuring process. */
export function lockOwner(plan: Plan, ops: number): Promise<number[]> {
  const lock = new Lock();
  return sample("lock.uncontended owner", async () => {
    for (let i = 0; i < ops; i++) {
      await lock.acquire();
      await lock.release();
    }
  }, plan);
}

/** Latency (ms) of `ops` acquire + release pairs, measured in a child started with `method`. */
export async function lockChild(method: StartMethod, plan: Plan, ops: number): Promise<number[]> {
  const [mine, theirs] = Pipe();
  const p = startChild(method, lockLoop, [theirs, new Lock(), ops, plan]);
  theirs.close();
  try {
    const samples = await mine.recv() as number[];
    await p.join();
    if (p.exitcode !== 0) throw new Error(`the lock child exited with ${p.exitcode}`);
    return samples;
  } finally {
    mine.close();
    if (p.isAlive()) {
      p.kill();
      await p.join();
    }
  }
}

/**
 * Latency (ms) of two children started with `method` each incrementing one
 * `Value("i")` `n` times under its lock, until both are done.
 */
export async function valueIncrements(
  method: StartMethod,
  plan: Plan,
  n: number,
): Promise<number[]> {
  const value = Value("i", 0);
  const conns: Connection[] = [];
  const children = [0, 1].map(() => {
    const [mine, theirs] = Pipe();
    const p = startChild(method, incrementer, [theirs, value]);
    theirs.close();
    conns.push(mine);
    return p;
  });
  try {
    let expected = 0;
    const batch = async (count: number) => {
      for (const conn of conns) await conn.send(count);
      await Promise.all(conns.map((c) => c.recv()));
      expected += 2 * count;
      const got = Number(await value.get());
      if (got !== expected) throw new Error(`the value is ${got}, not ${expected}`);
    };
    await batch(10);
    const samples = await sample(`value.locked_increments ${method}`, () => batch(n), plan);
    for (const conn of conns) await conn.send(null);
    for (const p of children) await p.join();
    return samples;
  } finally {
    for (const conn of conns) conn.close();
    for (const p of children) {
      if (p.isAlive()) {
        p.kill();
        await p.join();
      }
    }
  }
}

/** This file's part of the plan. */
export interface LocksPlan {
  /** Lock acquire + release: the plan and the pairs of one sample. */
  lock: Plan;
  lockOps: number;
  /** Value increments: the plan and the increments of each child per sample. */
  value: Plan;
  valueIncrements: number;
}

/** Lock acquire + release and Value increments, and CPython's equivalents. */
export const suite: Suite<LocksPlan> = {
  plans: {
    full: {
      lock: { iterations: 20, time: 1000, warmup: 3 },
      lockOps: 1000,
      value: { iterations: 3, time: 1000, warmup: 0 },
      valueIncrements: 10_000,
    },
    quick: {
      lock: { iterations: 10, time: 0, warmup: 2 },
      lockOps: 1000,
      value: { iterations: 3, time: 0, warmup: 0 },
      valueIncrements: 2000,
    },
    smoke: {
      lock: { iterations: 2, time: 0, warmup: 0 },
      lockOps: 100,
      value: { iterations: 2, time: 0, warmup: 0 },
      valueIncrements: 100,
    },
  },
  workloads: [
    {
      id: "lock.uncontended",
      size: (plan) => ({ items: plan.lockOps }),
      rows: [
        {
          method: "owner",
          label: "in the process that made it (no IPC)",
          measure: (plan) => lockOwner(plan.lock, plan.lockOps),
        },
        ...perMethod<LocksPlan & CommonPlan>((method, plan) =>
          lockChild(method, plan.lock, plan.lockOps)
        ),
      ],
    },
    {
      id: "value.locked_increments",
      size: (plan) => ({ items: plan.valueIncrements }),
      rows: perMethod((method, plan) => valueIncrements(method, plan.value, plan.valueIncrements)),
    },
  ],
  python: [{
    script: "locks.py",
    workloads: ["lock.uncontended", "value.locked_increments"],
    args: (plan) => ({
      lock: plan.lock,
      lock_ops: plan.lockOps,
      value: plan.value,
      increments: plan.valueIncrements,
    }),
  }],
};
