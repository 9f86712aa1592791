/**
 * The page tests/browser_test.ts opens: `contracts.html?contract=pipe` runs
 * that contract (tests/contract/pipe_contract.ts) under the `"worker"`
 * start method, one test at a time, and leaves the results in
 * `globalThis.__results` and `document.body.dataset.status = "done"`.
 * `&only=<text>` runs the tests whose name holds that text.
 *
 * @module
 */

import { runRegistered, type TestResult } from "./_shims/node_test.ts";

// The page's globals this module uses (checked without the DOM's types, as the rest of tests/).
declare const document: {
  getElementById(id: string): { textContent: string | null } | null;
  body: { dataset: Record<string, string | undefined> };
};
declare const location: { search: string };

const CONTRACTS: Record<string, () => Promise<(options: { startMethod: "worker" }) => void>> = {
  process: async () => (await import("../contract/process_contract.ts")).runProcessContract,
  pipe: async () => (await import("../contract/pipe_contract.ts")).runPipeContract,
  queue: async () => (await import("../contract/queue_contract.ts")).runQueueContract,
  synchronize: async () =>
    (await import("../contract/synchronize_contract.ts")).runSynchronizeContract,
  sharedctypes: async () =>
    (await import("../contract/sharedctypes_contract.ts")).runSharedctypesContract,
  pool: async () => (await import("../contract/pool_contract.ts")).runPoolContract,
  manager: async () => (await import("../contract/manager_contract.ts")).runManagerContract,
  page: async () => (await import("./_page_behaviours.ts")).runPageBehaviours,
};

const params = new URLSearchParams(location.search);
const name = params.get("contract") ?? "";
const only = params.get("only") ?? "";
const log = document.getElementById("log")!;
const scope = globalThis as unknown as { __results?: TestResult[]; __error?: string };

try {
  const run = await CONTRACTS[name]();
  run({ startMethod: "worker" });
  scope.__results = await runRegistered((test) => test.includes(only), (result) => {
    log.textContent += `${result.status} ${result.name} (${Math.round(result.ms)} ms)\n`;
  });
} catch (error) {
  scope.__error = error instanceof Error ? error.stack ?? String(error) : String(error);
}
document.body.dataset.status = "done";
