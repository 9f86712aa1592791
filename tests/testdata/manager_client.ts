// A client of manager_server.ts as its own program: connects over TCP,
// hands the queue's proxy to its own children (which put on it), puts one
// item itself, and prints what happened.
//   argv: <port> <authkey> <start method> <children>
import process from "node:process";
import { type AutoProxy, getContext, type StartMethod } from "../../mod.ts";
import { MgrQueueClient } from "./manager_targets.ts";

/** Puts `item` on the remote queue (in a child of the client program). */
export async function mgrRemotePut(queue: AutoProxy, item: string): Promise<void> {
  await queue.put(item);
}

if (import.meta.main) {
  const [port, authkey, method, children] = process.argv.slice(2);
  const manager = new MgrQueueClient({ address: ["127.0.0.1", Number(port)], authkey });
  try {
    await manager.connect();
  } catch (error) {
    console.log(`connect failed: ${(error as Error).name}: ${(error as Error).message}`);
    process.exit(0);
  }
  const queue = await manager.create("getQueue");
  const P = getContext(method as StartMethod).Process;
  const ps = Array.from(
    { length: Number(children) },
    (_, i) => new P({ target: mgrRemotePut, args: [queue, `child-${i}`] }),
  );
  ps.forEach((p) => p.start());
  for (const p of ps) await p.join();
  await queue.put("client");
  console.log(`done ${ps.map((p) => p.exitcode).join(",")}`);
  await manager.shutdown();
}
