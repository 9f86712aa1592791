/**
 * Every contract under the "worker" start method (run by `deno test` and by
 * `bun test`).
 *
 * tests/worker_transport_test.ts runs this file again with the other
 * transport, in two test runners side by side: PROCS_TEST_CONTRACTS=first
 * runs the first half of the list below, `second` the rest (so a contract
 * added to the list runs there too); unset, all of them.
 */
import process from "node:process";
import { runProcessContract } from "./contract/process_contract.ts";
import { runPipeContract } from "./contract/pipe_contract.ts";
import { runQueueContract } from "./contract/queue_contract.ts";
import { runSynchronizeContract } from "./contract/synchronize_contract.ts";
import { runSharedctypesContract } from "./contract/sharedctypes_contract.ts";
import { runPoolContract } from "./contract/pool_contract.ts";
import { runManagerContract } from "./contract/manager_contract.ts";

const contracts = [
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
const chosen = {
  first: contracts.slice(0, SPLIT),
  second: contracts.slice(SPLIT),
}[process.env.PROCS_TEST_CONTRACTS ?? ""] ?? contracts;
for (const run of chosen) run({ startMethod: "worker" });
