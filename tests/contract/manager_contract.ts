import type { StartMethod } from "../../mod.ts";

/** Manager, Listener and Client behaviour, run once per start method. */
export function runManagerContract(_options: { startMethod: StartMethod }): void {}
