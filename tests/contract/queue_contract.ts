import type { StartMethod } from "../../mod.ts";

/** Queue behaviour, run once per start method. */
export function runQueueContract(_options: { startMethod: StartMethod }): void {}
