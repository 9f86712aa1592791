/**
 * How `Process.start()` launches a child (CPython's `popen_*` modules): it
 * encodes what the child runs (target, arguments, a subclass's fields), so
 * a value that cannot be copied fails before any child exists; writes the
 * bootstrap line; has the start method's launcher start the child; waits
 * for its `"hello"` (the table of children still to say it, and the
 * handler); answers with `"start"`; and, once the child exited, waits for
 * its channel to deliver what is left. The child's side is `_child.ts`.
 *
 * @module
 */

import { requirePermissions } from "./_permissions.ts";
import type { ChildHandle, ExitStatus, StartMethod } from "./host.ts";
import { encode, type EncodeContext } from "./_wire/codec.ts";
import { type Channel, onMessage } from "./_wire/channel.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import { getHost } from "./host.ts";
import { processState } from "./_state.ts";
import { type CallableSpec, describeCallable, type LibraryTarget } from "./reduction.ts";
import type { Bootstrap, StartHeader } from "./_wire/protocol.ts";
import { deferred, randomId, toHex, unrefTimeout } from "./_util.ts";

/** Milliseconds join() waits, after a child exited, for its channel to deliver what is left. */
const CHANNEL_CLOSE_GRACE_MS = 2000;

/** Library functions a child runs as targets, with the module that exports them. */
const libraryTargets = new Map<unknown, LibraryTarget>();

/** @internal Registers a library function a child may run (see `LIBRARY_TARGETS`). */
export function registerLibraryTarget(
  fn: (...args: never[]) => unknown,
  name: LibraryTarget,
): void {
  libraryTargets.set(fn, name);
}

/** Children waiting for their "hello", by token. */
const waitingChildren = new Map<string, (channel: Channel) => void>();

onMessage("hello", (channel, [, token]) => {
  const waiter = waitingChildren.get(token);
  if (!waiter) {
    channel.destroy();
    return;
  }
  waitingChildren.delete(token);
  waiter(channel);
});

// A child says what ended it before it exits (see _child.ts): kept with its
// channel until the parent reads it when the child has finished.
onMessage("failed", (channel, [, error]) => {
  channel.attachments.set("failed", error);
});

/** Who a child is, as its `Process` object says when the child says hello. */
export type ChildIdentity = Pick<StartHeader, "name" | "identity" | "daemon" | "authkey">;

/** @internal What `Process.start()` hands {@linkcode Popen}: the child to launch. */
export interface PopenOptions {
  /** The start method. */
  readonly method: StartMethod;
  /** Where the child looks for the functions it is given. */
  readonly modules: string[];
  /** The target function, or null. */
  readonly target: ((...args: unknown[]) => unknown) | null;
  /** The `Process` subclass the child rebuilds, or null. */
  readonly cls: ((...args: never[]) => unknown) | null;
  /** The target's positional arguments. */
  readonly args: unknown[];
  /** The target's keyword arguments. */
  readonly kwargs: Record<string, unknown> | undefined;
  /** A subclass's own fields (empty for a plain `Process`). */
  readonly fields: object;
  /** Whether the child is a daemon (it does not keep this program alive). */
  readonly daemon: boolean;
  /** Who the child is, read when it says hello. */
  identity(): ChildIdentity;
}

/**
 * @internal A launched child (CPython's `Popen`): made by `Process.start()`,
 * which keeps the process-wide bookkeeping (children, exit hooks, exit code).
 */
export class Popen {
  /** The launcher's handle on the child. */
  readonly handle: ChildHandle;
  /** Whether the child is an OS process (a signal ends it at once), not a worker. */
  readonly osProcess: boolean;
  /** The OS pid: the child's own under "spawn", the parent's under "worker". */
  readonly pid: number;
  /** The child's identifier in the tree: its pid, or a number unique to the worker. */
  readonly ident: number;
  /**
   * How the child ended, once everything it sent on its channel was
   * handled (a failed child's unused tickets are dropped by then).
   */
  readonly finished: Promise<ExitStatus>;
  /**
   * The error that ended the child, as it said before exiting (set by the
   * time {@linkcode Popen.finished} resolves); null if it said none.
   */
  failure: Error | null = null;

