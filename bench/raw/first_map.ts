/**
 * One sample of the cold-pool workload, in a program of its own: makes a
 * `Pool(2)` with the start method of its first argument, maps `square`
 * over 3 items (the workers are up and have imported this module), then
 * times `pool.map(square, items)` over `0 … N-1` (its second argument) and
 * prints `{"ms": …}` on stdout. Nothing has run the pool's code or the codec
 * on that many items yet: the figure is what a program's first large `map`
 * costs, before the runtime compiled anything of it.
 *
 *     deno run -A bench/raw/first_map.ts <spawn|worker> <items>
 *     bun bench/raw/first_map.ts <spawn|worker> <items>
 *
 * The pool's workers import this module to find `square` (exported here, as
 * Python's spawn re-imports `__main__`), hence the `import.meta.main` guard.
 *
 * @module
 */

import { getContext, type StartMethod } from "../../mod.ts";
import { square } from "../_targets.ts";

export { square };

/** This program's arguments, from the runtime's globals (its workers import this module). */
function args(): string[] {
  return "Deno" in globalThis
    ? Deno.args
    : (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
}

/** Makes the pool, maps 3 items, times the map of `n` items, closes and joins; returns the ms. */
async function firstMap(method: StartMethod, n: number): Promise<number> {
  const pool = new (getContext(method).Pool)(2);
  try {
    await pool.map(square, [1, 2, 3]);
    const items = Array.from({ length: n }, (_, i) => i);
    const t0 = performance.now();
    const out = await pool.map(square, items);
    const ms = performance.now() - t0;
    if (out.length !== n || out[n - 1] !== (n - 1) * (n - 1)) {
      throw new Error("the pool answered something else");
    }
    pool.close();
    await pool.join();
    return ms;
  } catch (error) {
    await pool.terminate();
    throw error;
  }
}

if (import.meta.main) {
  const [method, n] = args();
  if ((method !== "spawn" && method !== "worker") || !(Number(n) > 0)) {
    throw new Error("usage: first_map.ts <spawn|worker> <items>");
  }
  console.log(JSON.stringify({ ms: await firstMap(method, Number(n)) }));
}
