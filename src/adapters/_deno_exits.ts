/**
 * Deno: the host's exit callbacks run however the program ends that it can
 * see. A normal end (or `Deno.exit`) fires `unload`; so that a signal that
 * would kill the program (SIGINT, SIGTERM, SIGHUP) or an error nobody
 * handles also runs them (removing the private directory, ending daemon
 * children), listeners are added for those too, and the program then ends
 * as it would have: the signal is raised again once the listener is gone
 * (the program dies by it), and an uncaught error or unhandled rejection is
 * left to Deno, which prints it and exits with 1. A signal the program
 * listens to itself (through `Deno.addSignalListener` or `process.on`) is
 * its own to handle: the callbacks then wait for its exit. The listeners
 * never keep the program alive.
 *
 * @module
 */

import { ExitCallbacks, FATAL_SIGNALS, type FatalSignal as Fatal } from "./_exit_callbacks.ts";

/** Deno's own signal functions, before {@linkcode trackSignalListeners} wraps them. */
const ours = { add: Deno.addSignalListener, remove: Deno.removeSignalListener };
const callbacks = new ExitCallbacks();
const runCallbacks = callbacks.run;

/** The program's own signal listeners, counted as it adds and removes them. */
const userListeners = new Map<Deno.Signal, Set<() => void>>();

/**
 * Counts the signal listeners the program adds from now on (called when the
 * host is made, before the program's own modules run).
 */
export function trackSignalListeners(): void {
  const { add, remove } = ours;
  Deno.addSignalListener = (signal, handler) => {
    add(signal, handler);
    let set = userListeners.get(signal);
    if (!set) userListeners.set(signal, set = new Set());
    set.add(handler);
  };
  Deno.removeSignalListener = (signal, handler) => {
    remove(signal, handler);
    userListeners.get(signal)?.delete(handler);
  };
}

/** Whether the program itself listens for `signal` (then it decides how to end). */
function programListens(signal: Fatal): boolean {
  if ((userListeners.get(signal)?.size ?? 0) > 0) return true;
  // `process.on("SIGINT")` goes through Node's layer, not Deno.addSignalListener.
  const process = (globalThis as { process?: { listenerCount?(name: string): number } }).process;
  try {
    return (process?.listenerCount?.(signal) ?? 0) > 0;
  } catch {
    return false;
  }
}

function isMainThread(): boolean {
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined";
}

const signalHandlers = new Map<Fatal, () => void>();

function removeSignalHandlers(): void {
  for (const [signal, handler] of signalHandlers) {
    try {
      ours.remove(signal, handler);
    } catch {
      // not listening
    }
  }
  signalHandlers.clear();
}

/** Adds `callback` to what runs when the program ends, however it ends. */
export function onDenoExit(callback: () => void): void {
  if (!callbacks.add(callback)) return;
  globalThis.addEventListener("unload", () => {
    removeSignalHandlers();
    runCallbacks();
  });
  // An error nobody handled: Deno prints it and exits with 1 after these
  // listeners, unless one of them prevented that.
  globalThis.addEventListener("error", (event) => {
    if (!event.defaultPrevented) runCallbacks();
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    if (!event.defaultPrevented) runCallbacks();
  });
  // Signals reach the whole OS process: only its main thread answers them.
  if (!isMainThread()) return;
  for (const signal of FATAL_SIGNALS) {
    const handler = () => {
      if (programListens(signal)) return;
      runCallbacks();
      removeSignalHandlers();
      // No listener is left: the signal now does what it would have done.
      Deno.kill(Deno.pid, signal);
    };
    try {
      ours.add(signal, handler);
      signalHandlers.set(signal, handler);
    } catch {
      // this signal cannot be listened to here
    }
  }
}
