/**
 * Picks the host for the runtime this code runs on. The only place that asks
 * "which runtime?"; everything else uses the {@linkcode Host} it returns.
 *
 * @module
 */

import type { Host } from "./types.ts";
import { denoHost } from "./deno_host.ts";
import { bunHost } from "./bun_host.ts";

/** The host for this runtime; throws on a runtime that is not Deno or Bun. */
export function detectHost(privateDir: () => string): Host {
  const g = globalThis as Record<string, unknown>;
  if ("Bun" in g) return bunHost();
  if ("Deno" in g) return denoHost(privateDir);
  throw new Error(
    "@procs/multiprocessing runs on Deno and Bun; this runtime is neither",
  );
}
