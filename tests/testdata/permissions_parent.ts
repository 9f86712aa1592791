// Deno only: reports the permissions of the parent and of its "spawn" child.
import { type Connection, getContext, Pipe } from "../../mod.ts";

function permissions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["read", "write", "net", "env", "run", "ffi", "sys"] as const) {
    out[name] = Deno.permissions.querySync({ name }).state;
  }
  return out;
}

export async function report(conn: Connection): Promise<void> {
  await conn.send(permissions());
  conn.close();
}

if (import.meta.main) {
  const [reader, writer] = Pipe();
  const p = new (getContext("spawn").Process)({ target: report, args: [writer] });
  p.start();
  writer.close();
  const child = await reader.recv();
  await p.join();
  console.log(JSON.stringify({ parent: permissions(), child }));
}
