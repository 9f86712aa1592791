/**
 * The life of a child, once its entry module has installed the host: prove
 * the key to the parent, receive what to run, run it, report an uncaught
 * error as Python does, settle its own children, flush every channel, exit.
 * If the parent goes away first, the child exits at once: no orphans.
 *
 * @module
 */

import { decode } from "./_wire/codec.ts";
import { type Channel, onMessage } from "./_wire/channel.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import type { Bootstrap, Message } from "./_wire/protocol.ts";
import { getHost } from "./host.ts";
import { processState, setProcessState } from "./_state.ts";
import { setDefaultStartMethod } from "./_start_method.ts";
import { rebuildCallable } from "./reduction.ts";
import {
  type Process,
  rebuildProcess,
  type RebuildState,
  setCurrentProcess,
  settleChildrenAtExit,
} from "./process.ts";
import { fromHex } from "./_util.ts";
import { SystemExit } from "./_exit.ts";

let onStart: ((message: Message<"start">) => void) | null = null;
onMessage("start", (_channel, message) => onStart?.(message));

let exiting = false;

/** A module named like a test file (`x_test.ts`, `x.test.ts`, `x.spec.js`...). */
const TEST_FILE = /[._](test|spec)\.[cm]?[jt]sx?$/;

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Says what ends this child as Python does ("Process <name>:" and the stack
 * on stderr), and tells the parent too: a pool that gives up on workers
 * failing at start-up, or a manager whose server never got ready, shows
 * the child's error (with its advice) in the parent's own error.
 */
function reportFailure(channel: Channel, error: unknown): void {
  getHost().writeStderr(`Process ${processState().name}:\n${describeError(error)}\n`);
  const said = error instanceof Error ? error : new Error(String(error));
  try {
    channel.send(["failed", said]);
  } catch {
    // Not copyable as it is (a field holds a function...): its words still are.
    const words = new Error(said.message);
    words.name = said.name;
    words.stack = said.stack;
    try {
      channel.send(["failed", words]);
    } catch {
      // Too large to send: stderr has said it.
    }
  }
}

/** Runs the child described by `bootstrapLine`; never returns. */
export async function runChild(
  bootstrapLine: string,
  shared: SharedArrayBuffer[] = [],
): Promise<never> {
  const host = getHost();
  const boot = JSON.parse(bootstrapLine.trim()) as Bootstrap;
  const nodeKey = fromHex(boot.nodeKey);
  setProcessState({
    name: "<starting>",
    identity: [],
    counter: 0,
    authkey: nodeKey,
    nodeKey,
    daemon: false,
    pid: host.pid,
    ident: host.pid,
    startMethod: boot.startMethod,
    parent: null,
  });
  // The parent's socket closing ends this child only while its event loop
  // turns: a watchdog thread ends an OS process whose main thread is busy
  // (user code), or that is still connecting when the parent dies.
  if (host.launchers[boot.startMethod].capabilities.osProcess) {
    host.child.watchParent(boot.parentPid);
  }
  // A child inherits the start method that started it, as CPython's
  // spawn.prepare() sets it: its default Process, Pool and Manager use it.
  setDefaultStartMethod(boot.startMethod, true);
  const node = localEndpoint();
  let channel: Channel;
  try {
    channel = await node.channelTo(boot.address);
  } catch (error) {
    host.writeStderr(
      `@procs/multiprocessing: the child could not reach its parent: ${describeError(error)}\n`,
    );
    return host.exit(1);
  }
  node.parentChannel = channel;
  channel.keepsAlive = true;
  channel.onClose(() => {
    // The parent is gone (even SIGKILL closes its sockets): no orphans.
    if (!exiting) host.exit(1);
  });
  const [, h, args, kwargs, fields] = await new Promise<Message<"start">>((resolve) => {
    onStart = resolve;
    channel.send(["hello", boot.token]);
  });
  // Making the test modules inert costs Bun ~12 ms: do it only under a test
  // runner (the host knows its convention) or when a module to import is a test file.
  const modules = [h.target, h.cls, ...h.functions].flatMap((spec) => spec?.modules ?? []);
  if (host.underTestRunner() || modules.some((url) => TEST_FILE.test(url))) {
    host.child.isolateTestRunner();
  }
  const state = processState();
  state.name = h.name;
  state.identity = h.identity;
  state.daemon = h.daemon;
  state.authkey = h.authkey;
  state.ident = h.ident;
  state.parent = h.parent;

  // An error thrown outside run()'s own flow (a timer, a stray promise)
  // ends the child as an uncaught error in run() would; Bun would otherwise
  // keep running while the entry's top-level await is pending.
  const uncaught = (error: unknown) => {
    if (error instanceof SystemExit) return void exitChild(error.code);
    reportFailure(channel, error);
    exitChild(1);
  };
  host.child.trapExit((exitCode) => {
    throw new SystemExit(exitCode);
  });
  host.child.onUncaught(uncaught);

  let code = 0;
  try {
    const target = h.target ? await rebuildCallable(h.target) : null;
    const functions = await Promise.all(h.functions.map(rebuildCallable));
    const rebuild: RebuildState = {
      name: h.name,
      identity: h.identity,
      daemon: h.daemon,
      target,
      args: decode(args as Uint8Array, { functions, shared }) as unknown[],
      kwargs: decode(kwargs as Uint8Array, { functions, shared }) as
        | Record<string, unknown>
        | undefined,
      pid: h.pid,
      ident: h.ident,
    };
    let self: Process;
    if (h.cls) {
      const cls = await rebuildCallable(h.cls);
      self = rebuildProcess(rebuild, cls);
      Object.assign(self, decode(fields as Uint8Array, { functions, shared }));
    } else {
      self = rebuildProcess(rebuild);
    }
    setCurrentProcess(self);
    await self.run();
  } catch (error) {
    if (error instanceof SystemExit) code = error.code;
    else {
      reportFailure(channel, error);
      code = 1;
    }
  }
  return await exitChild(code);
}

/** Settles children, flushes every channel, and exits with `code`. */
let exitStarted = false;

export async function exitChild(code: number): Promise<never> {
  const host = getHost();
  if (exitStarted) return await new Promise<never>(() => {});
  exitStarted = true;
  try {
    await settleChildrenAtExit();
  } catch (error) {
    host.writeStderr(`@procs/multiprocessing: ${describeError(error)}\n`);
  }
  exiting = true;
  // Owners of what this process holds learn it ended normally (see _shared.ts).
  await localEndpoint().closeAll(code === 0);
  localEndpoint().dispose();
  return host.exit(code);
}
