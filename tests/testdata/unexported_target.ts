// Starts a child whose target is not exported and uses an outer variable.
import process from "node:process";
import { type Connection, getContext, Pipe, type StartMethod } from "../../mod.ts";

const outer = 41;
async function usesOuter(conn: Connection) {
  await conn.send(outer + 1);
}

if (import.meta.main) {
  const method = process.argv[2] as StartMethod;
  const [, writer] = Pipe();
  const p = new (getContext(method).Process)({ target: usesOuter, args: [writer] });
  p.start();
  await p.join();
  console.log(`exitcode ${p.exitcode}`);
}
