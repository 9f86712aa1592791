/**
 * Bun: the host's exit callbacks run however the program ends that it can
 * see. A normal end (or `process.exit`) emits `exit`; so that a signal that
 * would kill the program (SIGINT, SIGTERM, SIGHUP) or an error nobody
 * handles also runs them (removing the private directory, ending daemon
 * children), listeners are added for those too, and the program then ends
 * as it would have: the signal is raised again once the listener is gone
 * (the program dies by it), and an uncaught error or unhandled rejection is
 * printed and ends the program with status 1. A signal or error the
 * program listens to itself is its own to handle. Signal listeners never
 * keep the program alive.
 *
 * @module
 */

import { ExitCallbacks, FATAL_SIGNALS } from "./_exit_callbacks.ts";

interface NodeProcess {
  pid: number;
  exitCode?: number;
  on(event: string, listener: (...args: unknown[]) => void): void;
  off(event: string, listener: (...args: unknown[]) => void): void;
  listenerCount(event: string): number;
  kill(pid: number, signal: string): void;
  exit(code: number): never;
}

const callbacks = new ExitCallbacks();
const runCallbacks = callbacks.run;

/** Adds `callback` to what runs when the program ends, however it ends. */
export function onBunExit(
  process: NodeProcess,
  exit: (code: number) => never,
  callback: () => void,
): void {
  if (!callbacks.add(callback)) return;
  process.on("exit", runCallbacks);
  // Signals and fatal errors belong to the whole OS process: only its main
  // thread answers them (a worker's errors are its parent's to report).
  if (!(globalThis as { Bun?: { isMainThread?: boolean } }).Bun?.isMainThread) return;
  const fatal = (event: string) => (error: unknown) => {
    if (process.listenerCount(event) > 1) return; // the program handles it
    runCallbacks();
    console.error(error);
    exit(1);
  };
  process.on("uncaughtException", fatal("uncaughtException"));
  process.on("unhandledRejection", fatal("unhandledRejection"));
  const handlers = new Map<string, () => void>();
  for (const signal of FATAL_SIGNALS) {
    const handler = () => {
      if (process.listenerCount(signal) > 1) return; // the program handles it
      runCallbacks();
      for (const [name, h] of handlers) process.off(name, h);
      // No listener is left: the signal now does what it would have done.
      process.kill(process.pid, signal);
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
}
