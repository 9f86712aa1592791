// A client of a SyncManager on TCP as its own program: connects, makes
// <n> dicts and a list storing one more, prints "holding", then either
// lingers until it is killed ("linger") or ends without closing anything
// ("exit"). Either way the server must let go of what it made for it.
//   argv: <port> <authkey> <n> <linger|exit>
import process from "node:process";
import { SyncManager } from "../../mod.ts";

if (import.meta.main) {
  const [port, authkey, n, mode] = process.argv.slice(2);
  const manager = new SyncManager({ address: ["127.0.0.1", Number(port)], authkey });
  await manager.connect();
  const kept = [];
  for (let i = 0; i < Number(n); i++) {
    const d = await manager.dict({ i });
    await d.set("pid", process.pid);
    kept.push(d);
  }
  const l = await manager.list();
  await l.append(await manager.dict({ stored: true }));
  kept.push(l);
  console.log(`holding ${kept.length}`);
  if (mode === "linger") setInterval(() => kept.length, 1000);
  else process.exit(0);
}
