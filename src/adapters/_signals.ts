/**
 * Signal numbers by name, from `node:os`, loaded on first use: a child that
 * never sees another process die by a signal does not pay for it at start.
 *
 * @module
 */

let signals: Record<string, number> | null = null;

/** The number of a signal name ("SIGTERM" is 15 on Linux). */
export function signalNumber(name: string): number {
  if (!signals) {
    const { process } = globalThis as unknown as {
      process: { getBuiltinModule(name: string): unknown };
    };
    const os = process.getBuiltinModule("node:os") as typeof import("node:os");
    signals = os.constants.signals as unknown as Record<string, number>;
  }
  return signals[name] ?? 0;
}
