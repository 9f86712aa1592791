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

import type { StartMethod } from "../adapters/types.ts";
import {
  type EncodeContext,
  rebuildReduced,
  REDUCE,
  type Reduced,
  registerReducer,
} from "./_codec.ts";
import { type Connection, Pipe } from "./connection.ts";
import {
  checkMaxMessageSize,
  DEFAULT_MAX_MESSAGE_SIZE,
  localNode,
  onRequest,
  request,
} from "./_node.ts";
import type { Channel } from "./_node.ts";
import {
  type Caller,
  ownedCount,
  ownFor,
  Ref,
  type RefState,
  releaseWhenCollected,
  SharedCore,
} from "./_shared.ts";
import { processState } from "./_state.ts";
import { defaultStartMethod } from "./_start_method.ts";
import { KeyError, OSError, RemoteError, ValueError } from "./errors.ts";
import { Process, registerLibraryTarget, START_METHOD } from "./process.ts";
import { type CallableSpec, callerModules, describeCallable } from "./reduction.ts";
import { type Address, addressString, keyBytes } from "./listener.ts";
import { _queueCore, type JoinableQueue, type Queue } from "./queues.ts";
import {
  _syncCores,
  type Barrier,
  type BoundedSemaphore,
  type Condition,
  type Event,
  type Lock,
  type RLock,
  type Semaphore,
} from "./synchronize.ts";
import {
  _memoryCore,
  type CValue,
  type Synchronized,
  type SynchronizedArray,
  type Typecode,
} from "./sharedctypes.ts";
import { parseTcp } from "./_node.ts";
import { toHex } from "./_util.ts";

type Fn = (...args: never[]) => unknown;

// ---------------------------------------------------------------- referents

function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

function keyName(key: unknown): string {
  return typeof key === "string" ? `'${key}'` : String(key);
}

class DictCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = new Set([
    "get",
    "set",
    "has",
    "delete",
    "keys",
    "values",
    "items",
    "update",
    "pop",
    "setdefault",
    "clear",
    "size",
    "toObject",
  ]);
  readonly map: Map<unknown, unknown>;
  constructor(init?: Record<string, unknown> | Iterable<[unknown, unknown]> | null) {
    super();
    this.map = init == null
      ? new Map()
      : Symbol.iterator in Object(init)
      ? new Map(init as Iterable<[unknown, unknown]>)
      : new Map(Object.entries(init));
  }
  get(_c: Caller, key: unknown, fallback?: unknown): unknown {
    return this.map.has(key) ? this.map.get(key) : fallback;
  }
  set(_c: Caller, key: unknown, value: unknown): void {
    this.map.set(key, value);
  }
  has(_c: Caller, key: unknown): boolean {
    return this.map.has(key);
  }
  delete(_c: Caller, key: unknown): void {
    if (!this.map.delete(key)) throw new KeyError(`${keyName(key)} is not in the dict`);
  }
  keys(): unknown[] {
    return [...this.map.keys()];
  }
  values(): unknown[] {
    return [...this.map.values()];
  }
  items(): [unknown, unknown][] {
    return [...this.map.entries()];
  }
  update(_c: Caller, other: Record<string, unknown> | Iterable<[unknown, unknown]>): void {
    const entries = Symbol.iterator in Object(other)
      ? other as Iterable<[unknown, unknown]>
      : Object.entries(other);
    for (const [k, v] of entries) this.map.set(k, v);
  }
  pop(_c: Caller, key: unknown, ...fallback: unknown[]): unknown {
    if (this.map.has(key)) {
      const v = this.map.get(key);
      this.map.delete(key);
      return v;
    }
    if (fallback.length > 0) return fallback[0];
    throw new KeyError(`${keyName(key)} is not in the dict`);
  }
  setdefault(_c: Caller, key: unknown, value?: unknown): unknown {
    if (!this.map.has(key)) this.map.set(key, value);
    return this.map.get(key);
  }
  clear(): void {
    this.map.clear();
  }
  size(): number {
    return this.map.size;
  }
  toObject(): Record<string, unknown> {
    return Object.fromEntries([...this.map].map(([k, v]) => [String(k), v]));
  }
  override free(): void {
    releaseStored([this.map]);
    this.map.clear();
  }
}

class ListCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = new Set([
    "append",
    "extend",
    "get",
    "set",
    "insert",
    "pop",
    "remove",
    "index",
    "count",
    "sort",
    "reverse",
    "length",
    "toArray",
    "slice",
  ]);
  readonly items: unknown[];
  constructor(init?: Iterable<unknown> | null) {
    super();
    this.items = init == null ? [] : [...init];
  }
  #index(i: number): number {
    if (!Number.isInteger(i)) {
      throw new TypeError(`A list index must be an integer: received ${String(i)}`);
    }
    const j = i < 0 ? i + this.items.length : i;
    if (j < 0 || j >= this.items.length) {
      throw new RangeError(`List index ${i} is out of range for ${this.items.length} items`);
    }
    return j;
  }
  append(_c: Caller, value: unknown): void {
    this.items.push(value);
  }
  extend(_c: Caller, values: Iterable<unknown>): void {
    this.items.push(...values);
  }
  get(_c: Caller, i: number): unknown {
    return this.items[this.#index(i)];
  }
  set(_c: Caller, i: number, value: unknown): void {
    this.items[this.#index(i)] = value;
  }
  insert(_c: Caller, i: number, value: unknown): void {
    const j = i < 0 ? Math.max(0, i + this.items.length) : Math.min(i, this.items.length);
    this.items.splice(j, 0, value);
  }
  pop(_c: Caller, i = -1): unknown {
    if (this.items.length === 0) throw new RangeError("pop from an empty list");
    return this.items.splice(this.#index(i), 1)[0];
  }
  remove(_c: Caller, value: unknown): void {
    const i = this.items.findIndex((x) => sameValue(x, value));
    if (i < 0) throw new ValueError(`list.remove(x): ${JSON.stringify(value)} is not in the list`);
    this.items.splice(i, 1);
  }
  index(_c: Caller, value: unknown): number {
    const i = this.items.findIndex((x) => sameValue(x, value));
    if (i < 0) throw new ValueError(`${JSON.stringify(value)} is not in the list`);
    return i;
  }
  count(_c: Caller, value: unknown): number {
    return this.items.filter((x) => sameValue(x, value)).length;
  }
  sort(_c: Caller, options: { reverse?: boolean } = {}): void {
    this.items.sort((a, b) =>
      (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0
    );
    if (options.reverse) this.items.reverse();
  }
  reverse(): void {
    this.items.reverse();
  }
  length(): number {
    return this.items.length;
  }
  toArray(): unknown[] {
    return [...this.items];
  }
  slice(_c: Caller, start?: number, end?: number): unknown[] {
    return this.items.slice(start, end);
  }
  override free(): void {
    releaseStored(this.items);
    this.items.length = 0;
  }
}

class NamespaceCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = new Set(["get", "set", "delete", "toObject"]);
  readonly attrs: Map<string, unknown>;
  constructor(init?: Record<string, unknown> | null) {
    super();
    this.attrs = new Map(Object.entries(init ?? {}));
  }
  get(_c: Caller, name: string): unknown {
    if (!this.attrs.has(name)) throw new KeyError(`The namespace has no attribute '${name}'`);
    return this.attrs.get(name);
  }
  set(_c: Caller, name: string, value: unknown): void {
    this.attrs.set(name, value);
  }
  delete(_c: Caller, name: string): void {
    if (!this.attrs.delete(name)) throw new KeyError(`The namespace has no attribute '${name}'`);
  }
  toObject(): Record<string, unknown> {
    return Object.fromEntries(this.attrs);
  }
  override free(): void {
    releaseStored([this.attrs]);
    this.attrs.clear();
  }
}

/** An instance of a registered type, reachable through the methods it exposes. */
class InstanceCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = new Set(["invoke"]);
  constructor(readonly instance: Record<string, unknown>, readonly methods: ReadonlySet<string>) {
    super();
  }
  invoke(_c: Caller, name: string, args: unknown[]): unknown {
    if (!this.methods.has(name)) throw new TypeError(`'${name}' is not a method this type exposes`);
    return (this.instance[name] as (...a: unknown[]) => unknown)(...args);
  }
}

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

// ---------------------------------------------------------------- the server

/** A registered type: its id, the callable that makes instances, the methods it exposes. */
type Registration = [
  typeid: string,
  callable: ((...args: unknown[]) => unknown) | null,
  exposed: string[] | null,
];

const serverTypes = new Map<string, Registration>();
let serving = false;

/**
 * What "manager.create" answers: the new object's id (and more for some
 * types), and the ticket of each id the client settles when it rebuilds its
 * proxy (see `ownFor`).
 */
interface Created {
  id: string;
  lockId?: string;
  methods?: string[];
  tickets: Record<string, string>;
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
  switch (typeid) {
    case "dict":
      return { id: own(new DictCore(args[0] as Record<string, unknown>)) };
    case "list":
      return { id: own(new ListCore(args[0] as unknown[])) };
    case "Namespace":
      return { id: own(new NamespaceCore(args[0] as Record<string, unknown>)) };
    case "Queue":
    case "JoinableQueue":
      return { id: own(_queueCore(args[0] as number)) };
    case "Lock":
    case "RLock":
    case "Event":
      return { id: own(_syncCores[typeid]()) };
    case "Semaphore":
    case "BoundedSemaphore":
      return { id: own(_syncCores[typeid](args[0] as number)) };
    case "Condition": {
      const [condition, lock] = _syncCores.Condition();
      return { id: own(condition), lockId: own(lock) };
    }
    case "Barrier":
      return { id: own(_syncCores.Barrier(args[0] as number, args[1] as boolean)) };
    case "Value":
      return { id: own(_memoryCore(args[0] as Typecode, [args[1] as CValue])) };
    case "Array":
      return { id: own(_memoryCore(args[0] as Typecode, args[1] as number | CValue[])) };
  }
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
  return create(typeid as string, args as unknown[], caller);
});

