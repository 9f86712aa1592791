/**
 * Every contract under the "spawn" start method (run by `deno test` and by
 * `bun test`).
 */
import { runProcessContract } from "./contract/process_contract.ts";
import { runPipeContract } from "./contract/pipe_contract.ts";

runProcessContract({ startMethod: "spawn" });
runPipeContract({ startMethod: "spawn" });
