// The main program ends without joining: the non-daemon child is waited for,
// the daemon child is terminated.
import process from "node:process";
import { getContext, type StartMethod } from "../../mod.ts";

export async function nap(ms: number, label: string): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  console.log(label);
}

if (import.meta.main) {
  const P = getContext(process.argv[2] as StartMethod).Process;
  new P({ target: nap, args: [600, "non-daemon finished"] }).start();
  new P({ target: nap, args: [5_000, "daemon finished too"], daemon: true }).start();
  console.log("main done");
}
