// Starts a child (so the private directory exists) and, once the child
// runs, prints "ready <child pid>"; then ends as argv[1] says: "signal"
// waits to be signalled, "throw" throws an uncaught error, "reject" leaves
// a promise rejection unhandled, "handled" listens to SIGINT itself (then
// ends the child and exits normally).
import { type Connection, getContext, Pipe } from "../../mod.ts";

export async function sleepForever(conn: Connection): Promise<never> {
  await conn.send("up");
  return new Promise(() => setInterval(() => {}, 1_000));
}

const [method, how] = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);

if (import.meta.main) {
  const [reader, writer] = Pipe(false);
  const p = new (getContext(method as "spawn").Process)({ target: sleepForever, args: [writer] });
  p.start();
  await reader.recv();
  if (how === "handled") {
    const onSigint = () => {
      console.log("caught SIGINT");
      p.terminate();
    };
    const deno = (globalThis as { Deno?: typeof Deno }).Deno;
    if (deno) deno.addSignalListener("SIGINT", onSigint);
    else {
      (globalThis as unknown as { process: { on(name: string, f: () => void): void } }).process
        .on("SIGINT", onSigint);
    }
  }
  console.log(`ready ${p.pid}`);
  if (how === "throw") {
    setTimeout(() => {
      throw new Error("boom from the parent");
    }, 0);
  } else if (how === "reject") {
    Promise.reject(new Error("rejected in the parent"));
  }
  await p.join();
}
