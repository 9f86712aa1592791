// Starts a manager on a TCP address a Listener already holds, and prints on
// stdout, as JSON, how the start failed and which manager servers are left
// running; the server's own report ("Process SyncManager-1:" and why it
// could not listen) goes to this program's stderr, for the test to read.
// argv: the start method.
import process from "node:process";
import { activeChildren, getContext, Listener, type StartMethod } from "../../mod.ts";

if (import.meta.main) {
  const ctx = getContext(process.argv[2] as StartMethod);
  await using taken = new Listener({ address: ["127.0.0.1", 0], authkey: "k" });
  let failure: { name: string; message: string } | null = null;
  try {
    await (await ctx.Manager({ address: taken.address, authkey: "k" })).shutdown();
  } catch (error) {
    failure = { name: (error as Error).name, message: (error as Error).message };
  }
  const left = activeChildren().filter((p) => /Manager-\d+$/.test(p.name)).map((p) => p.name);
  console.log(JSON.stringify({ failure, left }));
}
