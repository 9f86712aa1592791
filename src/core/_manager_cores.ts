/**
 * The objects a manager's server owns behind its proxies: the cores of
 * dicts, lists and namespaces, and of instances of registered types. They
 * live in the server process (`_manager_server.ts` makes them); a proxy's
 * calls reach their exposed methods through its reference, typed against
 * them (`callsTo<DictCore>()` in `managers.ts`).
 *
 * @module
 */

import { KeyError, ValueError } from "./errors.ts";
import { type Caller, expose, type Ref, SharedCore } from "./_shared.ts";

/**
 * The reference each proxy holds, by proxy (a `BaseProxy` or an auto
 * proxy): a freed container lets go of the proxies it stored.
 */
const proxyRefs = new WeakMap<object, Ref>();

/** @internal Records the reference `proxy` holds (every proxy, as it is made). */
export function registerProxyRef(proxy: object, ref: Ref): void {
  proxyRefs.set(proxy, ref);
}

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

/** The object behind a `DictProxy`: a `Map`, in the manager's server. */
export class DictCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<DictCore>(
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
  );
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

/** The object behind a `ListProxy`: an array, in the manager's server. */
export class ListCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<ListCore>(
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
  );
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

/** The object behind a `NamespaceProxy`: attributes by name, in the manager's server. */
export class NamespaceCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<NamespaceCore>("get", "set", "delete", "toObject");
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
export class InstanceCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<InstanceCore>("invoke");
  constructor(readonly instance: Record<string, unknown>, readonly methods: ReadonlySet<string>) {
    super();
  }
  invoke(_c: Caller, name: string, args: unknown[]): unknown {
    if (!this.methods.has(name)) throw new TypeError(`'${name}' is not a method this type exposes`);
    return (this.instance[name] as (...a: unknown[]) => unknown)(...args);
  }
}

/**
 * A managed container's object is freed: the proxies it stored (held by
 * this server) let go of their objects now rather than when collected.
 */
function releaseStored(values: Iterable<unknown>, depth = 0): void {
  for (const value of values) {
    const ref = proxyRefs.get(value as object);
    if (ref) ref.release();
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
