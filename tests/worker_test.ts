/**
 * Every contract under the "worker" start method (run by `deno test` and by
 * `bun test`).
 */
import { runProcessContract } from "./contract/process_contract.ts";
import { runPipeContract } from "./contract/pipe_contract.ts";

runProcessContract({ startMethod: "worker" });
runPipeContract({ startMethod: "worker" });
