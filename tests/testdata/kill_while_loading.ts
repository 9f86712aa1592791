// Kills N "worker" children at random moments of their start-up and while
// they load node: built-ins, then prints "survived N". On Deno, interrupting
// a worker while it instantiates a built-in module panics the whole program.
//   kill_while_loading.ts <N>
import process from "node:process";
import { getContext } from "../../mod.ts";

const BUILTINS = [
  "assert",
  "buffer",
  "child_process",
  "crypto",
  "dgram",
  "diagnostics_channel",
  "dns",
  "events",
  "fs",
  "http",
  "http2",
  "https",
  "module",
  "net",
  "os",
  "path",
  "perf_hooks",
  "querystring",
  "readline",
  "stream",
  "string_decoder",
  "timers",
  "tls",
  "tty",
  "url",
  "util",
  "v8",
  "vm",
  "zlib",
];

/** Loads node: built-ins one after another, then waits to be killed. */
export async function loadBuiltins(): Promise<void> {
  for (const name of BUILTINS) await import(`node:${name}`);
  await new Promise((r) => setTimeout(r, 60_000));
}

if (import.meta.main) {
  const n = Number(process.argv[2]);
  const ctx = getContext("worker");
  for (let i = 0; i < n; i++) {
    const p = new ctx.Process({ target: loadBuiltins });
    p.start();
    await new Promise((r) => setTimeout(r, Math.random() * 80));
    if (i % 2) p.kill();
    else p.terminate();
    await p.join();
  }
  console.log(`survived ${n}`);
}
