/**
 * Every contract under the "spawn" start method (run by `deno test` and by
 * `bun test`); `PROCS_TEST_CONTRACTS=first|second` runs half of them (see
 * tests/contract/_all.ts).
 */
import { runContracts } from "./contract/_all.ts";

runContracts("spawn");
