// Prints the tree transports PROCS_MP_TRANSPORT chose, and how many
// MessagePort streams (ring or port) the main thread and a "worker" child opened while the
// child (and its own "worker" and "spawn" children) talked to their parents.
import { getContext, type StartMethod } from "../../mod.ts";
import type { Connection } from "../../mod.ts";
import { getHost } from "../../src/core/host.ts";

/** MessagePort streams this thread opened or accepted (0 without that transport). */
function portStreams(): number {
  const ports = getHost().transports.find((t) => t.name === "message-port" || t.name === "ring") as
    | { opened: number }
    | undefined;
  return ports?.opened ?? 0;
}

export async function echo(conn: Connection): Promise<void> {
  await conn.send(await conn.recv());
}

export async function nested(conn: Connection): Promise<void> {
  const reports: string[] = [];
  for (const method of ["worker", "spawn"] as StartMethod[]) {
    const ctx = getContext(method);
    const [mine, theirs] = ctx.Pipe();
    const p = new ctx.Process({ target: echo, args: [theirs] });
    p.start();
    await mine.send(method);
    reports.push(String(await mine.recv()));
    await p.join();
  }
  await conn.send({ reports, portStreams: portStreams() });
}

if (import.meta.main) {
  console.log(`transports ${getHost().transports.map((t) => t.name).join(",")}`);
  const ctx = getContext("worker");
  const [mine, theirs] = ctx.Pipe();
  const p = new ctx.Process({ target: nested, args: [theirs] });
  p.start();
  const { reports, portStreams: childStreams } = await mine.recv() as {
    reports: string[];
    portStreams: number;
  };
  await p.join();
  console.log(`children ${reports.join(", ")}; exitcode ${p.exitcode}`);
  console.log(`main port streams ${portStreams()}`);
  console.log(`child port streams ${childStreams}`);
}
