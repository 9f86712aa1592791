/**
 * The error classes of `@procs/multiprocessing`, named as in Python's
 * `multiprocessing`. Every class extends {@linkcode ProcessError}, so one
 * `catch` can tell the library's errors from everything else.
 *
 * @module
 */

/**
 * The base class of every error this library throws on purpose.
 *
 * @example Catch any library error
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProcessError, ValueError } from "@procs/multiprocessing";
 * assert.throws(() => {
 *   throw new ValueError("Cannot start a process twice");
 * }, ProcessError);
 * ```
 */
export class ProcessError extends Error {
  /** Creates the error with a message and, optionally, a cause. */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * A call was made at the wrong time or with a value out of range: starting a
 * process twice, joining one that was never started, using a closed object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Process, ValueError } from "@procs/multiprocessing";
 * const p = new Process();
 * await assert.rejects(() => p.join(), ValueError);
 * ```
 */
export class ValueError extends ProcessError {}

/**
 * An operating-system level failure on a connection: a closed handle, a
 * read-only end used to send, a message longer than allowed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OSError, Pipe } from "@procs/multiprocessing";
 * const [reader] = Pipe(false);
 * await assert.rejects(() => reader.send(1), OSError);
 * ```
 */
export class OSError extends ProcessError {}

/**
 * The program lacks permissions the library needs (under Deno: the
 * `--allow-*` flags it was run without). Thrown once, before the first
 * operation that needs them (starting a process, a pool or a manager,
 * listening on a private socket), listing every flag missing at once in
 * {@linkcode PermissionError.missing} and the command line to run instead.
 * Not raised where a host has no permissions (Bun). As in Python, it is an
 * {@linkcode OSError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OSError, PermissionError } from "@procs/multiprocessing";
 * const error = new PermissionError("run again with --allow-run", ["--allow-run"]);
 * assert.ok(error instanceof OSError);
 * assert.deepEqual(error.missing, ["--allow-run"]);
 * ```
 */
export class PermissionError extends OSError {
  /** The flags missing (`--allow-read`, `--allow-net`, ...), every one of them. */
  readonly missing: readonly string[];
  /** Creates the error with a message and the flags missing. */
  constructor(message?: string, missing: readonly string[] = []) {
    super(message);
    this.missing = missing;
  }
}

/**
 * `recvBytesInto` was given a buffer too small for the message. The whole
 * message is kept in {@linkcode BufferTooShort.data}, so nothing is lost.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferTooShort } from "@procs/multiprocessing";
 * const error = new BufferTooShort(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(error.data, new Uint8Array([1, 2, 3]));
 * ```
 */
export class BufferTooShort extends ProcessError {
  /** The whole message that did not fit. */
  readonly data: Uint8Array;
  /** Creates the error for a message that did not fit. */
  constructor(data: Uint8Array, message?: string) {
    super(
      message ??
        `Message of ${data.byteLength} bytes does not fit in the buffer: read it from error.data or pass a larger buffer`,
    );
    this.data = data;
  }
}

/**
 * An operation did not finish within its timeout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimeoutError } from "@procs/multiprocessing";
 * assert.equal(new TimeoutError("Timed out after 5 ms").name, "TimeoutError");
 * ```
 */
export class TimeoutError extends ProcessError {}

/**
 * The peer of a connection did not prove it knows the `authkey`, or refused
 * ours. Nothing was read from, or served to, that peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AuthenticationError } from "@procs/multiprocessing";
 * assert.ok(new AuthenticationError("digest received was wrong") instanceof Error);
 * ```
 */
export class AuthenticationError extends ProcessError {}

/**
 * `recv()` was called on a connection whose other end is closed and whose
 * buffered messages have all been read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EOFError, Pipe } from "@procs/multiprocessing";
 * const [a, b] = Pipe();
 * b.close();
 * await assert.rejects(() => a.recv(), EOFError);
 * ```
 */
export class EOFError extends ProcessError {}

/**
 * A `get` found the queue empty (at once when not blocking, after the
 * timeout otherwise).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Empty } from "@procs/multiprocessing";
 * assert.equal(new Empty().name, "Empty");
 * ```
 */
export class Empty extends ProcessError {}

/**
 * A `put` found the queue full (at once when not blocking, after the
 * timeout otherwise).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Full } from "@procs/multiprocessing";
 * assert.equal(new Full().name, "Full");
 * ```
 */
export class Full extends ProcessError {}

/**
 * A barrier was aborted or reset while a party waited on it, or a wait timed
 * out and broke it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BrokenBarrierError } from "@procs/multiprocessing";
 * assert.equal(new BrokenBarrierError().name, "BrokenBarrierError");
 * ```
 */
export class BrokenBarrierError extends ProcessError {}

/**
 * A pool worker died (killed, crashed, out of memory, `exit()`) while it held
 * the task; the pool replaced it and keeps serving.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerLostError } from "@procs/multiprocessing";
 * assert.equal(new WorkerLostError("worker exited with code -9").name, "WorkerLostError");
 * ```
 */
export class WorkerLostError extends ProcessError {}

/**
 * A key was not found in a managed dict (Python's `KeyError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeyError } from "@procs/multiprocessing";
 * assert.equal(new KeyError("'x'").name, "KeyError");
 * ```
 */
export class KeyError extends ProcessError {}

/**
 * The server of a manager failed while handling a request (not the
 * referent raising): the message and `cause` carry the server's stack.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RemoteError } from "@procs/multiprocessing";
 * assert.equal(new RemoteError("boom").name, "RemoteError");
 * ```
 */
export class RemoteError extends ProcessError {}

/**
 * Python's `RuntimeError`, raised where CPython's `multiprocessing` raises
 * it: a child started a process, a `Pool` or a manager while it was still
 * importing the module of the function it runs (its bootstrapping phase).
 * That happens when a program starts processes at its top level instead of
 * under `if (import.meta.main)`; every child would import the module and
 * start more children, for ever. The message says to add the guard.
 *
 * @example The guard that keeps a child from starting children on import
 * ```ts
 * import assert from "node:assert/strict";
 * import { Process, RuntimeError } from "@procs/multiprocessing";
 *
 * export function work() {}
 *
 * // Without this guard, each child would start a child when it imports
 * // this module, and fail with a RuntimeError saying so.
 * if (import.meta.main) {
 *   const p = new Process({ target: work });
 *   p.start();
 *   await p.join();
 *   assert.equal(p.exitcode, 0);
 *   assert.equal(new RuntimeError("bootstrapping").name, "RuntimeError");
 * }
 * ```
 */
export class RuntimeError extends ProcessError {}

/** Every error class above by name, for rebuilding errors that crossed a process boundary. */
export const LIBRARY_ERRORS: Readonly<Record<string, new (message?: string) => Error>> = {
  ProcessError,
  ValueError,
  OSError,
  PermissionError,
  TimeoutError,
  AuthenticationError,
  EOFError,
  Empty,
  Full,
  BrokenBarrierError,
  WorkerLostError,
  KeyError,
  RemoteError,
  RuntimeError,
};
