/**
 * The wire protocol: every operation processes send each other, with the
 * shape of its message, in one place. {@linkcode onMessage},
 * `Channel.send`, {@linkcode request} and {@linkcode onRequest} (in
 * `channel.ts` and `rpc.ts`) take their types from here, so a sender and its handler that
 * disagree on a field, or an operation nobody declared, do not compile.
 *
 * A message on a channel is `[op, ...fields]`, encoded by `codec.ts`. A
 * request is a `"req"` message carrying a request operation and its
 * arguments; its reply is a `"res"` message.
 *
 * @module
 */

import type { CallableSpec } from "../reduction.ts";
import type { StartMethod } from "../host.ts";

/** One end of a pipe: 0 or 1. */
export type PipeEnd = 0 | 1;

/**
 * The first line a child reads: how to reach its parent and prove itself.
 * Built by `Process.start()`, read by the child's bootstrap.
 */
export interface Bootstrap {
  /** The parent's endpoint address. */
  readonly address: string;
  /** The tree's key, hex. */
  readonly nodeKey: string;
  /** The token the child says `hello` with. */
  readonly token: string;
  /** How the child was started. */
  readonly startMethod: StartMethod;
  /** The parent's OS pid: a "spawn" child ends when it is no longer its parent. */
  readonly parentPid: number;
}

/** What a child is told about itself in its `start` message. */
export interface StartHeader {
  /** `Process.name`. */
  readonly name: string;
  /** `Process._identity`. */
  readonly identity: number[];
  /** Whether the child is a daemon. */
  readonly daemon: boolean;
  /** `Process.authkey`. */
  readonly authkey: Uint8Array;
  /** The child's pid as its parent knows it. */
  readonly pid: number;
  /** The child's identifier in the tree. */
  readonly ident: number;
  /** The parent, as `parentProcess()` shows it, and its endpoint address. */
  readonly parent: { name: string; pid: number; ident: number; address: string };
  /** The target function, or null. */
  readonly target: CallableSpec | null;
  /** The `Process` subclass to rebuild, or null. */
  readonly cls: CallableSpec | null;
  /** Functions passed in the arguments, by their index in the encoded values. */
  readonly functions: CallableSpec[];
}

/**
 * Every message operation and its fields (after the operation name).
 * Adding an operation is adding a line here; its handler and its senders
 * are then checked against it.
 */
export interface Messages {
  /** child → parent: the child connected, proving `token`. */
  hello: [token: string];
  /** parent → child: who it is and what to run (args, kwargs and fields encoded). */
  start: [header: StartHeader, args: Uint8Array, kwargs: Uint8Array, fields: Uint8Array];
  /** A process ends cleanly: nothing it held needs releasing by the other side. */
  goodbye: [];
  /**
   * child → parent: the error that ends the child (its module, its target or
   * something it left running threw), so the parent can say it too.
   */
  failed: [error: Error];
  /** A request (see {@linkcode Requests}); `id` 0 wants no reply. */
  req: RequestFields;
  /** The reply to request `id`: its value, or the error it threw. */
  res: [id: number, ok: boolean, value: unknown];
  /** Another process's count on shared object `id`: holds, and a ticket's delta. */
  "shared.ref": [
    id: string,
    hold: number,
    ticket: string | null,
    delta: number | "cancel",
    ident: number,
  ];
  /** A copy of pipe `id`'s `end`, arrived with `ticket`, attaches to its owner. */
  "pipe.attach": [id: string, end: PipeEnd, ticket: string];
  /** A copy sends `data` out of `end` (and acknowledges what it read). */
  "pipe.send": [id: string, end: PipeEnd, data: Uint8Array, ticket: string, acks?: number[]];
  /** A copy read the messages `seqs`. */
  "pipe.ack": [ticket: string, seqs: number[]];
  /** A copy closed. */
  "pipe.close": [ticket: string];
  /** A copy sent its end on with `ticket`; its unread messages `unread` go with it. */
  "pipe.ticket": [id: string, end: PipeEnd, ticket: string, from: string, unread: number[]];
  /** A ticket that was never used (its message was dropped). */
  "pipe.drop": [id: string, end: PipeEnd, ticket: string];
  /** owner → copy: a message, and the bytes of the copy's writes read so far. */
  "pipe.push": [ticket: string, seq: number, data: Uint8Array, read?: number];
  /** owner → copy: give back the messages you have not read. */
  "pipe.reclaim": [ticket: string];
  /** copy → owner: the unread messages `seqs` go back. */
  "pipe.giveback": [ticket: string, seqs: number[]];
  /** owner → copy: the bytes of the copy's writes read so far. */
  "pipe.credit": [ticket: string, read: number];
  /** owner → copy: the other end closed. */
  "pipe.eof": [ticket: string];
  /** queue owner → borrower: give back the items you were lent. */
  "queue.recall": [key: string];
}

