/**
 * Python's `multiprocessing` for Deno and Bun: `Process`, `Pipe`, and the
 * start methods `"spawn"` (real OS processes, the default) and `"worker"`
 * (Web Workers sharing memory).
 *
 * Names follow Python, spelled the JavaScript way (`isAlive()`,
 * `currentProcess()`); whatever may wait on another process returns a
 * Promise (`await p.join()`, `await conn.recv()`); time is in milliseconds.
 *
 * @example Start a child and talk to it through a pipe
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Connection, Pipe, Process } from "@procs/multiprocessing";
 *
 * export async function greet(conn: Connection, name: string) {
 *   await conn.send(`hello,${name}`);
 *   conn.close();
 * }
 *
 * if (import.meta.main) {
 *   const [receiver, sender] = Pipe();
 *   const p = new Process({ target: greet, args: [sender, "kel"] });
 *   p.start();
 *   assert.equal(await receiver.recv(), "hello,kel");
 *   await p.join();
 *   assert.equal(p.exitcode, 0);
 * }
 * ```
 *
 * @module
 */

import "./src/install.ts";

export {
  activeChildren,
  cpuCount,
  currentProcess,
  parentProcess,
  Process,
  type ProcessBaseOptions,
  type ProcessOptions,
  TERMINATE_GRACE_MS,
} from "./src/core/process.ts";
export { Connection, Pipe } from "./src/core/connection.ts";
export {
  type Address,
  Client,
  type ClientOptions,
  DEFAULT_MAX_MESSAGE_SIZE,
  Listener,
  type ListenerOptions,
} from "./src/core/listener.ts";
export {
  type ApplyAsyncArguments,
  AsyncResult,
  type InitArguments,
  type MapOptions,
  Pool,
  type PoolBaseOptions,
  type PoolOptions,
  type TaskOptions,
} from "./src/core/pool.ts";
export type {
  AnyFunction,
  Arguments,
  KeywordParameter,
  KeywordSplit,
  MapItem,
  MethodKeys,
  PositionalArguments,
  StarItem,
  TargetArguments,
  Undeclared,
} from "./src/core/types.ts";
export {
  type AutoProxy,
  BaseManager,
  BaseProxy,
  DictProxy,
  ListProxy,
  Manager,
  type ManagerOptions,
  type ManagerServer,
  NamespaceProxy,
  SyncManager,
} from "./src/core/managers.ts";
export { JoinableQueue, Queue, type QueueOptions, SimpleQueue } from "./src/core/queues.ts";
export {
  type AcquireOptions,
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
  SemLock,
} from "./src/core/synchronize.ts";
export {
  type CValue,
  type LockOption,
  type RawTypedArray,
  SharedArray,
  type SharedOptions,
  Synchronized,
  SynchronizedArray,
  SynchronizedBase,
  type Typecode,
  type TypecodeArrays,
  type TypecodeInput,
  type TypecodeValues,
  Value,
} from "./src/core/sharedctypes.ts";
export {
  Context,
  getAllStartMethods,
  getContext,
  getStartMethod,
  RawArray,
  RawValue,
  setStartMethod,
  type StartMethod,
} from "./src/core/context.ts";
export {
  AuthenticationError,
  BrokenBarrierError,
  BufferTooShort,
  Empty,
  EOFError,
  Full,
  KeyError,
  OSError,
  PermissionError,
  ProcessError,
  RemoteError,
  RuntimeError,
  TimeoutError,
  ValueError,
  WorkerLostError,
} from "./src/core/errors.ts";
