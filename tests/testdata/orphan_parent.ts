// Starts a long-running child, prints its pid, and waits to be killed.
import process from "node:process";
import { getContext, type StartMethod } from "../../mod.ts";

export async function linger(): Promise<void> {
  await new Promise((r) => setTimeout(r, 60_000));
}

if (import.meta.main) {
  const p = new (getContext(process.argv[2] as StartMethod).Process)({ target: linger });
  p.start();
  console.log(`child pid ${p.pid}`);
  await p.join();
}
