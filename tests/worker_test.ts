/**
 * Every contract under the "worker" start method (run by `deno test` and by
 * `bun test`); `PROCS_TEST_CONTRACTS=first|second` runs half of them (see
 * tests/contract/_all.ts). tests/worker_transport_test.ts runs this file
 * again with the other transport.
 */
import { runContracts } from "./contract/_all.ts";

runContracts("worker");
