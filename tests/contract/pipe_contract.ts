import type { StartMethod } from "../../mod.ts";

/** Pipe and Connection behaviour, run once per start method. */
export function runPipeContract(_options: { startMethod: StartMethod }): void {}
