/**
 * Managers, as Python's `multiprocessing.managers`: a server process that
 * owns shared objects (dicts, lists, namespaces, queues, locks, values, and
 * your own registered types), and proxies to them whose methods return
 * Promises. Proxies travel to children as arguments and work there; a proxy
 * stored inside another proxied container stays a live proxy.
 *
 * Lifetimes, as CPython's `incref`/`decref`: the server frees an object
 * (its entry and the referent) when nothing holds it any more. Every proxy
 * holds its object, in whatever process it lives: the creating process's,
 * a child's (from its arguments), one inside a queue item on its way, and
 * one stored inside another managed dict, list or namespace (held for as
 * long as it is stored there). A proxy lets go with `close()` (or
 * `[Symbol.dispose]`, `using`), or when it is garbage-collected; a process
 * that dies, and a `connect()`ed program whose connection closes, let go of
 * everything they held. Calls on a closed proxy, and on an object already
 * freed, fail with `OSError`. A method call costs no extra message: only
 * making, closing and sending a proxy do.
 *
 * Every connection to a manager proves its key with the HMAC challenge
 * before a single message is decoded; a proxy reaches only the methods its
 * type exposes; a client can only name registered type ids, never a module
 * or function to run.
 *
 * @module
 */

import type { StartMethod } from "./host.ts";
import {
  type EncodeContext,
  rebuildReduced,
  REDUCE,
  type Reduced,
  registerReducer,
} from "./_wire/codec.ts";
import type { ManagerCreated as Created, ManagerMessage, ManagerReport } from "./_wire/protocol.ts";
import { type Connection, Pipe } from "./connection.ts";
import { checkMaxMessageSize, DEFAULT_MAX_MESSAGE_SIZE } from "./_wire/channel.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import { request } from "./_wire/rpc.ts";
import {
  type CoreArgs,
  type CoreMethod,
  type CoreResult,
  Ref,
  type RefState,
  releaseWhenCollected,
  type SharedCore,
} from "./_shared.ts";
import { defaultStartMethod } from "./_start_method.ts";
import { OSError, RemoteError, ValueError } from "./errors.ts";
import { checkNotBootstrapping, type Process, processClassFor } from "./process.ts";
import { awaitFromChild, fromChild } from "./_remote.ts";
import { registerLibraryTarget } from "./_popen.ts";
import { type CallableSpec, callerModules, describeCallable } from "./reduction.ts";
import { type Address, addressString, keyBytes } from "./listener.ts";
import type { JoinableQueue, Queue } from "./queues.ts";
import type {
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
} from "./synchronize.ts";
import type {
  CValue,
  Synchronized,
  SynchronizedArray,
  Typecode,
  TypecodeInput,
} from "./sharedctypes.ts";
import { parseTcp } from "./_wire/endpoint.ts";
import { toHex } from "./_util.ts";
import { Handoff } from "./_handoff.ts";
import {
  type DictCore,
  type InstanceCore,
  type ListCore,
  type NamespaceCore,
  registerProxyRef,
} from "./_manager_cores.ts";
import { managerServerLoop, type Registration, serve, type SyncTypeId } from "./_manager_server.ts";

/** Where a proxy's method raised, as its `RemoteTraceback` says. */
const IN_SERVER = "the manager's server process";

type Fn = (...args: never[]) => unknown;

// ---------------------------------------------------------------- proxies

/** The reference a new proxy holds, handed by the manager or the decoder that makes it. */
const proxyRefs = new Handoff<Ref>();

/** A proxy of class `cls` holding `ref`. */
function makeProxy<P extends BaseProxy>(cls: new () => P, ref: Ref): P {
  return proxyRefs.build(ref, () => new cls());
}

/**
 * Calls through a proxy of a core of kind `C`, checked against `C`'s
 * methods by the type checker (a renamed method is a compile error).
 */
function callsTo<C extends SharedCore>() {
  return <M extends CoreMethod<C>, T = CoreResult<C, M>>(
    proxy: BaseProxy,
    method: M,
    ...args: CoreArgs<C, M>
  ): Promise<T> => proxy._call<T>(method, ...args);
}

