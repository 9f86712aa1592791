/**
 * Shared values and arrays of C types, as Python's
 * `multiprocessing.sharedctypes`: `Value`, `SharedArray` (Python's `Array`),
 * `RawValue`, `RawArray`, with Python's `array` typecodes and C-style
 * wrap-around.
 *
 * The memory is a `SharedArrayBuffer`: a worker started with the "worker"
 * start method reads and writes the same memory. A "spawn" child, which
 * cannot share memory with its parent, reaches the value in the process
 * that made it through the authenticated channel.
 *
 * Lifetime: a `Value` or `SharedArray` handle holds its memory (and the
 * lock it made) until `close()` or until it is garbage-collected; the
 * process that made it frees it once no process holds it.
 *
 * @module
 */

import { type EncodeContext, REDUCE, type Reduced, registerReducer } from "./_wire/codec.ts";
import {
  type Caller,
  closedHandleError,
  expose,
  Ref,
  type RefState,
  releaseWhenCollected,
  SharedCore,
} from "./_shared.ts";
import { type Lock, RLock } from "./synchronize.ts";
import { ValueError } from "./errors.ts";
import { Handoff } from "./_handoff.ts";

/** Python's `array` typecodes (`l`/`L` are 32-bit here; use `q`/`Q` for 64-bit, as `bigint`). */
export type Typecode = "b" | "B" | "h" | "H" | "i" | "I" | "l" | "L" | "q" | "Q" | "f" | "d";

/**
 * What a value of each typecode reads as: `bigint` for `q`/`Q`, a number
 * otherwise. `Value("i", 0)` is a `Synchronized<"i">` whose `get()` gives a
 * `number`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type TypecodeValues, Value } from "@procs/multiprocessing";
 * const n: TypecodeValues["i"] = await Value("i", 7).get();
 * const big: TypecodeValues["q"] = await Value("q", 7n).get();
 * assert.deepEqual([n, big], [7, 7n]);
 * ```
 */
export interface TypecodeValues {
  /** signed char */
  b: number;
  /** unsigned char */
  B: number;
  /** signed short */
  h: number;
  /** unsigned short */
  H: number;
  /** signed int */
  i: number;
  /** unsigned int */
  I: number;
  /** signed long (32-bit here) */
  l: number;
  /** unsigned long (32-bit here) */
  L: number;
  /** signed long long */
  q: bigint;
  /** unsigned long long */
  Q: bigint;
  /** float */
  f: number;
  /** double */
  d: number;
}

/**
 * What a write of typecode `T` takes: its value type, and for `q`/`Q` an
 * integer `number` too (converted to `bigint`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TypecodeInput } from "@procs/multiprocessing";
 * const inputs: TypecodeInput<"q">[] = [1n, 2];
 * assert.equal(inputs.length, 2);
 * ```
 */
export type TypecodeInput<T extends Typecode> = T extends "q" | "Q" ? bigint | number
  : TypecodeValues[T];

/**
 * The typed array of each typecode: what `RawValue` and `RawArray` hand out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TypecodeArrays } from "@procs/multiprocessing";
 * const cells: TypecodeArrays["d"] = new Float64Array(2);
 * assert.equal(cells.length, 2);
 * ```
 */
export interface TypecodeArrays {
  /** signed char */
  b: Int8Array;
  /** unsigned char */
  B: Uint8Array;
  /** signed short */
  h: Int16Array;
  /** unsigned short */
  H: Uint16Array;
  /** signed int */
  i: Int32Array;
  /** unsigned int */
  I: Uint32Array;
  /** signed long (32-bit here) */
  l: Int32Array;
  /** unsigned long (32-bit here) */
  L: Uint32Array;
  /** signed long long */
  q: BigInt64Array;
  /** unsigned long long */
  Q: BigUint64Array;
  /** float */
  f: Float32Array;
  /** double */
  d: Float64Array;
}

const TYPES = {
  b: Int8Array,
  B: Uint8Array,
  h: Int16Array,
  H: Uint16Array,
  i: Int32Array,
  I: Uint32Array,
  l: Int32Array,
  L: Uint32Array,
  q: BigInt64Array,
  Q: BigUint64Array,
  f: Float32Array,
  d: Float64Array,
} as const;

