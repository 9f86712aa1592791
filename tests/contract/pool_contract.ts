import type { StartMethod } from "../../mod.ts";

/** Pool behaviour, run once per start method. */
export function runPoolContract(_options: { startMethod: StartMethod }): void {}
