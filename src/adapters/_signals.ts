import { constants } from "node:os";

/** The number of a signal name ("SIGTERM" is 15 on Linux). */
export function signalNumber(name: string): number {
  return (constants.signals as Record<string, number>)[name] ?? 0;
}
