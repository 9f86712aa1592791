// Starts long-running children, prints their pids once they run, and waits
// to be killed.
//   orphan_parent.ts <start method> [busy]
// With "busy", a second child runs a loop that never returns to its event loop.
import process from "node:process";
import { type Connection, getContext, Pipe, type StartMethod } from "../../mod.ts";

/** Says "ready", then waits a minute. */
export async function linger(conn: Connection): Promise<void> {
  await conn.send("ready");
  await new Promise((r) => setTimeout(r, 60_000));
}

/** Says "ready", then spins for a minute without returning to the event loop. */
export async function spin(conn: Connection): Promise<void> {
  await conn.send("ready");
  // Let the "ready" frame leave before the event loop stops turning.
  await new Promise((r) => setTimeout(r, 0));
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    // busy
  }
}

if (import.meta.main) {
  const ctx = getContext(process.argv[2] as StartMethod);
  const targets = process.argv[3] === "busy" ? [linger, spin] : [linger];
  const [reader, writer] = Pipe(false);
  const children = targets.map((target) => new ctx.Process({ target, args: [writer] }));
  for (const p of children) p.start();
  for (const _ of children) await reader.recv();
  console.log(`child pids ${children.map((p) => p.pid).join(" ")}`);
  for (const p of children) await p.join();
}