/**
 * The base of the proxies to a manager's dicts, lists and namespaces
 * (Python's `BaseProxy`): each call goes to the object in the server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseProxy, Manager } from "@procs/multiprocessing";
 * await using manager = await Manager();
 * const d = await manager.dict();
 * assert.ok(d instanceof BaseProxy);
 * ```
 */
export abstract class BaseProxy {
  /** @internal */
  readonly _ref: Ref;
  /**
   * Proxies are made by a manager: `manager.dict()`, `manager.list()`, ...
   *
   * @throws {TypeError} when constructed directly
   */
  constructor() {
    const ref = proxyRefs.take();
    if (!ref) {
      throw new TypeError("Proxies are made by a manager: use manager.dict(), manager.list(), ...");
    }
    this._ref = ref;
    registerProxyRef(this, ref);
    // This process's hold goes with the proxy: close(), or when it is collected.
    releaseWhenCollected(this, ref);
  }
  /** @internal */
  _call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this._ref.released) return Promise.reject(closedProxyError(this.constructor.name));
    return awaitFromChild(this._ref.call(method, ...args) as Promise<T>, IN_SERVER);
  }
  /**
   * Lets go of this proxy's hold on its object (at once; a proxy dropped
   * without `close()` lets go when it is garbage-collected). The server
   * frees the object when no proxy holds it in any process and no managed
   * object stores it; calls on this proxy then fail with `OSError`.
   * Closing twice is harmless.
   */
  close(): void {
    this._ref.release();
  }
  /** Closes the proxy (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }
}

function closedProxyError(what: string): OSError {
  return new OSError(
    `${what} is closed: this proxy was closed with close(); use another proxy to the object`,
  );
}

/** Calls of the owner-side cores behind the proxies, typed against their methods. */
const dictCall = callsTo<DictCore>();
const listCall = callsTo<ListCore>();
const namespaceCall = callsTo<NamespaceCore>();

/**
 * A proxy to a dict in a manager's server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Manager } from "@procs/multiprocessing";
 * await using manager = await Manager();
 * const d = await manager.dict();
 * await d.set("a", 1);
 * assert.equal(await d.get("a"), 1);
 * assert.deepEqual(await d.toObject(), { a: 1 });
 * ```
 */
export class DictProxy<K = unknown, V = unknown> extends BaseProxy {
  /** The value of `key`, or `fallback` (undefined) when missing. */
  get(key: K, fallback?: V): Promise<V | undefined> {
    return dictCall(this, "get", key, fallback);
  }
  /** Sets `key` to `value`. */
  set(key: K, value: V): Promise<void> {
    return dictCall(this, "set", key, value);
  }
  /** Whether `key` is present. */
  has(key: K): Promise<boolean> {
    return dictCall(this, "has", key);
  }
  /** Removes `key`; a missing key is a `KeyError`. */
  delete(key: K): Promise<void> {
    return dictCall(this, "delete", key);
  }
  /** The keys. */
  keys(): Promise<K[]> {
    return dictCall(this, "keys");
  }
  /** The values. */
  values(): Promise<V[]> {
    return dictCall(this, "values");
  }
  /** The `[key, value]` pairs. */
  items(): Promise<[K, V][]> {
    return dictCall(this, "items");
  }
  /** Sets every pair of `other` (an object or `[key, value]` pairs). */
  update(other: Record<string, V> | Iterable<[K, V]>): Promise<void> {
    return dictCall(this, "update", other instanceof Map ? [...other] : other);
  }
  /** Removes `key` and returns its value; missing without a fallback is a `KeyError`. */
  pop(key: K, ...fallback: [V?]): Promise<V> {
    return dictCall(this, "pop", key, ...fallback);
  }
  /** The value of `key`, setting it to `value` first when missing. */
  setdefault(key: K, value?: V): Promise<V> {
    return dictCall(this, "setdefault", key, value);
  }
  /** Removes everything. */
  clear(): Promise<void> {
    return dictCall(this, "clear");
  }
  /** How many keys. */
  size(): Promise<number> {
    return dictCall(this, "size");
  }
  /** A plain-object copy (keys as strings). */
  toObject(): Promise<Record<string, V>> {
    return dictCall(this, "toObject");
  }
  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    if (this._ref.released) throw closedProxyError("DictProxy");
    return { type: "DictProxy", state: this._ref.cross(context) };
  }
}

