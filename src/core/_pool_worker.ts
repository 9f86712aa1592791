/**
 * The child side of a `Pool`: the loop each pool worker process runs. It
 * runs the initializer, says `"ready"`, then runs the batches of tasks the
 * pool sends (`"tasks"`), answering each batch with its replies (`"done"`),
 * until the pool says `"stop"`, its end of the pipe closes, or it has run
 * `maxtasksperchild` tasks. The messages are {@linkcode PoolMessage}s.
 *
 * @module
 */

// Imported for its reducer too: the worker's end of the pipe, an argument of
// the loop, is decoded once this module (the target's) is loaded.
import "./connection.ts";
import type { Connection } from "./connection.ts";
import { registerLibraryTarget } from "./_popen.ts";
import { EOFError } from "./errors.ts";
import { rebuildCallable } from "./reduction.ts";
import { decode, encode } from "./_wire/codec.ts";
import { SystemExit } from "./_exit.ts";
import type { PoolCommand, PoolMessage } from "./_wire/protocol.ts";

/** Results are sent at least this often (ms) while a batch of tasks runs. */
const FLUSH_MS = 5;

/**
 * @internal The loop a pool worker runs: initializer, then tasks until the
 * pool stops it or it has run `maxtasks` tasks.
 */
export async function poolWorkerLoop(
  conn: Connection,
  initializer: ((...args: unknown[]) => unknown) | null,
  initargs: unknown[],
  maxtasks: number | null,
): Promise<void> {
  if (initializer) await initializer(...initargs);
  await conn.send(["ready"] satisfies PoolMessage);
  const functions = new Map<string, (...args: unknown[]) => unknown>();
  let completed = 0;
  for (;;) {
    let message: PoolCommand;
    try {
      // Decoded here with views: the tasks' payloads are decoded at once.
      message = decode(await conn.recvBytes(), { views: true }) as PoolCommand;
    } catch (error) {
      if (error instanceof EOFError) return;
      throw error;
    }
    if (message[0] === "stop") return;
    const tasks = message[1];
    let replies: Uint8Array[] = [];
    let lastFlush = performance.now();
    for (const [id, key, spec, payload, star, single, fnSpecs] of tasks) {
      try {
        let fn = functions.get(key);
        if (!fn) {
          fn = await rebuildCallable(spec!);
          functions.set(key, fn);
        }
        const rebuilt = fnSpecs.length > 0
          ? await Promise.all(fnSpecs.map(rebuildCallable))
          : undefined;
        const decoded = decode(payload, { functions: rebuilt });
        const items = single ? [decoded] : decoded as unknown[];
        const results = new Array(items.length);
        for (let i = 0; (i = applyEach(fn, items, star, results, i)) < items.length; i++) {
          results[i] = await results[i];
        }
        replies.push(encodeReply(id, true, results));
      } catch (error) {
        if (error instanceof SystemExit) {
          // exit() in a task ends the worker (its task fails with
          // WorkerLostError); what earlier tasks returned is sent first.
          if (replies.length > 0) await conn.send(["done", replies] satisfies PoolMessage);
          throw error;
        }
        replies.push(encodeReply(id, false, error));
      }
      completed++;
      if (maxtasks !== null && completed >= maxtasks) break;
      // Long batches report as they go, so callbacks are not held back.
      if (performance.now() - lastFlush >= FLUSH_MS) {
        await conn.send(["done", replies] satisfies PoolMessage);
        replies = [];
        lastFlush = performance.now();
      }
    }
    if (replies.length > 0) await conn.send(["done", replies] satisfies PoolMessage);
    if (maxtasks !== null && completed >= maxtasks) return;
  }
}

/**
 * Calls `fn` on `items[from..]`, keeping each result in `results`, until a
 * result is a promise: returns its index (for the caller to await), or
 * `items.length`. A small function of its own: the JIT optimises its loop
 * after a few thousand items, where the same loop inside the large async
 * loop above stayed slow for most of a program's first `map`.
 */
function applyEach(
  fn: (...args: unknown[]) => unknown,
  items: unknown[],
  star: boolean,
  results: unknown[],
  from: number,
): number {
  for (let i = from; i < items.length; i++) {
    const r = star ? fn(...(items[i] as unknown[])) : fn(items[i]);
    results[i] = r;
    if (r instanceof Promise) return i;
  }
  return items.length;
}

/** Encodes one task's reply; a result that cannot be copied fails that task only. */
function encodeReply(id: number, ok: boolean, value: unknown): Uint8Array {
  try {
    return encode([id, ok, value], {}, "result");
  } catch (error) {
    return encode([id, false, error], {}, "result");
  }
}

registerLibraryTarget(poolWorkerLoop as never, "poolWorkerLoop");
