// Prints the default start method, as PROCS_MP_START_METHOD chose it, and
// how a child started without naming one ran: in this OS process (a worker)
// or in another (spawn).
import process from "node:process";
import { getStartMethod, Pipe, Process } from "../../mod.ts";
import type { Connection } from "../../mod.ts";

export async function reportPid(conn: Connection): Promise<void> {
  await conn.send(process.pid);
}

if (import.meta.main) {
  console.log(`default ${getStartMethod()}`);
  const [mine, theirs] = Pipe();
  const p = new Process({ target: reportPid, args: [theirs] });
  p.start();
  console.log(`child ${(await mine.recv()) === process.pid ? "in this process" : "in another"}`);
  await p.join();
}
