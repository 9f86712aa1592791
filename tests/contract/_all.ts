/**
 * Every contract, run for one start method by tests/spawn_test.ts and
 * tests/worker_test.ts. `PROCS_TEST_CONTRACTS=first` runs the first half of
 * the list, `second` the rest (so a contract added to the list runs in one
 * of them): the suite's runner (tests/_run_suite.ts) and
 * tests/worker_transport_test.ts run the halves side by side. Unset, all.
 *
 * @module
 */
import process from "node:process";
import type { StartMethod } from "../../mod.ts";
import { runProcessContract } from "./process_contract.ts";
import { runPipeContract } from "./pipe_contract.ts";
import { runQueueContract } from "./queue_contract.ts";
import { runSynchronizeContract } from "./synchronize_contract.ts";
import { runSharedctypesContract } from "./sharedctypes_contract.ts";
import { runPoolContract } from "./pool_contract.ts";
import { runManagerContract } from "./manager_contract.ts";

const CONTRACTS = [
  runProcessContract,
  runPipeContract,
  runQueueContract,
  runSynchronizeContract,
  runSharedctypesContract,
  runPoolContract,
  runManagerContract,
];
/** Where the first half ends: Process, Pipe and Queue take about as long as the rest. */
const SPLIT = 3;

/** Registers the contracts `PROCS_TEST_CONTRACTS` chooses, under `startMethod`. */
export function runContracts(startMethod: StartMethod): void {
  const half = process.env.PROCS_TEST_CONTRACTS ?? "";
  const chosen = half === "first"
    ? CONTRACTS.slice(0, SPLIT)
    : half === "second"
    ? CONTRACTS.slice(SPLIT)
    : CONTRACTS;
  for (const run of chosen) run({ startMethod });
}
