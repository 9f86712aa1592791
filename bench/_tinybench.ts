/**
 * Loads tinybench at the pinned version on either runtime.
 *
 * Deno resolves the bare name through bench/bench.deno.json's import map
 * (`npm:tinybench@6.2.3`). Bun does not read deno.json: it gets a versioned
 * specifier, which its auto-install resolves from the npm registry (or its
 * cache) when the project has no node_modules; `bun --install=fallback`
 * (what `deno task bench:bun` runs) does the same even when a node_modules
 * exists somewhere above.
 *
 * @module
 */

import type * as Tinybench from "tinybench";

/** The tinybench version the suite pins (bench/bench.deno.json says the same). */
export const TINYBENCH_VERSION = "6.2.3";

let loaded: Promise<typeof Tinybench> | null = null;

/** The tinybench module. */
export function tinybench(): Promise<typeof Tinybench> {
  loaded ??= "Bun" in globalThis ? loadForBun() : import("tinybench");
  return loaded;
}

async function loadForBun(): Promise<typeof Tinybench> {
  const specifier = `tinybench@${TINYBENCH_VERSION}`;
  try {
    return await import(specifier) as typeof Tinybench;
  } catch (error) {
    throw new Error(
      `Bun could not load ${specifier}: run the suite as \`bun --install=fallback bench/main.ts\` ` +
        `(auto-install needs the npm registry or Bun's cache): ${error}`,
    );
  }
}
