// Starts a child that throws; its stderr shows "Process Process-1:" and the stack.
import process from "node:process";
import { getContext, type StartMethod } from "../../mod.ts";

export function fail(): never {
  throw new RangeError("deliberate failure");
}

if (import.meta.main) {
  const method = process.argv[2] as StartMethod;
  const p = new (getContext(method).Process)({ target: fail });
  p.start();
  await p.join();
  console.log(`exitcode ${p.exitcode}`);
}