/**
 * A proxy to a list in a manager's server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Manager } from "@procs/multiprocessing";
 * await using manager = await Manager();
 * const l = await manager.list([1]);
 * await l.append(2);
 * assert.deepEqual(await l.toArray(), [1, 2]);
 * ```
 */
export class ListProxy<T = unknown> extends BaseProxy {
  /** Appends `value`. */
  append(value: T): Promise<void> {
    return listCall(this, "append", value);
  }
  /** Appends every value. */
  extend(values: Iterable<T>): Promise<void> {
    return listCall(this, "extend", [...values]);
  }
  /** Item `i` (negative counts from the end); out of range is a `RangeError`. */
  get(i: number): Promise<T> {
    return listCall(this, "get", i);
  }
  /** Sets item `i`. */
  set(i: number, value: T): Promise<void> {
    return listCall(this, "set", i, value);
  }
  /** Inserts `value` before index `i`. */
  insert(i: number, value: T): Promise<void> {
    return listCall(this, "insert", i, value);
  }
  /** Removes and returns item `i` (the last by default). */
  pop(i?: number): Promise<T> {
    return listCall(this, "pop", ...(i === undefined ? [] : [i]));
  }
  /** Removes the first item equal to `value`; none is a `ValueError`. */
  remove(value: T): Promise<void> {
    return listCall(this, "remove", value);
  }
  /** The index of the first item equal to `value`; none is a `ValueError`. */
  index(value: T): Promise<number> {
    return listCall(this, "index", value);
  }
  /** How many items equal `value`. */
  count(value: T): Promise<number> {
    return listCall(this, "count", value);
  }
  /** Sorts numbers or strings in place. */
  sort(options: { reverse?: boolean } = {}): Promise<void> {
    return listCall(this, "sort", options);
  }
  /** Reverses in place. */
  reverse(): Promise<void> {
    return listCall(this, "reverse");
  }
  /** How many items. */
  length(): Promise<number> {
    return listCall(this, "length");
  }
  /** A copy of the items. */
  toArray(): Promise<T[]> {
    return listCall(this, "toArray");
  }
  /** A copy of items `start` to `end`. */
  slice(start?: number, end?: number): Promise<T[]> {
    return listCall(this, "slice", start, end);
  }
  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    if (this._ref.released) throw closedProxyError("ListProxy");
    return { type: "ListProxy", state: this._ref.cross(context) };
  }
}

/**
 * A proxy to a namespace (Python's `Namespace`): attributes by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Manager } from "@procs/multiprocessing";
 * await using manager = await Manager();
 * const ns = await manager.Namespace();
 * await ns.set("x", 1);
 * assert.equal(await ns.get("x"), 1);
 * ```
 */
export class NamespaceProxy extends BaseProxy {
  /** Attribute `name`; a missing one is a `KeyError`. */
  get<T = unknown>(name: string): Promise<T> {
    return namespaceCall(this, "get", name);
  }
  /** Sets attribute `name`. */
  set(name: string, value: unknown): Promise<void> {
    return namespaceCall(this, "set", name, value);
  }
  /** Deletes attribute `name`. */
  delete(name: string): Promise<void> {
    return namespaceCall(this, "delete", name);
  }
  /** Every attribute as a plain object. */
  toObject(): Promise<Record<string, unknown>> {
    return namespaceCall(this, "toObject");
  }
  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    if (this._ref.released) throw closedProxyError("NamespaceProxy");
    return { type: "NamespaceProxy", state: this._ref.cross(context) };
  }
}

/**
 * A proxy to an instance of a registered type: its exposed methods, each
 * returning a Promise. `[Symbol.dispose]()` (and `close()`, unless the type
 * exposes a method of that name) lets go of its hold, as `BaseProxy.close()`.
 */
export type AutoProxy =
  & { readonly [method: string]: (...args: unknown[]) => Promise<unknown> }
  & Disposable;

interface AutoProxyState {
  ref: RefState;
  methods: string[];
}