onRequest("manager.count", () => {
  if (!serving) throw new TypeError("This process is not a manager's server");
  return ownedCount();
});

/** Makes this process a manager's server for `registrations`. */
function serve(registrations: Registration[]): void {
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
  const node = localNode();
  node.ensureServer();
  const extra = listenAddress
    ? node.listen(listenAddress, authkey ?? processState().nodeKey, { maxMessageSize })
    : null;
  await conn.send(["ready", extra?.address ?? node.address]);
  try {
    while ((await conn.recv()) !== "shutdown") {
      // only "shutdown" is expected
    }
  } catch {
    // the owner is gone
  }
  extra?.close();
  conn.close();
}

registerLibraryTarget(managerServerLoop as never, import.meta.url);

// ---------------------------------------------------------------- proxies

const FROM_REF: unique symbol = Symbol("fromRef") as never;

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
  /** @internal Proxies are made by a manager. */
  constructor(token: typeof FROM_REF, ref: Ref) {
    if (token !== FROM_REF) {
      throw new TypeError("Proxies are made by a manager: use manager.dict(), manager.list(), ...");
    }
    this._ref = ref;
    // This process's hold goes with the proxy: close(), or when it is collected.
    releaseWhenCollected(this, ref);
  }
  /** @internal */
  _call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this._ref.released) return Promise.reject(closedProxyError(this.constructor.name));
    return this._ref.call(method, ...args) as Promise<T>;
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

/**
 * A managed container's object is freed: the proxies it stored (held by
 * this server) let go of their objects now rather than when collected.
 */
