import type { StartMethod } from "../../mod.ts";

/** Sharedctypes behaviour, run once per start method. */
export function runSharedctypesContract(_options: { startMethod: StartMethod }): void {}