function autoProxy(ref: Ref<InstanceCore>, methods: string[]): AutoProxy {
  const allowed = new Set(methods);
  const close = () => ref.release();
  const target: Record<string | symbol, unknown> = {
    [REDUCE]: (context: EncodeContext): Reduced => {
      if (ref.released) throw closedProxyError("AutoProxy");
      return {
        type: "AutoProxy",
        state: { ref: ref.cross(context), methods } satisfies AutoProxyState,
      };
    },
    [Symbol.dispose]: close,
  };
  const proxy = new Proxy(target, {
    get(t, name) {
      if (typeof name === "symbol") return t[name];
      if (name === "then") return undefined; // a proxy is not a Promise
      if (!allowed.has(name)) return name === "close" ? close : undefined;
      return (...args: unknown[]) =>
        ref.released
          ? Promise.reject(closedProxyError("AutoProxy"))
          : awaitFromChild(ref.call("invoke", name, args), IN_SERVER);
    },
    has: (t, name) => (typeof name === "symbol" ? name in t : allowed.has(name)),
    ownKeys: () => [...allowed],
  }) as unknown as AutoProxy;
  registerProxyRef(proxy, ref);
  return releaseWhenCollected(proxy, ref);
}

registerReducer("DictProxy", (s) => makeProxy(DictProxy, Ref.fromState(s as RefState)));
registerReducer("ListProxy", (s) => makeProxy(ListProxy, Ref.fromState(s as RefState)));
registerReducer(
  "NamespaceProxy",
  (s) => makeProxy(NamespaceProxy, Ref.fromState(s as RefState)),
);
registerReducer("AutoProxy", (s) => {
  const st = s as AutoProxyState;
  return autoProxy(Ref.fromState<InstanceCore>(st.ref), st.methods);
});

// ---------------------------------------------------------------- managers

// A manager's server process is started at this module, not at
// `_manager_server.ts`: importing it registers the proxies' reducers, which
// the server needs to decode the proxies stored in the objects it owns.
registerLibraryTarget(managerServerLoop as never, "managerServerLoop");

/** @internal The target of a manager's server process (see `_manager_server.ts`). */
export { managerServerLoop };

const registries = new WeakMap<
  object,
  Map<string, { callable: Fn | null; exposed: string[] | null }>
>();

function registryOf(cls: object): Map<string, { callable: Fn | null; exposed: string[] | null }> {
  const mine = registries.get(cls);
  if (mine) return mine;
  const parent = Object.getPrototypeOf(cls);
  const inherited = parent && parent !== Function.prototype ? registryOf(parent) : new Map();
  const copy = new Map(inherited);
  registries.set(cls, copy);
  return copy;
}

/** The options of `new BaseManager(...)`. */
export interface ManagerOptions {
  /** Where the server listens (a unix path or `[host, port]`); a private endpoint when omitted. */
  address?: Address;
  /** The key clients prove (default: `currentProcess().authkey`). */
  authkey?: Uint8Array | string;
  /** The start method of the server process. */
  context?: { getStartMethod(): StartMethod };
  /**
   * The largest message, in bytes, on connections to a server at `address`
   * (default 256 MiB, `DEFAULT_MAX_MESSAGE_SIZE`): a larger frame closes
   * that one connection, and the server goes on serving the others.
   * Without `address` the tree's limit applies (`PROCS_MP_MAX_MESSAGE_SIZE`).
   */
  maxMessageSize?: number;
}

/** A server that runs in this process (from `getServer()`). */
export interface ManagerServer {
  /** Where it listens. */
  readonly address: Address;
  /** Serves until the program ends. */
  serveForever(): Promise<never>;
  /** Stops listening. */
  close(): void;
}

let managerCount = 0;

/**
 * A manager for your own types, reachable from other programs and machines
 * over TCP (Python's `BaseManager`): `register` a type id with the callable
 * that makes its objects, then `start()` a server process, or
 * `getServer().serveForever()` in this one, and `connect()` from elsewhere.
 *
 * @example A queue served on a TCP port (server and client programs)
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseManager, Queue } from "@procs/multiprocessing";
 *
 * const queue = new Queue<string>();
 * export function getQueue(): Queue<string> {
 *   return queue;
 * }
 *
 * // The server program registers the callable and listens (port 0: any free port);
 * // on its own it would then `await server.serveForever()`.
 * class QueueManager extends BaseManager {}
 * QueueManager.register("getQueue", getQueue);
 * const server = new QueueManager({ address: ["127.0.0.1", 0], authkey: "abracadabra" })
 *   .getServer();
 *
 * // The client program (here the same one) registers the id alone and connects.
 * class QueueClient extends BaseManager {}
 * QueueClient.register("getQueue");
 * const m = new QueueClient({ address: server.address, authkey: "abracadabra" });
 * await m.connect();
 * const q = await m.create("getQueue");
 * await q.put("hello");
 * assert.equal(await queue.get(), "hello");
 * server.close();
 * ```
 */
