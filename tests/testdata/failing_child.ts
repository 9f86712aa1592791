// Starts a child that fails; its stderr shows "Process Process-1:" and the
// stack. argv: the start method, then how the child fails: "throw" (in its
// target, the default), "timer" (in a timer callback) or "rejection" (a
// rejected promise nobody handles), the last two outside the target's flow.
import process from "node:process";
import { getContext, type StartMethod } from "../../mod.ts";

export function fail(): never {
  throw new RangeError("deliberate failure");
}

export function failInTimer(): Promise<void> {
  setTimeout(() => {
    throw new RangeError("deliberate failure in a timer");
  }, 1);
  return new Promise(() => {}); // the target itself never ends
}

export function rejectUnhandled(): Promise<void> {
  Promise.reject(new RangeError("deliberate unhandled rejection"));
  return new Promise(() => {});
}

if (import.meta.main) {
  const method = process.argv[2] as StartMethod;
  const how = process.argv[3] ?? "throw";
  const target = how === "timer" ? failInTimer : how === "rejection" ? rejectUnhandled : fail;
  const p = new (getContext(method).Process)({ target });
  p.start();
  await p.join();
  console.log(`exitcode ${p.exitcode}`);
}