  /**
   * Encodes what the child runs and launches it; throws (a `TypeError`
   * naming where the value sits) before any child exists when a value
   * cannot be copied.
   */
  constructor(options: PopenOptions) {
    const { method, modules } = options;
    requirePermissions({ method, modules });
    const state = processState();
    const host = getHost();
    const launcher = host.launchers[method];
    const node = localEndpoint();

    // Everything the child needs is encoded now, so a value that cannot be
    // copied fails here, before any child exists.
    const tickets: (() => void)[] = [];
    const functions: CallableSpec[] = [];
    const shared: SharedArrayBuffer[] = [];
    const context: EncodeContext = {
      onTicket: (drop) => tickets.push(drop),
      describeFunction: (fn) => describeCallable(fn, modules),
      functions,
      shareMemory: launcher.capabilities.sharedMemory,
      shared,
    };
    const library = libraryTargets.get(options.target);
    const spec = options.target
      ? library
        ? { ...describeCallable(options.target as never, []), library }
        : describeCallable(options.target as never, modules)
      : null;
    const cls = options.cls ? describeCallable(options.cls, modules) : null;
    const args = encode(options.args, context, "args");
    const kwargs = encode(options.kwargs, context, "kwargs");
    const fields = encode(options.fields, context, "this");

    const address = node.ensureServer();
    const token = randomId();
    const osProcess = launcher.capabilities.osProcess;
    const handle = launcher.launch({
      bootstrap: JSON.stringify(
        {
          address,
          token,
          nodeKey: toHex(state.nodeKey),
          startMethod: method,
          parentPid: host.pid,
        } satisfies Bootstrap,
      ),
      shared,
    });
    if (options.daemon) handle.unref();
    this.handle = handle;
    this.osProcess = osProcess;
    this.pid = handle.pid;
    this.ident = osProcess ? handle.pid : crypto.getRandomValues(new Uint32Array(1))[0];

    const connected = deferred<Channel | null>();
    waitingChildren.set(token, (channel) => {
      channel.send([
        "start",
        {
          ...options.identity(),
          pid: this.pid,
          ident: this.ident,
          parent: { name: state.name, pid: state.pid, ident: state.ident, address },
          target: spec,
          cls,
          functions: functions as CallableSpec[], // filled by describeCallable
        },
        args,
        kwargs,
        fields,
      ]);
      connected.resolve(channel);
    });
    this.finished = (async () => {
      const status = await handle.exited;
      waitingChildren.delete(token);
      connected.resolve(null);
      // Everything the child sent on its channel is handled before join()
      // returns: wait for the channel to close too.
      const channel = await connected.promise;
      if (channel && !channel.closed && !osProcess) {
        // A worker's socket closes only when its runtime is torn down, after
        // its last line of code ran: until then a terminated worker may still
        // be running (a runtime that could not stop it), so it is not
        // reported dead. No descendant can hold a worker's socket.
        await new Promise<void>((resolve) => channel.onClose(resolve));
      } else if (channel && !channel.closed) {
        // A dead process's socket closes at once; should a descendant have
        // inherited it, stop waiting after a grace period rather than hang.
        let cancel = () => {};
        await Promise.race([
          new Promise<void>((resolve) => channel.onClose(resolve)),
          new Promise<void>((resolve) => (cancel = unrefTimeout(resolve, CHANNEL_CLOSE_GRACE_MS))),
        ]);
        cancel();
        channel.destroy();
      }
      // A child that ended normally attached every handle it was given (its
      // arguments are decoded before run()), perhaps over another channel
      // whose attach is still in flight: only a failed child may have left
      // tickets unused.
      if (status.code !== 0) { for (const drop of tickets) drop(); }
      const failure = channel?.attachments.get("failed");
      if (failure instanceof Error) this.failure = failure;
      return status;
    })();
  }
}