export class BaseManager implements AsyncDisposable {
  readonly #address: string | null;
  readonly #authkey: Uint8Array;
  readonly #maxMessageSize: number | undefined;
  readonly #method: StartMethod;
  readonly #modules: string[];
  #serverAddress: string | null = null;
  #process: Process | null = null;
  #conn: Connection | null = null;
  #state: "initial" | "started" | "shutdown" = "initial";

  /**
   * Registers `typeid`: `manager[typeid](...args)` and `manager.create(typeid, ...args)`
   * make an object with `callable(...args)` in the server and return a
   * proxy to the methods it exposes (`exposed`, or its public methods).
   * A client registers the id without a callable.
   */
  static register(
    typeid: string,
    callable?: Fn | null,
    options: { exposed?: string[] } = {},
  ): void {
    if (typeof typeid !== "string" || !/^[A-Za-z_$][\w$]*$/.test(typeid)) {
      throw new TypeError(`A type id must be an identifier: received ${String(typeid)}`);
    }
    if (callable !== undefined && callable !== null && typeof callable !== "function") {
      throw new TypeError(`The callable registered for '${typeid}' must be a function`);
    }
    registryOf(this).set(typeid, { callable: callable ?? null, exposed: options.exposed ?? null });
    if (!(typeid in this.prototype)) {
      Object.defineProperty(this.prototype, typeid, {
        value: function (this: BaseManager, ...args: unknown[]) {
          return this.create(typeid, ...args);
        },
        configurable: true,
        writable: true,
      });
    }
  }

  /** Makes a manager; nothing runs until `start()`, `connect()` or `getServer()`. */
  constructor(options: ManagerOptions = {}) {
    this.#address = options.address === undefined ? null : addressString(options.address);
    this.#authkey = keyBytes(options.authkey);
    this.#maxMessageSize = options.maxMessageSize === undefined
      ? undefined
      : checkMaxMessageSize(options.maxMessageSize);
    if (this.#address !== null) {
      localEndpoint().setMaxMessageSize(
        this.#address,
        this.#maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      );
    }
    this.#method = options.context?.getStartMethod() ?? defaultStartMethod()!;
    this.#modules = callerModules();
  }

  #registrations(): [string, Fn | null, string[] | null][] {
    return [...registryOf(this.constructor)].map(([id, r]) => [id, r.callable, r.exposed]);
  }

  /** Where the server listens (known after `start()`/`connect()`). */
  get address(): Address | null {
    const a = this.#serverAddress ?? this.#address;
    if (a === null) return null;
    const tcp = parseTcp(a);
    return tcp ? [tcp.host, tcp.port] : a;
  }

