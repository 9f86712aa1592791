/**
 * The server side of a manager: what runs in its server process (or in
 * the program that calls `getServer()`). `serve()` makes this process a
 * server for the registered types; the `"manager.create"` and
 * `"manager.count"` requests make objects (their cores, `_manager_cores.ts`,
 * or the cores of queues, locks and values) and count them;
 * {@linkcode managerServerLoop} is the server process's target, which says
 * `"ready"` to its owner and serves until told `"shutdown"`.
 *
 * @module
 */

import type { Connection } from "./connection.ts";
import type {
  ManagerCommand,
  ManagerCreated as Created,
  ManagerMessage,
} from "./_wire/protocol.ts";
import type { Channel } from "./_wire/channel.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import { onRequest } from "./_wire/rpc.ts";
import { ownedCount, ownFor, type SharedCore } from "./_shared.ts";
import { processState } from "./_state.ts";
import { RemoteError } from "./errors.ts";
import { _queueCore } from "./queues.ts";
import { _syncCores } from "./synchronize.ts";
import { _memoryCore, type CValue, type Typecode } from "./sharedctypes.ts";
import { DictCore, InstanceCore, ListCore, NamespaceCore } from "./_manager_cores.ts";

/** A registered type: its id, the callable that makes instances, the methods it exposes. */
export type Registration = [
  typeid: string,
  callable: ((...args: unknown[]) => unknown) | null,
  exposed: string[] | null,
];

const serverTypes = new Map<string, Registration>();
let serving = false;

/** How the server makes one of a `SyncManager`'s types: the object's core (and its lock's, for a Condition). */
type SyncFactory = (args: unknown[], own: (core: SharedCore) => string) => Omit<Created, "tickets">;

/**
 * Every type a `SyncManager` makes, by typeid: how its server makes the
 * object (`SYNC_HANDLES` in `managers.ts` is how a client holds it; the
 * type checker keeps the two tables to the same typeids).
 */
export const SYNC_FACTORIES = {
  dict: ([init], own) => ({ id: own(new DictCore(init as Record<string, unknown>)) }),
  list: ([init], own) => ({ id: own(new ListCore(init as unknown[])) }),
  Namespace: ([init], own) => ({ id: own(new NamespaceCore(init as Record<string, unknown>)) }),
  Queue: ([maxsize], own) => ({ id: own(_queueCore(maxsize as number)) }),
  JoinableQueue: ([maxsize], own) => ({ id: own(_queueCore(maxsize as number)) }),
  Lock: (_args, own) => ({ id: own(_syncCores.Lock()) }),
  RLock: (_args, own) => ({ id: own(_syncCores.RLock()) }),
  Semaphore: ([value], own) => ({ id: own(_syncCores.Semaphore(value as number)) }),
  BoundedSemaphore: ([value], own) => ({ id: own(_syncCores.BoundedSemaphore(value as number)) }),
  Event: (_args, own) => ({ id: own(_syncCores.Event()) }),
  Condition: (_args, own) => {
    const [condition, lock] = _syncCores.Condition();
    return { id: own(condition), lockId: own(lock) };
  },
  Barrier: ([parties, hasAction], own) => ({
    id: own(_syncCores.Barrier(parties as number, hasAction as boolean)),
  }),
  Value: ([typecode, value], own) => ({
    id: own(_memoryCore(typecode as Typecode, [value as CValue])),
  }),
  Array: ([typecode, init], own) => ({
    id: own(_memoryCore(typecode as Typecode, init as number | CValue[])),
  }),
} satisfies Record<string, SyncFactory>;

/** The typeid of one of a `SyncManager`'s types. */
export type SyncTypeId = keyof typeof SYNC_FACTORIES;

function publicMethods(instance: object): string[] {
  const names = new Set<string>();
  for (let o = instance; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name === "constructor" || name.startsWith("_")) continue;
      if (typeof (instance as Record<string, unknown>)[name] === "function") names.add(name);
    }
  }
  return [...names];
}

function create(typeid: string, args: unknown[], channel: Channel | null): Created {
  const tickets: Record<string, string> = {};
  const own = (core: SharedCore): string => {
    const { id, ticket } = ownFor(core, channel);
    tickets[id] = ticket;
    return id;
  };
  const made = make(typeid, args, own);
  return { ...made, tickets };
}

function make(
  typeid: string,
  args: unknown[],
  own: (core: SharedCore) => string,
): Omit<Created, "tickets"> {
  const builtin = Object.hasOwn(SYNC_FACTORIES, typeid)
    ? (SYNC_FACTORIES as Record<string, SyncFactory>)[typeid]
    : undefined;
  if (builtin) return builtin(args, own);
  const registration = serverTypes.get(typeid);
  if (!registration || !registration[1]) {
    throw new TypeError(
      `The manager has no type '${typeid}' it can make (register it with a callable)`,
    );
  }
  let instance: unknown;
  try {
    instance = registration[1](...args);
  } catch (error) {
    throw new RemoteError(
      `Making a '${typeid}' failed in the manager's server: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  }
  if (instance === null || (typeof instance !== "object" && typeof instance !== "function")) {
    throw new RemoteError(
      `The callable registered for '${typeid}' returned ${String(instance)}, not an object`,
    );
  }
  const methods = registration[2] ?? publicMethods(instance as object);
  return {
    id: own(new InstanceCore(instance as Record<string, unknown>, new Set(methods))),
    methods,
  };
}

onRequest("manager.create", (caller, [typeid, args]) => {
  if (!serving) throw new TypeError("This process is not a manager's server");
  return create(typeid, args, caller);
});

onRequest("manager.count", () => {
  if (!serving) throw new TypeError("This process is not a manager's server");
  return ownedCount();
});

/** @internal Makes this process a manager's server for `registrations`. */
export function serve(registrations: Registration[]): void {
  serving = true;
  for (const r of registrations) serverTypes.set(r[0], r);
}

/**
 * @internal The loop of a manager's server process: serve, report the
 * address, run until told to shut down (or the owner is gone).
 */
export async function managerServerLoop(
  conn: Connection,
  registrations: Registration[],
  listenAddress: string | null,
  authkey: Uint8Array | null,
  maxMessageSize?: number,
): Promise<void> {
  serve(registrations);
  const node = localEndpoint();
  const address = node.ensureServer();
  const extra = listenAddress
    ? node.listen(listenAddress, authkey ?? processState().nodeKey, { maxMessageSize })
    : null;
  await conn.send(["ready", extra?.address ?? address] satisfies ManagerMessage);
  try {
    while ((await conn.recv() as ManagerCommand) !== "shutdown") {
      // only "shutdown" is expected
    }
  } catch {
    // the owner is gone
  }
  extra?.close();
  conn.close();
}