function releaseStored(values: Iterable<unknown>, depth = 0): void {
  for (const value of values) {
    if (value instanceof BaseProxy) value._ref.release();
    else if (autoProxyRefs.has(value as object)) autoProxyRefs.get(value as object)!.release();
    else if (depth < 8 && value !== null && typeof value === "object") {
      if (Array.isArray(value)) releaseStored(value, depth + 1);
      else if (value instanceof Map) {
        releaseStored(value.keys(), depth + 1);
        releaseStored(value.values(), depth + 1);
      } else if (Object.getPrototypeOf(value) === Object.prototype) {
        releaseStored(Object.values(value), depth + 1);
      }
    }
  }
}

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
    return this._call("get", key, fallback);
  }
  /** Sets `key` to `value`. */
  set(key: K, value: V): Promise<void> {
    return this._call("set", key, value);
  }
  /** Whether `key` is present. */
  has(key: K): Promise<boolean> {
    return this._call("has", key);
  }
  /** Removes `key`; a missing key is a `KeyError`. */
  delete(key: K): Promise<void> {
    return this._call("delete", key);
  }
  /** The keys. */
  keys(): Promise<K[]> {
    return this._call("keys");
  }
  /** The values. */
  values(): Promise<V[]> {
    return this._call("values");
  }
  /** The `[key, value]` pairs. */
  items(): Promise<[K, V][]> {
    return this._call("items");
  }
  /** Sets every pair of `other` (an object or `[key, value]` pairs). */
  update(other: Record<string, V> | Iterable<[K, V]>): Promise<void> {
    return this._call("update", other instanceof Map ? [...other] : other);
  }
  /** Removes `key` and returns its value; missing without a fallback is a `KeyError`. */
  pop(key: K, ...fallback: [V?]): Promise<V> {
    return this._call("pop", key, ...fallback);
  }
  /** The value of `key`, setting it to `value` first when missing. */
  setdefault(key: K, value?: V): Promise<V> {
    return this._call("setdefault", key, value);
  }
  /** Removes everything. */
  clear(): Promise<void> {
    return this._call("clear");
  }
  /** How many keys. */
  size(): Promise<number> {
    return this._call("size");
  }
  /** A plain-object copy (keys as strings). */
  toObject(): Promise<Record<string, V>> {
    return this._call("toObject");
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
    return this._call("append", value);
  }
  /** Appends every value. */
  extend(values: Iterable<T>): Promise<void> {
    return this._call("extend", [...values]);
  }
  /** Item `i` (negative counts from the end); out of range is a `RangeError`. */
  get(i: number): Promise<T> {
    return this._call("get", i);
  }
  /** Sets item `i`. */
  set(i: number, value: T): Promise<void> {
    return this._call("set", i, value);
  }
  /** Inserts `value` before index `i`. */
  insert(i: number, value: T): Promise<void> {
    return this._call("insert", i, value);
  }
  /** Removes and returns item `i` (the last by default). */
  pop(i?: number): Promise<T> {
    return this._call("pop", ...(i === undefined ? [] : [i]));
  }
  /** Removes the first item equal to `value`; none is a `ValueError`. */
  remove(value: T): Promise<void> {
    return this._call("remove", value);
  }
  /** The index of the first item equal to `value`; none is a `ValueError`. */
  index(value: T): Promise<number> {
    return this._call("index", value);
  }
  /** How many items equal `value`. */
  count(value: T): Promise<number> {
    return this._call("count", value);
  }
  /** Sorts numbers or strings in place. */
  sort(options: { reverse?: boolean } = {}): Promise<void> {
    return this._call("sort", options);
  }
  /** Reverses in place. */
  reverse(): Promise<void> {
    return this._call("reverse");
  }
  /** How many items. */
  length(): Promise<number> {
    return this._call("length");
  }
  /** A copy of the items. */
  toArray(): Promise<T[]> {
    return this._call("toArray");
  }
  /** A copy of items `start` to `end`. */
  slice(start?: number, end?: number): Promise<T[]> {
    return this._call("slice", start, end);
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
    return this._call("get", name);
  }
  /** Sets attribute `name`. */
  set(name: string, value: unknown): Promise<void> {
    return this._call("set", name, value);
  }
  /** Deletes attribute `name`. */
  delete(name: string): Promise<void> {
    return this._call("delete", name);
  }
  /** Every attribute as a plain object. */
  toObject(): Promise<Record<string, unknown>> {
    return this._call("toObject");
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

/** The reference of each auto proxy (for the server to release the ones a container stored). */
const autoProxyRefs = new WeakMap<object, Ref>();

interface AutoProxyState {
  ref: RefState;
  methods: string[];
}

function autoProxy(ref: Ref, methods: string[]): AutoProxy {
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
          : ref.call("invoke", name, args);
    },
    has: (t, name) => (typeof name === "symbol" ? name in t : allowed.has(name)),
    ownKeys: () => [...allowed],
  }) as unknown as AutoProxy;
  autoProxyRefs.set(proxy, ref);
  return releaseWhenCollected(proxy, ref);
}