  /** Starts the server in a new process (named `<Class>-N`) and connects to it. */
  async start(): Promise<void> {
    if (this.#state !== "initial") {
      throw new ValueError(`The manager has already been ${this.#state}`);
    }
    checkNotBootstrapping(`the server process of ${this.constructor.name}`);
    const method = this.#method;
    const ProcessClass = processClassFor(method);
    const [mine, theirs] = Pipe();
    const usesTreeKey = this.#address === null;
    // A daemon: the manager does not keep its owner's program alive, and
    // ends with it (CPython shuts managers down at exit too).
    const p = new ProcessClass({
      target: managerServerLoop as never,
      args: [
        theirs,
        this.#registrations(),
        this.#address,
        usesTreeKey ? null : this.#authkey,
        this.#maxMessageSize,
      ],
      daemon: true,
    });
    p._useModules(this.#modules);
    p.name = `${this.constructor.name}-${++managerCount}`;
    p.start();
    theirs.close();
    let ready: ManagerReport;
    try {
      ready = await mine.recv() as ManagerReport;
    } catch {
      await p.join();
      // What ended it, as the server process said (its module, with the
      // guard advice, or a registered callable's module failed to load).
      const failure = p._failure;
      throw new RemoteError(
        `The manager's server process ${p.name} exited with code ${p.exitcode} before it was ready` +
          (failure === null ? " (see its stderr)" : `: ${failure.name}: ${failure.message}`),
        failure === null
          ? undefined
          : { cause: fromChild(failure, `the server process ${p.name}`) },
      );
    }
    this.#process = p;
    this.#conn = mine;
    this.#serverAddress = ready[1];
    if (!usesTreeKey) {
      localEndpoint().setKey(this.#serverAddress, this.#authkey);
      localEndpoint().setMaxMessageSize(
        this.#serverAddress,
        this.#maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      );
    }
    this.#state = "started";
  }

  /** Connects to a server already running at `address` (started elsewhere). */
  async connect(): Promise<void> {
    if (this.#state !== "initial") {
      throw new ValueError(`The manager has already been ${this.#state}`);
    }
    if (this.#address === null) {
      throw new ValueError("connect() needs the address of a running server");
    }
    localEndpoint().setKey(this.#address, this.#authkey);
    await localEndpoint().channelTo(this.#address);
    this.#serverAddress = this.#address;
    this.#state = "started";
  }

  /** A server for the registered types that runs in this process. */
  getServer(): ManagerServer {
    if (this.#address === null) throw new ValueError("getServer() needs an address to listen on");
    serve(this.#registrations() as Registration[]);
    const listening = localEndpoint().listen(this.#address, this.#authkey, {
      maxMessageSize: this.#maxMessageSize,
    });
    const tcp = parseTcp(listening.address);
    return {
      address: tcp ? [tcp.host, tcp.port] : listening.address,
      serveForever: () => new Promise<never>(() => {}),
      close: () => listening.close(),
    };
  }

  #checkStarted(): string {
    if (this.#state === "shutdown") {
      throw new ValueError("The manager is shut down: start a new one to make more shared objects");
    }
    if (this.#state !== "started" || !this.#serverAddress) {
      throw new ValueError("The manager is not started: call start() or connect() first");
    }
    return this.#serverAddress;
  }

  /**
   * @internal How many objects the server owns now (each freed when no
   * proxy holds it any more): for tests and benchmarks.
   */
  async _serverObjectCount(): Promise<number> {
    const channel = await localEndpoint().channelTo(this.#checkStarted());
    return await request(channel, "manager.count");
  }

  /** @internal Asks the server to make a `typeid` and returns where it is. */
  async _create(
    typeid: string,
    args: unknown[],
  ): Promise<{ created: Created; ref: (id: string) => Ref; state: (id: string) => RefState }> {
    const address = this.#checkStarted();
    const channel = await localEndpoint().channelTo(address);
    const created = await request(channel, "manager.create", typeid, args);
    const key = this.#address === null ? undefined : toHex(this.#authkey);
    // `state` for a handle rebuilt from it (which makes its own reference), `ref` for a proxy.
    // Each id's ticket goes with the one handle rebuilt from it (see `ownFor`).
    const state = (id: string): RefState => {
      const ticket = created.tickets?.[id];
      if (ticket !== undefined) delete created.tickets[id];
      return { address, id, ...(key ? { key } : {}), ...(ticket ? { ticket } : {}) };
    };
    return { created, ref: (id) => Ref.fromState(state(id)), state };
  }

  /** Makes a registered type's object in the server; resolves with its proxy. */
  async create(typeid: string, ...args: unknown[]): Promise<AutoProxy> {
    if (!registryOf(this.constructor).has(typeid)) {
      throw new TypeError(`'${typeid}' is not registered on ${this.constructor.name}`);
    }
    const { created, state } = await this._create(typeid, args);
    return autoProxy(Ref.fromState<InstanceCore>(state(created.id)), created.methods ?? []);
  }

  /** Stops the server process (a manager from `connect()` only disconnects). */
  async shutdown(): Promise<void> {
    if (this.#state === "shutdown") return;
    this.#state = "shutdown";
    if (this.#conn && this.#process) {
      await this.#conn.send("shutdown" satisfies ManagerMessage).catch(() => {});
      await this.#process.join(5000);
      if (this.#process.exitcode === null) {
        this.#process.terminate();
        await this.#process.join();
      }
      this.#conn.close();
    }
  }

  /** Shuts the manager down (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

// ---------------------------------------------------------------- SyncManager

/** What a handle is made from in the client, once the server made its object. */
interface Made {
  created: Created;
  /** The arguments the server was sent. */
  args: unknown[];
  /** A reference to an object the server made (a proxy's hold). */
  ref: (id: string) => Ref;
  /** The state a handle is rebuilt from, as if it had crossed from the server. */
  state: (id: string) => RefState;
  /** What stays in the client: a barrier's default timeout and action. */
  local?: BarrierLocal;
}

/** What a manager's barrier keeps in the client. */
interface BarrierLocal {
  timeout: number | null;
  spec: CallableSpec | null;
}

/** The queue bound the server keeps for `maxsize`. */
const queueBound = (maxsize: unknown): number =>
  (maxsize as number) > 0 ? Math.floor(maxsize as number) : 0;

/** A shared value or array's handle: no lock (each get/set is one call to the server). */
const memoryHandle = (type: "Value" | "Array", { created, args, state }: Made): unknown =>
  rebuildReduced(type, {
    typecode: args[0],
    length: type === "Value"
      ? 1
      : typeof args[1] === "number"
      ? args[1]
      : (args[1] as CValue[]).length,
    view: null,
    ref: state(created.id),
    lock: null,
  });

/**
 * Every type a `SyncManager` makes, by typeid: how a client holds the
 * object its server made (`SYNC_FACTORIES` in `_manager_server.ts` is how
 * the server makes it).
 */
const SYNC_HANDLES: { readonly [K in SyncTypeId]: (made: Made) => unknown } = {
  dict: ({ created, ref }) => makeProxy(DictProxy, ref(created.id)),
  list: ({ created, ref }) => makeProxy(ListProxy, ref(created.id)),
  Namespace: ({ created, ref }) => makeProxy(NamespaceProxy, ref(created.id)),
  Queue: ({ created, args, state }) =>
    rebuildReduced("Queue", { ref: state(created.id), maxsize: queueBound(args[0]) }),
  JoinableQueue: ({ created, args, state }) =>
    rebuildReduced("JoinableQueue", { ref: state(created.id), maxsize: queueBound(args[0]) }),
  Lock: ({ created, state }) => rebuildReduced("Lock", state(created.id)),
  RLock: ({ created, state }) => rebuildReduced("RLock", state(created.id)),
  Semaphore: ({ created, state }) => rebuildReduced("Semaphore", state(created.id)),
  BoundedSemaphore: ({ created, state }) => rebuildReduced("BoundedSemaphore", state(created.id)),
  Event: ({ created, state }) => rebuildReduced("Event", state(created.id)),
  Condition: ({ created, state }) => {
    const lock = rebuildReduced("RLock", state(created.lockId!));
    return rebuildReduced("Condition", { ref: state(created.id), lock });
  },
  Barrier: ({ created, args, state, local }) =>
    rebuildReduced("Barrier", {
      ref: state(created.id),
      parties: args[0],
      timeout: local?.timeout ?? null,
      spec: local?.spec ?? null,
    }),
  Value: (made) => memoryHandle("Value", made),
  Array: (made) => memoryHandle("Array", made),
};

/**
 * The manager `Manager()` returns (Python's `SyncManager`): shared dicts,
 * lists, namespaces, queues, locks and values in a server process.
 *
 * @example Ten children writing into one dict and one list
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DictProxy, type ListProxy, Manager, Process } from "@procs/multiprocessing";
 * import process from "node:process";
 *
 * export async function record(d: DictProxy, l: ListProxy) {
 *   await d.set(process.pid, process.pid);
 *   await l.append(process.pid);
 * }
 *
 * if (import.meta.main) {
 *   await using manager = await Manager();
 *   const d = await manager.dict();
 *   const l = await manager.list();
 *   const ps = Array.from({ length: 10 }, () => new Process({ target: record, args: [d, l] }));
 *   ps.forEach((p) => p.start());
 *   for (const p of ps) await p.join();
 *   assert.equal(await d.size(), 10);
 *   assert.equal(await l.length(), 10);
 * }
 * ```
 */
export class SyncManager extends BaseManager {
  /** Makes a `typeid` of {@linkcode SYNC_HANDLES} in the server and returns this process's handle. */
  async #make<T>(
    typeid: SyncTypeId,
    args: unknown[],
    local?: BarrierLocal,
  ): Promise<T> {
    const { created, ref, state } = await this._create(typeid, args);
    return SYNC_HANDLES[typeid]({ created, args, ref, state, local }) as T;
  }

  /** A shared dict, optionally filled from an object or pairs. */
  dict<K = unknown, V = unknown>(
    init?: Record<string, V> | Iterable<[K, V]>,
  ): Promise<DictProxy<K, V>> {
    const entries = init === undefined
      ? undefined
      : Symbol.iterator in Object(init)
      ? [...(init as Iterable<[K, V]>)]
      : init;
    return this.#make("dict", [entries]);
  }
  /** A shared list, optionally filled. */
  list<T = unknown>(init?: Iterable<T>): Promise<ListProxy<T>> {
    return this.#make("list", [init === undefined ? undefined : [...init]]);
  }
  /** A shared namespace, optionally with attributes. */
  Namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    return this.#make("Namespace", [init]);
  }
  /** A queue in the server. */
  Queue<T = unknown>(maxsize = 0): Promise<Queue<T>> {
    return this.#make("Queue", [maxsize]);
  }
  /** A joinable queue in the server. */
  JoinableQueue<T = unknown>(maxsize = 0): Promise<JoinableQueue<T>> {
    return this.#make("JoinableQueue", [maxsize]);
  }
  /** A lock in the server. */
  Lock(): Promise<Lock> {
    return this.#make("Lock", []);
  }
  /** A re-entrant lock in the server. */
  RLock(): Promise<RLock> {
    return this.#make("RLock", []);
  }
  /** A semaphore in the server. */
  Semaphore(value = 1): Promise<Semaphore> {
    return this.#make("Semaphore", [value]);
  }
  /** A bounded semaphore in the server. */
  BoundedSemaphore(value = 1): Promise<BoundedSemaphore> {
    return this.#make("BoundedSemaphore", [value]);
  }
  /** An event in the server. */
  Event(): Promise<Event> {
    return this.#make("Event", []);
  }
  /** A condition (over its own RLock) in the server. */
  Condition(): Promise<Condition> {
    return this.#make("Condition", []);
  }
  /** A barrier in the server; `action` runs in the last process to arrive. */
  Barrier(
    parties: number,
    action?: ((...args: never[]) => unknown) | null,
    timeout?: number | null,
  ): Promise<Barrier> {
    if (!Number.isInteger(parties) || parties < 1) {
      return Promise.reject(
        new ValueError(`Barrier parties must be a positive integer: received ${parties}`),
      );
    }
    const spec: CallableSpec | null = action ? describeCallable(action, callerModules()) : null;
    return this.#make("Barrier", [parties, action != null], { timeout: timeout ?? null, spec });
  }
  /** A value in the server (no lock: each get/set is one atomic call). */
  Value<T extends Typecode>(typecode: T, value?: TypecodeInput<T>): Promise<Synchronized<T>> {
    return this.#make("Value", [typecode, value === undefined ? 0 : value]);
  }
  /** An array in the server. */
  Array<T extends Typecode>(
    typecode: T,
    sizeOrValues: number | Iterable<TypecodeInput<T>>,
  ): Promise<SynchronizedArray<T>> {
    const init = typeof sizeOrValues === "number" ? sizeOrValues : [...sizeOrValues];
    return this.#make("Array", [typecode, init]);
  }
}

/**
 * Starts a `SyncManager`'s server process and resolves with the manager
 * (Python's `multiprocessing.Manager()`); `await using` shuts it down.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Manager } from "@procs/multiprocessing";
 * await using manager = await Manager();
 * const shared = await manager.dict({ hits: 0 });
 * assert.equal(await shared.get("hits"), 0);
 * ```
 */
export async function Manager(options: ManagerOptions = {}): Promise<SyncManager> {
  const manager = new SyncManager(options);
  await manager.start();
  return manager;
}