/** The typed array of a typecode: what `RawValue` and `RawArray` hand out. */
export type RawTypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;
type View = RawTypedArray;
/** A value of a typecode: `bigint` for `q`/`Q`, a number otherwise. */
export type CValue = number | bigint;

/** The `lock` option: `true` (a new RLock, the default), `false` (none), or a lock to use. */
export type LockOption = boolean | Lock | RLock;

function checkTypecode(typecode: unknown): Typecode {
  if (typeof typecode !== "string" || !Object.hasOwn(TYPES, typecode)) {
    throw new TypeError(
      `Unknown typecode ${JSON.stringify(typecode)}: use one of ${Object.keys(TYPES).join(" ")}`,
    );
  }
  return typecode as Typecode;
}

function isBig(typecode: Typecode): boolean {
  return typecode === "q" || typecode === "Q";
}

function convert(typecode: Typecode, value: unknown): CValue {
  if (isBig(typecode)) {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  } else if (typeof value === "number") return value;
  else if (typeof value === "bigint") return Number(value);
  throw new TypeError(
    `A '${typecode}' value must be ${
      isBig(typecode) ? "a bigint or an integer" : "a number"
    }: received ${String(value)}`,
  );
}

function allocate(typecode: Typecode, length: number): View {
  const Type = TYPES[typecode];
  const buffer = typeof SharedArrayBuffer === "function"
    ? new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT)
    : new ArrayBuffer(length * Type.BYTES_PER_ELEMENT);
  return new (Type as unknown as new (buffer: ArrayBufferLike) => View)(buffer);
}

/** A new shared typed array of `typecode`: `sizeOrValues` zeros, or those values converted. */
function sharedView(typecode: unknown, sizeOrValues: number | Iterable<CValue>): [Typecode, View] {
  const t = checkTypecode(typecode);
  const values = typeof sizeOrValues === "number" ? null : [...sizeOrValues];
  const length = values ? values.length : sizeOrValues as number;
  if (!Number.isInteger(length) || length < 0) {
    throw new ValueError(
      `An array size must be a non-negative integer: received ${String(sizeOrValues)}`,
    );
  }
  const view = allocate(t, length);
  if (values) values.forEach((v, i) => ((view as unknown as CValue[])[i] = convert(t, v)));
  return [t, view];
}

function checkIndex(index: unknown, length: number): number {
  if (typeof index !== "number" || !Number.isInteger(index)) {
    throw new TypeError(`An index must be an integer: received ${String(index)}`);
  }
  const i = index < 0 ? index + length : index;
  if (i < 0 || i >= length) {
    throw new RangeError(`Index ${index} is out of range for ${length} items`);
  }
  return i;
}

class MemoryCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<MemoryCore>("get", "set", "toArray");
  constructor(readonly view: View) {
    super();
  }
  get(_caller: Caller, index: number): CValue {
    return this.view[checkIndex(index, this.view.length)];
  }
  set(_caller: Caller, index: number, value: CValue): void {
    (this.view as unknown as CValue[])[checkIndex(index, this.view.length)] = value;
  }
  toArray(): CValue[] {
    return Array.from(this.view as unknown as ArrayLike<CValue>);
  }
}

interface MemoryState {
  typecode: Typecode;
  length: number;
  view: View | null;
  ref: RefState | null;
  lock: Lock | RLock | null;
}

/** What a `SynchronizedBase` is made of: its memory here (`view`) or a reference to it (`ref`). */
interface MemoryParts {
  typecode: Typecode;
  length: number;
  view: View | null;
  ref: Ref<MemoryCore> | null;
  lock: Lock | RLock | null;
  /** Whether the lock's handle is the value's own (made or received with it). */
  ownsLock: boolean;
}
const made = new Handoff<MemoryParts>();

/**
 * What `Synchronized` and `SynchronizedArray` share (Python's
 * `SynchronizedBase`): the typecode and the lock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SynchronizedBase, Value } from "@procs/multiprocessing";
 * assert.ok(Value("i", 1) instanceof SynchronizedBase);
 * ```
 */