/** An operation name. */
export type Op = keyof Messages;

/** A message of operation `K`: its name, then its fields. */
export type Message<K extends Op = Op> = { [P in K]: [P, ...Messages[P]] }[K];

/**
 * Every request operation: the arguments it takes and the value it
 * resolves with.
 */
export interface Requests {
  /** A call of an exposed method on shared object `id`, by process `ident`. */
  obj: { args: [id: string, method: string, ident: number, args: unknown[]]; reply: unknown };
  /** How many objects a manager's server holds. */
  "manager.count": { args: []; reply: number };
  /** A manager makes an object of the type registered as `typeid`. */
  "manager.create": { args: [typeid: string, args: unknown[]]; reply: ManagerCreated };
}

/**
 * What `"manager.create"` answers: the new object's id (and more for some
 * types), and the ticket of each id the client settles when it rebuilds its
 * proxy (see `ownFor` in `_shared.ts`).
 */
export interface ManagerCreated {
  /** The object's id in the manager's server. */
  id: string;
  /** The id of a condition's lock. */
  lockId?: string;
  /** The methods of a registered type's object. */
  methods?: string[];
  /** The ticket of each id above, by id. */
  tickets: Record<string, string>;
}

/** A request operation name. */
export type RequestOp = keyof Requests;

/** The fields of a `"req"` message: its id, then the request and its arguments. */
export type RequestFields = {
  [K in RequestOp]: [id: number, op: K, ...args: Requests[K]["args"]];
}[RequestOp];

// ------------------------------------------------- messages over a Connection

/**
 * One task as a pool sends it to a worker: its id, the key of its function
 * (with the function's spec the first time that worker is sent it), its
 * encoded arguments, whether each item is spread into the call (`starmap`),
 * whether the payload is one argument list rather than a chunk of items,
 * and the functions passed in the arguments.
 */
export type PoolTask = [
  id: number,
  fnKey: string,
  spec: CallableSpec | null,
  payload: Uint8Array,
  star: boolean,
  single: boolean,
  functions: CallableSpec[],
];

/**
 * Every message a pool and one of its workers send each other over their
 * `Connection` (`pool.ts` the parent side, `_pool_worker.ts` the child's).
 * Senders write `[...] satisfies PoolMessage`; receivers narrow
 * {@linkcode PoolCommand} and {@linkcode PoolReport}, so a change of shape
 * on one side is a compile error on the other.
 */
export type PoolMessage =
  /** worker → pool: the initializer ran; send tasks. */
  | [kind: "ready"]
  /** pool → worker: a batch of tasks to run in order. */
  | [kind: "tasks", tasks: PoolTask[]]
  /** worker → pool: the encoded `[id, ok, value]` replies of tasks run so far. */
  | [kind: "done", replies: Uint8Array[]]
  /** pool → worker: no more work; exit. */
  | [kind: "stop"];

/** What a pool sends its worker. */
export type PoolCommand = Extract<PoolMessage, { 0: "tasks" | "stop" }>;

/** What a pool worker sends its pool. */
export type PoolReport = Extract<PoolMessage, { 0: "ready" | "done" }>;

/**
 * Every message a manager and its server process send each other over their
 * `Connection` (`managers.ts` the owner's side, `_manager_server.ts` the
 * server's).
 */
export type ManagerMessage =
  /** server → owner: serving, at `address`. */
  | [kind: "ready", address: string]
  /** owner → server: stop serving and exit. */
  | "shutdown";

/** What a manager sends its server process. */
export type ManagerCommand = Extract<ManagerMessage, string>;

/** What a manager's server process sends its manager. */
export type ManagerReport = Exclude<ManagerMessage, string>;
