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
