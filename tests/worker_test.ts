/**
 * Every contract under the "worker" start method (run by `deno test` and by
 * `bun test`).
 */
import { runProcessContract } from "./contract/process_contract.ts";
import { runPipeContract } from "./contract/pipe_contract.ts";
import { runQueueContract } from "./contract/queue_contract.ts";
import { runSynchronizeContract } from "./contract/synchronize_contract.ts";
import { runSharedctypesContract } from "./contract/sharedctypes_contract.ts";
import { runPoolContract } from "./contract/pool_contract.ts";
import { runManagerContract } from "./contract/manager_contract.ts";

runProcessContract({ startMethod: "worker" });
runPipeContract({ startMethod: "worker" });
runQueueContract({ startMethod: "worker" });
runSynchronizeContract({ startMethod: "worker" });
runSharedctypesContract({ startMethod: "worker" });
runPoolContract({ startMethod: "worker" });
runManagerContract({ startMethod: "worker" });
