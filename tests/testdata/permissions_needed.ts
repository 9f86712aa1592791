// Deno only: starts what argv says ("spawn"/"worker" process, "pool-spawn",
// "pool-worker", "listener") and prints "ok" once it worked.
import { getContext, Listener, Pool } from "../../mod.ts";

export function noop(): void {}

if (import.meta.main) {
  const what = Deno.args[0];
  if (what === "listener") {
    const listener = new Listener();
    listener.close();
  } else if (what.startsWith("pool-")) {
    const pool = new Pool({ processes: 1, context: getContext(what.slice(5) as "spawn") });
    await pool.apply(noop, []);
    pool.close();
    await pool.join();
  } else {
    const p = new (getContext(what as "spawn").Process)({ target: noop });
    p.start();
    await p.join();
  }
  console.log("ok");
}
