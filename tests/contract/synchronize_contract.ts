import type { StartMethod } from "../../mod.ts";

/** Synchronize behaviour, run once per start method. */
export function runSynchronizeContract(_options: { startMethod: StartMethod }): void {}