registerReducer("DictProxy", (s) => new DictProxy(FROM_REF, Ref.fromState(s as RefState)));
registerReducer("ListProxy", (s) => new ListProxy(FROM_REF, Ref.fromState(s as RefState)));
registerReducer(
  "NamespaceProxy",
  (s) => new NamespaceProxy(FROM_REF, Ref.fromState(s as RefState)),
);
registerReducer("AutoProxy", (s) => {
  const st = s as AutoProxyState;
  return autoProxy(Ref.fromState(st.ref), st.methods);
});

// ---------------------------------------------------------------- managers

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
      localNode().setMaxMessageSize(
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
    const method = this.#method;
    const ProcessClass = class extends Process {
      static readonly [START_METHOD]: StartMethod = method;
    };
    Object.defineProperty(ProcessClass, "name", { value: "Process" });
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
    let ready: unknown;
    try {
      ready = await mine.recv();
    } catch {
      await p.join();
      throw new RemoteError(
        `The manager's server process exited with code ${p.exitcode} before it was ready (see its stderr)`,
      );
    }
    this.#process = p;
    this.#conn = mine;
    this.#serverAddress = (ready as [string, string])[1];
    if (!usesTreeKey) {
      localNode().setKey(this.#serverAddress, this.#authkey);
      localNode().setMaxMessageSize(
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
    localNode().setKey(this.#address, this.#authkey);
    await localNode().channelTo(this.#address);
    this.#serverAddress = this.#address;
    this.#state = "started";
  }

  /** A server for the registered types that runs in this process. */
  getServer(): ManagerServer {
    if (this.#address === null) throw new ValueError("getServer() needs an address to listen on");
    serve(this.#registrations() as Registration[]);
    const listening = localNode().listen(this.#address, this.#authkey, {
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
    const channel = await localNode().channelTo(this.#checkStarted());
    return await request(channel, "manager.count") as number;
  }

  /** @internal Asks the server to make a `typeid` and returns where it is. */
  async _create(
    typeid: string,
    args: unknown[],
  ): Promise<{ created: Created; ref: (id: string) => Ref; state: (id: string) => RefState }> {
    const address = this.#checkStarted();
    const channel = await localNode().channelTo(address);
    const created = await request(channel, "manager.create", typeid, args) as Created;
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
    const { created, ref } = await this._create(typeid, args);
    return autoProxy(ref(created.id), created.methods ?? []);
  }

  /** Stops the server process (a manager from `connect()` only disconnects). */
  async shutdown(): Promise<void> {
    if (this.#state === "shutdown") return;
    this.#state = "shutdown";
    if (this.#conn && this.#process) {
      await this.#conn.send("shutdown").catch(() => {});
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
  async #make<T>(
    typeid: string,
    args: unknown[],
    build: (created: Created, ref: (id: string) => Ref, state: (id: string) => RefState) => T,
  ): Promise<T> {
    const { created, ref, state } = await this._create(typeid, args);
    return build(created, ref, state);
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
    return this.#make("dict", [entries], (c, ref) => new DictProxy<K, V>(FROM_REF, ref(c.id)));
  }
  /** A shared list, optionally filled. */
  list<T = unknown>(init?: Iterable<T>): Promise<ListProxy<T>> {
    return this.#make(
      "list",
      [init === undefined ? undefined : [...init]],
      (c, ref) => new ListProxy<T>(FROM_REF, ref(c.id)),
    );
  }
  /** A shared namespace, optionally with attributes. */
  Namespace(init?: Record<string, unknown>): Promise<NamespaceProxy> {
    return this.#make("Namespace", [init], (c, ref) => new NamespaceProxy(FROM_REF, ref(c.id)));
  }
  /** A queue in the server. */
  Queue<T = unknown>(maxsize = 0): Promise<Queue<T>> {
    return this.#make(
      "Queue",
      [maxsize],
      (c, _ref, state) =>
        rebuildReduced("Queue", {
          ref: state(c.id),
          maxsize: maxsize > 0 ? Math.floor(maxsize) : 0,
        }) as Queue<T>,
    );
  }
  /** A joinable queue in the server. */
  JoinableQueue<T = unknown>(maxsize = 0): Promise<JoinableQueue<T>> {
    return this.#make(
      "JoinableQueue",
      [maxsize],
      (c, _ref, state) =>
        rebuildReduced("JoinableQueue", {
          ref: state(c.id),
          maxsize: maxsize > 0 ? Math.floor(maxsize) : 0,
        }) as JoinableQueue<T>,
    );
  }
  /** A lock in the server. */
  Lock(): Promise<Lock> {
    return this.#make("Lock", [], (c, _ref, state) => rebuildReduced("Lock", state(c.id)) as Lock);
  }
  /** A re-entrant lock in the server. */
  RLock(): Promise<RLock> {
    return this.#make(
      "RLock",
      [],
      (c, _ref, state) => rebuildReduced("RLock", state(c.id)) as RLock,
    );
  }
  /** A semaphore in the server. */
  Semaphore(value = 1): Promise<Semaphore> {
    return this.#make(
      "Semaphore",
      [value],
      (c, _ref, state) => rebuildReduced("Semaphore", state(c.id)) as Semaphore,
    );
  }
  /** A bounded semaphore in the server. */
  BoundedSemaphore(value = 1): Promise<BoundedSemaphore> {
    return this.#make(
      "BoundedSemaphore",
      [value],
      (c, _ref, state) => rebuildReduced("BoundedSemaphore", state(c.id)) as BoundedSemaphore,
    );
  }
  /** An event in the server. */
  Event(): Promise<Event> {
    return this.#make(
      "Event",
      [],
      (c, _ref, state) => rebuildReduced("Event", state(c.id)) as Event,
    );
  }
  /** A condition (over its own RLock) in the server. */
  Condition(): Promise<Condition> {
    return this.#make("Condition", [], (c, _ref, state) => {
      const lock = rebuildReduced("RLock", state(c.lockId!));
      return rebuildReduced("Condition", { ref: state(c.id), lock }) as Condition;
    });
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
    return this.#make(
      "Barrier",
      [parties, action != null],
      (c, _ref, state) =>
        rebuildReduced("Barrier", {
          ref: state(c.id),
          parties,
          timeout: timeout ?? null,
          spec,
        }) as Barrier,
    );
  }
  /** A value in the server (no lock: each get/set is one atomic call). */
  Value(typecode: Typecode, value: CValue = 0): Promise<Synchronized> {
    return this.#make(
      "Value",
      [typecode, value],
      (c, _ref, state) =>
        rebuildReduced("Value", {
          typecode,
          length: 1,
          view: null,
          ref: state(c.id),
          lock: null,
        }) as Synchronized,
    );
  }
  /** An array in the server. */
  Array(typecode: Typecode, sizeOrValues: number | Iterable<CValue>): Promise<SynchronizedArray> {
    const init = typeof sizeOrValues === "number" ? sizeOrValues : [...sizeOrValues];
    const length = typeof init === "number" ? init : init.length;
    return this.#make(
      "Array",
      [typecode, init],
      (c, _ref, state) =>
        rebuildReduced("Array", {
          typecode,
          length,
          view: null,
          ref: state(c.id),
          lock: null,
        }) as SynchronizedArray,
    );
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
