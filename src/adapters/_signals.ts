/**
 * Signal numbers by name, from `node:os`, loaded on first use: a child that
 * never sees another process die by a signal does not pay for it at start.
 *
 * @module
 */

import { nodeBuiltin } from "./_builtin.ts";

let signals: Record<string, number> | null = null;

/** The number of a signal name ("SIGTERM" is 15 on Linux). */
export function signalNumber(name: string): number {
  if (!signals) {
    const os = nodeBuiltin<typeof import("node:os")>("node:os");
    signals = os.constants.signals as unknown as Record<string, number>;
  }
  return signals[name] ?? 0;
}
