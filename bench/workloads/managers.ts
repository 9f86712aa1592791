/**
 * The manager workload: a child sets and gets one key of a managed dict
 * (the manager's server and the child both started with the same method);
 * the child measures itself.
 *
 * @module
 */

import { getContext, Pipe, type StartMethod } from "../../mod.ts";
import { dictPairs, startChild } from "../_targets.ts";
import type { Plan } from "../_measure.ts";
import { perMethod, type Suite } from "../_workload.ts";

/** Latency (ms) of one `set` + `get` pair on a managed dict, measured in a child. */
export async function managerDictPair(method: StartMethod, plan: Plan): Promise<number[]> {
  const manager = await getContext(method).Manager();
  try {
    const d = await manager.dict();
    const [mine, theirs] = Pipe();
    const p = startChild(method, dictPairs, [theirs, d, plan]);
    theirs.close();
    try {
      const samples = await mine.recv() as number[];
      await p.join();
      if (p.exitcode !== 0) throw new Error(`the dict child exited with ${p.exitcode}`);
      return samples;
    } finally {
      mine.close();
      if (p.isAlive()) {
        p.kill();
        await p.join();
      }
    }
  } finally {
    await manager.shutdown();
  }
}

/** This file's part of the plan. */
export interface ManagersPlan {
  manager: Plan;
}

/** The Manager dict pair, and CPython's equivalent. */
export const suite: Suite<ManagersPlan> = {
  plans: {
    full: { manager: { iterations: 3000, time: 1000, warmup: 1000 } },
    quick: { manager: { iterations: 1000, time: 0, warmup: 1000 } },
    smoke: { manager: { iterations: 20, time: 0, warmup: 2 } },
  },
  workloads: [{
    id: "manager.dict_pair",
    rows: perMethod((method, plan) => managerDictPair(method, plan.manager)),
  }],
  python: [{
    script: "managers.py",
    workloads: ["manager.dict_pair"],
    args: (plan) => ({ plan: plan.manager }),
  }],
};