export abstract class SynchronizedBase<T extends Typecode = Typecode> implements Disposable {
  readonly #typecode: Typecode;
  readonly #length: number;
  #view: View | null;
  readonly #ref: Ref<MemoryCore>;
  readonly #lock: Lock | RLock | null;
  /** Whether the lock's handle is this value's own (made or received with it). */
  readonly #ownsLock: boolean;

  /**
   * Made by {@linkcode Value} and {@linkcode SharedArray} (and rebuilt when
   * it crosses to another process).
   *
   * @throws {TypeError} when constructed directly
   */
  constructor() {
    const parts = made.take();
    if (!parts) {
      throw new TypeError(
        `${new.target.name} is made by Value() or SharedArray(); do not construct it`,
      );
    }
    const { typecode, length, view, ref, lock, ownsLock } = parts;
    this.#typecode = typecode;
    this.#length = length;
    this.#view = view;
    this.#ref = ref ?? Ref.local(new MemoryCore(view!));
    this.#lock = lock;
    this.#ownsLock = ownsLock;
    releaseWhenCollected(this, this.#ref);
  }

  /** @internal This handle's hold on the memory. */
  get _ref(): Ref<MemoryCore> {
    return this.#ref;
  }

  /**
   * Closes this handle (and the handle of the lock it made or received; a
   * lock passed in the options stays open): later reads and writes through
   * it fail with `ValueError`. The memory is freed in the process that made
   * it once no process holds a handle to it (a handle that is never closed
   * goes when it is garbage-collected).
   */
  close(): void {
    this.#ref.release();
    this.#view = null;
    if (this.#ownsLock) this.#lock?.close();
  }

  /** Closes this handle (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(): void {
    if (this.#ref.released) {
      throw closedHandleError(this.constructor.name);
    }
  }

  /** The typecode. */
  get typecode(): T {
    return this.#typecode as T;
  }

  /** @internal */
  _length(): number {
    return this.#length;
  }

  /** @internal */
  _read(index: number): Promise<CValue> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#view) {
      try {
        return Promise.resolve(this.#view[checkIndex(index, this.#length)]);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#ref.call("get", index);
  }

  /** @internal */
  _write(index: number, value: unknown): Promise<void> {
    try {
      this.#checkOpen();
      const v = convert(this.#typecode, value);
      if (this.#view) {
        (this.#view as unknown as CValue[])[checkIndex(index, this.#length)] = v;
        return Promise.resolve();
      }
      return this.#ref.call("set", index, v);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal */
  _readAll(): Promise<CValue[]> {
    try {
      this.#checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#view) return Promise.resolve(Array.from(this.#view as unknown as ArrayLike<CValue>));
    return this.#ref.call("toArray");
  }

  /** @internal Runs `fn` holding the lock (when there is one). */
  async _locked<R>(fn: () => Promise<R>): Promise<R> {
    if (!this.#lock) return await fn();
    await this.#lock.acquire();
    try {
      return await fn();
    } finally {
      await this.#lock.release();
    }
  }

  /**
   * The lock guarding this value (`null` when made with `lock: false`).
   */
  getLock(): Lock | RLock | null {
    return this.#lock;
  }

  /** @internal */
  _state(type: string, context: EncodeContext): Reduced {
    // Memory travels as-is to a worker that shares it; elsewhere as a
    // reference to this process (the codec refuses a SharedArrayBuffer
    // bound for another OS process, so the view is dropped there).
    const state: MemoryState = {
      typecode: this.#typecode,
      length: this.#length,
      view: null,
      ref: this.#ref.cross(context),
      lock: this.#lock,
    };
    return { type, state };
  }

  /** @internal */
  _stateShared(type: string): Reduced {
    return {
      type,
      state: {
        typecode: this.#typecode,
        length: this.#length,
        view: this.#view,
        // The receiver uses the memory itself, not this process's object: no ticket.
        ref: this.#ref.state(),
        lock: this.#lock,
      },
    };
  }

  /** @internal */
  _hasSharedView(): boolean {
    return this.#view !== null && typeof SharedArrayBuffer === "function" &&
      this.#view.buffer instanceof SharedArrayBuffer;
  }
}

/**
 * A shared number (Python's `Synchronized` from `Value`). `get`/`set` are
 * each atomic; `update(fn)` is a read-modify-write under the lock. `T` is
 * the typecode: a `number` for most, a `bigint` for `q`/`Q` (see
 * {@linkcode TypecodeValues}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Value } from "@procs/multiprocessing";
 * const v = Value("b", 127);
 * await v.update((x) => x + 1);
 * const n: number = await v.get();
 * assert.equal(n, -128); // C-style wrap-around
 * ```
 */
export class Synchronized<T extends Typecode = Typecode> extends SynchronizedBase<T> {
  /** The value. */
  get(): Promise<TypecodeValues[T]> {
    return this._read(0) as Promise<TypecodeValues[T]>;
  }
  /** Sets the value (converted and wrapped as the C type does). */
  set(value: TypecodeInput<T>): Promise<void> {
    return this._write(0, value);
  }
  /** Replaces the value by `fn(value)` under the lock; resolves with what was stored. */
  update(
    fn: (value: TypecodeValues[T]) => TypecodeInput<T> | Promise<TypecodeInput<T>>,
  ): Promise<TypecodeValues[T]> {
    return this._locked(async () => {
      await this._write(0, await fn(await this._read(0) as TypecodeValues[T]));
      return await this._read(0) as TypecodeValues[T];
    });
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    return context.shareMemory && this._hasSharedView()
      ? this._stateShared("Value")
      : this._state("Value", context);
  }
}

/**
 * A shared array of one C type (Python's `SynchronizedArray` from
 * `Array`): `get(i)`, `set(i, x)`, `length`, `toArray()`, `slice()`, and
 * `update(i, fn)` under the lock. `T` is the typecode: items are numbers
 * for most, `bigint`s for `q`/`Q` (see {@linkcode TypecodeValues}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SharedArray } from "@procs/multiprocessing";
 * const a = SharedArray("i", [1, 2, 3]);
 * await a.set(0, 10);
 * assert.deepEqual(await a.toArray(), [10, 2, 3]);
 * assert.equal(a.length, 3);
 * ```
 */
export class SynchronizedArray<T extends Typecode = Typecode> extends SynchronizedBase<T> {
  /** How many items. */
  get length(): number {
    return this._length();
  }
  /** Item `index` (negative counts from the end); out of range is a `RangeError`. */
  get(index: number): Promise<TypecodeValues[T]> {
    return this._read(index) as Promise<TypecodeValues[T]>;
  }
  /** Sets item `index`. */
  set(index: number, value: TypecodeInput<T>): Promise<void> {
    return this._write(index, value);
  }
  /** A copy of every item. */
  toArray(): Promise<TypecodeValues[T][]> {
    return this._readAll() as Promise<TypecodeValues[T][]>;
  }
  /** A copy of items `start` to `end` (as `Array.prototype.slice`). */
  async slice(start?: number, end?: number): Promise<TypecodeValues[T][]> {
    return (await this.toArray()).slice(start, end);
  }
  /** Replaces item `index` by `fn(item)` under the lock; resolves with what was stored. */
  update(
    index: number,
    fn: (value: TypecodeValues[T]) => TypecodeInput<T> | Promise<TypecodeInput<T>>,
  ): Promise<TypecodeValues[T]> {
    return this._locked(async () => {
      await this._write(index, await fn(await this._read(index) as TypecodeValues[T]));
      return await this._read(index) as TypecodeValues[T];
    });
  }

  /** @internal */
  [REDUCE](context: EncodeContext): Reduced {
    return context.shareMemory && this._hasSharedView()
      ? this._stateShared("Array")
      : this._state("Array", context);
  }
}

function lockFor(option: LockOption | undefined): Lock | RLock | null {
  if (option === undefined || option === true) return new RLock();
  if (option === false) return null;
  if (typeof option === "object" && option !== null && "acquire" in option) return option;
  throw new TypeError("lock must be true, false, or a Lock/RLock");
}

/** Whether the value makes its own lock (closed with it) rather than using one passed in. */
function ownsLock(option: LockOption | undefined): boolean {
  return option === undefined || option === true;
}

/** The options of `Value` and `SharedArray`. */
export interface SharedOptions {
  /** `true` (a new RLock, the default), `false` (no lock), or the lock to use. */
  lock?: LockOption;
}

/**
 * A shared value of a C type, initialised to `init` (Python's `Value`).
 * Its type follows the typecode: `Value("i", 0)` holds a `number`,
 * `Value("q", 0n)` a `bigint` (see {@linkcode TypecodeValues}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Value } from "@procs/multiprocessing";
 * const counter = Value("i", 0);
 * await counter.update((n) => n + 1);
 * const n: number = await counter.get();
 * assert.equal(n, 1);
 * ```
 */
export function Value<T extends Typecode>(
  typecode: T,
  init?: TypecodeInput<T>,
  options: SharedOptions = {},
): Synchronized<T> {
  const [t, view] = sharedView(typecode, [init === undefined ? 0 : init]);
  const lock = lockFor(options.lock);
  const parts = { typecode: t, length: 1, view, ref: null, lock, ownsLock: ownsLock(options.lock) };
  return made.build(parts, () => new Synchronized<T>());
}

/**
 * A shared array of a C type (Python's `Array`, exported as `SharedArray`
 * so the global `Array` is not shadowed): `sizeOrValues` is a length
 * (zero-filled) or the initial values. Its items' type follows the
 * typecode, as {@linkcode Value}'s does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SharedArray } from "@procs/multiprocessing";
 * const zeros = SharedArray("d", 4);
 * assert.deepEqual(await zeros.toArray(), [0, 0, 0, 0]);
 * ```
 */
export function SharedArray<T extends Typecode>(
  typecode: T,
  sizeOrValues: number | Iterable<TypecodeInput<T>>,
  options: SharedOptions = {},
): SynchronizedArray<T> {
  const [t, view] = sharedView(typecode, sizeOrValues);
  const lock = lockFor(options.lock);
  const parts = {
    typecode: t,
    length: view.length,
    view,
    ref: null,
    lock,
    ownsLock: ownsLock(options.lock),
  };
  return made.build(parts, () => new SynchronizedArray<T>());
}

/** @internal Refuses raw shared memory outside the "worker" start method. */
export function checkRawAllowed(sharedMemory: boolean, what: string): void {
  if (!sharedMemory) {
    throw new ValueError(
      `${what} hands out raw shared memory, which only the "worker" start method has ("spawn" children are separate OS processes): ` +
        `use getContext("worker").${what}, or Value()/SharedArray(), which work under both`,
    );
  }
}

/**
 * Raw shared memory for one value: the typed array itself (length 1),
 * without a lock. "worker" start method only.
 */
export function rawValue<T extends Typecode>(
  typecode: T,
  init?: TypecodeInput<T>,
): TypecodeArrays[T] {
  return sharedView(typecode, [init === undefined ? 0 : init])[1] as TypecodeArrays[T];
}

/** Raw shared memory for an array: the typed array itself. "worker" start method only. */
export function rawArray<T extends Typecode>(
  typecode: T,
  sizeOrValues: number | Iterable<TypecodeInput<T>>,
): TypecodeArrays[T] {
  return sharedView(typecode, sizeOrValues)[1] as TypecodeArrays[T];
}

function rebuild(Cls: typeof Synchronized | typeof SynchronizedArray) {
  return (s: unknown) => {
    const st = s as MemoryState;
    const ref = st.view ? null : Ref.fromState<MemoryCore>(st.ref!);
    return made.build({ ...st, ref, ownsLock: true }, () => new Cls());
  };
}

registerReducer("Value", rebuild(Synchronized));
registerReducer("Array", rebuild(SynchronizedArray));

/** @internal An owner-side memory core, for a manager's server. */
export function _memoryCore(typecode: Typecode, sizeOrValues: number | CValue[]): SharedCore {
  return new MemoryCore(sharedView(typecode, sizeOrValues)[1]);
}
