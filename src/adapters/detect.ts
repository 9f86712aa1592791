/**
 * Picks the host for the runtime this code runs on. The only place that asks
 * "which runtime?"; everything else uses the {@linkcode Host} it returns. The
 * host is imported only for the runtime in use, so neither runtime loads the
 * other's adapter (and its `node:` modules) at start-up.
 *
 * @module
 */

import type { Host } from "../core/host.ts";

/** The host for this runtime; rejects on a runtime that is not Deno, Bun or a browser. */
export async function detectHost(privateDir: () => string): Promise<Host> {
  const g = globalThis as Record<string, unknown>;
  if ("Bun" in g) return (await import("./bun_host.ts")).bunHost(privateDir);
  if ("Deno" in g) return (await import("./deno_host.ts")).denoHost(privateDir);
  // A page, or a worker of one: Web Workers and no runtime of its own.
  if (typeof g.Worker === "function" && ("document" in g || "WorkerGlobalScope" in g)) {
    return (await import("./browser_host.ts")).browserHost();
  }
  throw new Error(
    "@procs/multiprocessing runs on Deno, Bun and in web pages; this runtime is none of them",
  );
}
