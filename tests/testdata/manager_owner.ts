// Starts a SyncManager, uses it, prints the server's pid, then either
// lingers (to be killed) or ends without calling shutdown().
//   argv: <start method> <"linger" | "forget">
import process from "node:process";
import { activeChildren, getContext, type StartMethod } from "../../mod.ts";

if (import.meta.main) {
  const [method, mode] = process.argv.slice(2);
  const manager = await getContext(method as StartMethod).Manager();
  const d = await manager.dict();
  await d.set("answer", 42);
  const server = activeChildren().find((p) => /^SyncManager-\d+$/.test(p.name));
  console.log(`manager pid ${server?.pid} answer ${await d.get("answer")}`);
  if (mode === "linger") await new Promise((r) => setTimeout(r, 60_000));
  console.log("main done");
}
