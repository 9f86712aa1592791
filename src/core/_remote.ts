/**
 * An error raised in another process, as this one shows it: said once.
 * The codec rebuilds it with its class, message and the child's stack; a
 * runtime that prints it uncaught would show the child's frames (and, on
 * Bun, the source line of the first one) under its message. Here it gets:
 *
 * - as its stack, its message over the frames of the code that awaited it
 *   here (the user's `await pool.map(...)`), or, where none is known, over
 *   the frame that raised it in the child;
 * - as its `cause`, a `RemoteTraceback` whose stack is the child's frames
 *   (the library's own left out) and whose own cause is the child error's
 *   cause (Python's `RemoteTraceback`, one level).
 *
 * So an uncaught error prints its message once, then the child's stack
 * once, in the same words on every runtime.
 *
 * @module
 */

import { isDecodedError } from "./_wire/codec.ts";

/** The library's sources, as a Deno stack names them (a URL) and as Bun does (a path). */
const SOURCES = new URL("../", import.meta.url);
const LIBRARY = [SOURCES.href, decodeURIComponent(SOURCES.pathname)];

/** A frame line that points at a place in a file of the program (not the runtime's own). */
const PROGRAM_FRAME = /^\s+at .*:\d+:\d+\)?$/;

/** The first line(s) of each rebuilt error's stack: `RangeError: boom`. */
const headers = new WeakMap<Error, string>();

function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

/** Splits a stack into its header (name and message) and its frame lines. */
function split(stack: string): { header: string; frames: string[] } {
  const lines = stack.split("\n");
  const first = lines.findIndex((line) => /^\s+at /.test(line));
  if (first < 0) return { header: stack, frames: [] };
  return {
    header: lines.slice(0, first).join("\n"),
    frames: lines.slice(first).filter((line) => /^\s+at /.test(line)),
  };
}

/**
 * A frame of code outside any function (`at file.ts:3:4`, a module's top
 * level) written as one with a name (`at <anonymous> (file.ts:3:4)`): both
 * are V8's forms, but Bun reads only the second from a stack it is given,
 * and for the first prints where the error object was made instead (a line
 * of this library).
 */
function named(frame: string): string {
  return frame.replace(/^(\s+at (?:async )?)([^\s(][^()]*:\d+:\d+)$/, "$1<anonymous> ($2)");
}

/** An error with no stack of its own: the one it is given is all it shows. */
function bare(message: string): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new Error(message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The frames of the program's own code: neither the library's nor the runtime's. */
function programFrames(frames: string[]): string[] {
  return frames.filter((line) =>
    PROGRAM_FRAME.test(line) && !/\(?(ext|node):/.test(line) &&
    !LIBRARY.some((source) => line.includes(source))
  ).map(named);
}

/**
 * Shapes an error that arrived from `where` ("a pool worker") to be said
 * once (see the module doc); anything else, or an error already shaped,
 * is returned as it is.
 */
export function fromChild(error: unknown, where: string): unknown {
  if (!(error instanceof Error) || !isDecodedError(error) || headers.has(error)) return error;
  const { header, frames } = split(typeof error.stack === "string" ? error.stack : "");
  const own = programFrames(frames);
  const childFrames = own.length > 0 ? own : frames.map(named);
  const remote = bare(`raised in ${where}`);
  remote.name = "RemoteTraceback";
  define(remote, "stack", [`RemoteTraceback: raised in ${where}`, ...childFrames].join("\n"));
  if ("cause" in error) define(remote, "cause", error.cause);
  define(error, "cause", remote);
  const head = header || `${error.name}: ${error.message}`;
  headers.set(error, head);
  define(error, "stack", [head, ...childFrames.slice(0, 1)].join("\n"));
  return error;
}

/**
 * Points an error shaped by {@linkcode fromChild} at the program's code
 * that awaited it: call it in the `catch` of an async function the caller
 * awaits (the runtime's async stack then names the caller's line).
 */
export function atCaller(error: unknown): unknown {
  const head = error instanceof Error ? headers.get(error) : undefined;
  if (head === undefined) return error;
  const here = programFrames(split(new Error().stack ?? "").frames);
  if (here.length > 0) define(error as Error, "stack", [head, ...here].join("\n"));
  return error;
}

/** Awaits `promise`; an error a child raised is shaped and pointed at the caller. */
export async function awaitFromChild<T>(promise: Promise<T>, where: string): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw atCaller(fromChild(error, where));
  }
}
