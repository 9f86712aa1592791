/**
 * A binary codec with structured-clone semantics: what `structuredClone`
 * copies (primitives, `BigInt`, `Date`, `RegExp`, `Map`, `Set`, arrays,
 * plain objects, `ArrayBuffer`, typed arrays, `DataView`, errors, cycles and
 * shared references) survives a round trip. Library objects that stand for a
 * live resource (a `Connection`, a queue) implement {@linkcode REDUCE} and
 * are rebuilt on the other side by the reducer registered under their type.
 *
 * What cannot be copied fails with a `TypeError` that names its path in the
 * value (`args[1].socket`); so does a runtime resource (a socket, a file, a
 * stream: see resources.ts), whose fields are not the resource. Deno's `node:v8` serializer leaks native memory
 * (400k `serialize` calls grow the resident set from 33 MiB to 1 GiB, `gc()`
 * does not free it, and `deserialize` leaks too), so this codec is plain TypeScript and works the
 * same on every runtime.
 *
 * @module
 */

import { writeHeader } from "./framing.ts";
import { describeResource } from "./resources.ts";

/** The method a live library object implements to say how it crosses a boundary. */
export const REDUCE: unique symbol = Symbol.for("@procs/multiprocessing.reduce") as never;

/** What a reducible object turns into: a registered type name and a copyable state. */
export interface Reduced {
  type: string;
  state: unknown;
}

/** An object that knows how to cross a process boundary. */
export interface Reducible {
  [REDUCE](context: EncodeContext): Reduced;
}

/** Passed to reducers while encoding: where the value is going. */
export interface EncodeContext {
  /** Called for every resource ticket handed out while encoding (see connection.ts). */
  onTicket?: (drop: () => void) => void;
  /** Shared memory may travel as-is (both ends share one address space). */
  shareMemory?: boolean;
  /** Filled with the `SharedArrayBuffer`s met while encoding when `shareMemory` is set. */
  shared?: SharedArrayBuffer[];
  /**
   * Describes a function so the other side can find it (by module and
   * export name, or source); throws when it cannot. Without it functions
   * cannot be copied. The descriptions are collected in `functions`.
   */
  describeFunction?: (fn: (...args: never[]) => unknown) => unknown;
  /** Filled with the descriptions of the functions met while encoding. */
  functions?: unknown[];
}

/** Passed to rebuilders while decoding. */
export interface DecodeContext {
  /** The `SharedArrayBuffer`s that travelled beside the bytes. */
  shared?: SharedArrayBuffer[];
  /** The functions rebuilt from `EncodeContext.functions`, in order. */
  functions?: ((...args: unknown[]) => unknown)[];
  /**
   * Byte payloads come back as views into the input instead of copies: for
   * a caller that decodes them at once and keeps neither (`true`), or only
   * the large ones (`"large"`, from {@linkcode LARGE_VIEW} bytes): a view
   * keeps its whole input alive, which for a large payload is little more
   * than itself, and saves copying it.
   */
  views?: boolean | "large";
}

type Rebuilder = (state: unknown, context: DecodeContext) => unknown;
const rebuilders = new Map<string, Rebuilder>();

/** Registers how objects reduced under `type` are rebuilt. */
export function registerReducer(type: string, rebuild: Rebuilder): void {
  rebuilders.set(type, rebuild);
}

/** Rebuilds an object from its reduced type and state, as decoding would. */
export function rebuildReduced(type: string, state: unknown, context: DecodeContext = {}): unknown {
  const rebuild = rebuilders.get(type);
  if (!rebuild) throw new TypeError(`No rebuilder is registered for '${type}'`);
  return rebuild(state, context);
}

/** Builds errors by name when they are decoded; filled by errors.ts users. */
const errorClasses = new Map<string, new (message?: string) => Error>([
  ["Error", Error],
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
  ["ReferenceError", ReferenceError],
  ["EvalError", EvalError],
  ["URIError", URIError],
]);

/** The errors decoding made: raised in another process. */
const decodedErrors = new WeakSet<Error>();

/** Whether `error` was rebuilt by {@linkcode decode}: it was raised in another process. */
export function isDecodedError(error: Error): boolean {
  return decodedErrors.has(error);
}

/** Lets errors of the given classes be rebuilt with their own class. */
export function registerErrorClasses(
  classes: Readonly<Record<string, new (message?: string) => Error>>,
): void {
  for (const [name, cls] of Object.entries(classes)) errorClasses.set(name, cls);
}

const enum Tag {
  Undefined = 0,
  Null,
  True,
  False,
  Int32,
  Float64,
  String,
  BigInt,
  Date,
  RegExp,
  Array,
  Object,
  Map,
  Set,
  ArrayBuffer,
  TypedArray,
  DataView,
  Error,
  BackRef,
  Reduced,
  Hole,
  Shared,
  String16,
  Function,
  Bytes,
  /** An array of numbers only, as one block of int32s or float64s (see `Encoder.numbers`). */
  Numbers,
}

/** Arrays this long or longer are tried as a block of numbers. */
const NUMBERS_MIN = 16;
const enum NumberKind {
  Int32 = 0,
  Float64 = 1,
}

const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;
type AnyTypedArray = InstanceType<(typeof TYPED_ARRAYS)[number]>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Strings up to this many UTF-16 units are copied byte by byte when they are ASCII. */
const SHORT_STRING = 64;
/** A writer that grew above this is not kept for the next message. */
const KEEP_WRITER_BYTES = 1 << 20;

/** Float64 scratch space: reading a double without a `DataView` on the input. */
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);
/** Reused by the decoder for the char codes of a short string. */
const charCodes: number[] = [];
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * What {@linkcode encode} and {@linkcode copyBytes} return: bytes nothing
 * outside the library sees, often a view into a shared slab. Encoded again
 * (a payload inside a message) they travel as their bytes alone: their
 * buffer is never read or shared (reading `.buffer` also makes
 * JavaScriptCore allocate a backing store for a small array). Decoding
 * gives plain `Uint8Array`s, each the whole of its own buffer.
 */
class Encoded extends Uint8Array {}

/** Small results are cut from a shared slab: V8 allocates a small typed array in ~0.4 µs. */
const SLAB_BYTES = 16 * 1024;
/** Results up to this size come from the slab (a live one keeps at most one slab alive). */
const SLAB_ITEM = 2 * 1024;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

/** Stands in the decoder's references for the buffer of the byte array before it. */
const BUFFER_OF_PREVIOUS = Symbol("buffer of the previous reference");

/**
 * Copies `src[start, start + n)` to `dst` at `at`: byte by byte when short
 * (cheaper than cutting a `subarray` to hand to `set`).
 */
export function copyInto(
  dst: Uint8Array,
  at: number,
  src: Uint8Array,
  start: number,
  n: number,
): void {
  if (n <= 64) {
    for (let i = 0; i < n; i++) dst[at + i] = src[start + i];
  } else if (start === 0 && n === src.length) dst.set(src, at);
  else dst.set(src.subarray(start, start + n), at);
}

/**
 * Copies `src[start, start + n)` into new bytes that may cross a boundary
 * as a payload without being read again (small ones are cut from a slab).
 * For library-internal bytes only.
 */
export function copyBytes(src: Uint8Array, start: number, n: number): Uint8Array {
  let out: Encoded;
  if (n <= SLAB_ITEM) {
    if (slabUsed + n > slab.byteLength) {
      slab = new ArrayBuffer(SLAB_BYTES);
      slabUsed = 0;
    }
    out = new Encoded(slab, slabUsed, n);
    slabUsed += (n + 7) & ~7;
  } else out = new Encoded(n);
  copyInto(out, 0, src, start, n);
  return out;
}

class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(size = 4096) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    // Doubling, or the size needed and a sixteenth more when that is more:
    // a 64 MiB payload takes a 68 MiB buffer, not 128 MiB.
    const size = Math.max(this.buf.length * 2, need + (need >>> 4));
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.ensure(4);
    const b = this.buf;
    const p = this.pos;
    b[p] = v;
    b[p + 1] = v >>> 8;
    b[p + 2] = v >>> 16;
    b[p + 3] = v >>> 24;
    this.pos = p + 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  str(s: string): void {
    const n = s.length;
    this.ensure(4 + n * 3);
    if (n <= SHORT_STRING) {
      const b = this.buf;
      const start = this.pos + 4;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + i] = c;
      }
      if (i === n) {
        this.u32(n);
        this.pos += n;
        return;
      }
    }
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.pos + 4));
    this.u32(written);
    this.pos += written;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function isWellFormed(s: string): boolean {
  const native = (s as { isWellFormed?: () => boolean }).isWellFormed;
  return native ? native.call(s) : !LONE_SURROGATE.test(s);
}

function describePath(path: (string | number)[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (out === "") out = part;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** Few references are searched in a list; a `Map` only for values with many objects. */
const LINEAR_REFS = 32;

/**
 * The objects met so far and their numbers. Most messages hold a handful
 * of objects, for which a list beats a `Map` (whose table V8 reallocates on
 * every clear and grows by rehashing).
 */
class RefTable {
  #objects: object[] = [];
  #map: Map<object, number> | null = null;

  get(o: object): number | undefined {
    if (this.#map) return this.#map.get(o);
    const i = this.#objects.indexOf(o);
    return i < 0 ? undefined : i;
  }
  has(o: object): boolean {
    return this.get(o) !== undefined;
  }
  /** Numbers `o` as `index`; indexes only grow (a reserved number may be skipped). */
  set(o: object, index: number): void {
    if (this.#map) {
      this.#map.set(o, index);
      return;
    }
    const objects = this.#objects;
    while (objects.length < index) objects.push(RESERVED);
    objects.push(o);
    if (objects.length > LINEAR_REFS) {
      this.#map = new Map();
      for (let i = 0; i < objects.length; i++) {
        if (objects[i] !== RESERVED) this.#map.set(objects[i], i);
      }
    }
  }
  clear(): void {
    this.#objects.length = 0;
    this.#map = null;
  }
}

/** Fills the list's slot of a number given to something that is not in it. */
const RESERVED = {};

class Encoder {
  w = new Writer();
  /** While a frame is encoded in parts: the parts so far (see `encodeFrameParts`). */
  parts: Uint8Array[] | null = null;
  /** Where the writer's bytes not yet in a part start. */
  partStart = 0;
  refs = new RefTable();
  /** How many references were numbered (the decoder numbers them in the same order). */
  count = 0;
  path: (string | number)[] = [];
  context: EncodeContext = {};

  ref(o: object): void {
    this.refs.set(o, this.count++);
  }

  /** Gets ready for a new value written from byte `start`. */
  reset(root: string, context: EncodeContext, start: number): void {
    this.w.pos = start;
    this.refs.clear();
    this.count = 0;
    this.path.length = 0;
    this.path.push(root);
    this.context = context;
    this.parts = null;
    this.partStart = 0;
  }

  /** Ends the current part with the bytes written since the last one. */
  cut(): void {
    const w = this.w;
    this.parts!.push(copyBytes(w.buf, this.partStart, w.pos - this.partStart));
    this.partStart = w.pos;
  }

  fail(what: string): never {
    throw new TypeError(
      `Cannot copy ${describePath(this.path)} to another process: ${what}`,
    );
  }

  value(v: unknown): void {
    const w = this.w;
    switch (typeof v) {
      case "undefined":
        return w.u8(Tag.Undefined);
      case "boolean":
        return w.u8(v ? Tag.True : Tag.False);
      case "number":
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          w.u8(Tag.Int32);
          return w.u32(v);
        }
        w.u8(Tag.Float64);
        return w.f64(v);
      case "string":
        if (isWellFormed(v)) {
          w.u8(Tag.String);
          return w.str(v);
        }
        // Lone surrogates do not survive UTF-8: keep the UTF-16 code units.
        w.u8(Tag.String16);
        w.u32(v.length);
        w.ensure(v.length * 2);
        for (let i = 0; i < v.length; i++) {
          const c = v.charCodeAt(i);
          w.buf[w.pos++] = c;
          w.buf[w.pos++] = c >>> 8;
        }
        return;
      case "bigint":
        w.u8(Tag.BigInt);
        return w.str(v.toString(16));
      case "function":
        if (this.context.describeFunction && this.context.functions) {
          let spec: unknown;
          try {
            spec = this.context.describeFunction(v as (...args: never[]) => unknown);
          } catch (error) {
            return this.fail((error as Error).message);
          }
          w.u8(Tag.Function);
          w.u32(this.context.functions.length);
          this.context.functions.push(spec);
          return;
        }
        return this.fail(
          `functions cannot be copied${
            v.name ? ` ('${v.name}')` : ""
          }; pass plain data, or export the function and pass it as a target`,
        );
      case "symbol":
        return this.fail(`symbols cannot be copied (${String(v)})`);
    }
    if (v === null) return w.u8(Tag.Null);
    this.object(v as object);
  }

  object(o: object): void {
    const w = this.w;
    const ref = this.refs.get(o);
    if (ref !== undefined) {
      w.u8(Tag.BackRef);
      return w.u32(ref);
    }
    if (REDUCE in o && typeof (o as Reducible)[REDUCE] === "function") {
      this.ref(o);
      const reduced = (o as Reducible)[REDUCE](this.context);
      w.u8(Tag.Reduced);
      w.str(reduced.type);
      return this.value(reduced.state);
    }
    if (Array.isArray(o)) {
      this.ref(o);
      const n = o.length;
      if (n >= NUMBERS_MIN && LITTLE_ENDIAN && this.numbers(o)) return;
      w.u8(Tag.Array);
      w.u32(n);
      for (let i = 0; i < n; i++) {
        if (!(i in o)) {
          w.u8(Tag.Hole);
          continue;
        }
        this.path.push(i);
        this.value(o[i]);
        this.path.pop();
      }
      return;
    }
    if (ArrayBuffer.isView(o)) return this.view(o);
    if (o instanceof ArrayBuffer) {
      this.ref(o);
      w.u8(Tag.ArrayBuffer);
      return w.bytes(new Uint8Array(o));
    }
    if (
      typeof SharedArrayBuffer !== "undefined" && o instanceof SharedArrayBuffer
    ) {
      if (!this.context.shareMemory || !this.context.shared) {
        return this.fail(
          'a SharedArrayBuffer can only be shared with a worker started by the "worker" start method',
        );
      }
      this.ref(o);
      w.u8(Tag.Shared);
      w.u32(this.context.shared.length);
      this.context.shared.push(o);
      return;
    }
    if (o instanceof Date) {
      this.ref(o);
      w.u8(Tag.Date);
      return w.f64(o.getTime());
    }
    if (o instanceof RegExp) {
      this.ref(o);
      w.u8(Tag.RegExp);
      w.str(o.source);
      return w.str(o.flags);
    }
    if (o instanceof Map) {
      this.ref(o);
      w.u8(Tag.Map);
      w.u32(o.size);
      let i = 0;
      for (const [k, val] of o) {
        this.path.push(`<map key ${i}>`);
        this.value(k);
        this.path.pop();
        this.path.push(typeof k === "string" || typeof k === "number" ? k : `<map value ${i}>`);
        this.value(val);
        this.path.pop();
        i++;
      }
      return;
    }
    if (o instanceof Set) {
      this.ref(o);
      w.u8(Tag.Set);
      w.u32(o.size);
      let i = 0;
      for (const item of o) {
        this.path.push(`<set item ${i++}>`);
        this.value(item);
        this.path.pop();
      }
      return;
    }
    if (o instanceof Error) return this.error(o);
    if (
      o instanceof Promise || o instanceof WeakMap || o instanceof WeakSet ||
      (typeof WeakRef !== "undefined" && o instanceof WeakRef)
    ) {
      return this.fail(`a ${o.constructor.name} cannot be copied`);
    }
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      // A socket, a file, a stream...: its own fields (often none) are not it.
      const resource = describeResource(o, proto);
      if (resource !== undefined) return this.fail(resource);
    }
    this.ref(o);
    w.u8(Tag.Object);
    const keys = Object.keys(o);
    w.u32(keys.length);
    for (const k of keys) {
      w.str(k);
      this.path.push(k);
      this.value((o as Record<string, unknown>)[k]);
      this.path.pop();
    }
  }

  /**
   * Writes an array of numbers only (no hole, nothing else) as one block:
   * int32s when every item is one, else float64s. The generic path costs a
   * type switch and a tag per item, slow until the JIT has seen it run (the
   * first `map` of a program); this check loop is small and the copy native.
   */
  numbers(o: unknown[]): boolean {
    const n = o.length;
    let ints = true;
    for (let i = 0; i < n; i++) {
      const v = o[i];
      if (typeof v !== "number") return false;
      if (ints && ((v | 0) !== v || (v === 0 && 1 / v < 0))) ints = false;
    }
    const block = ints ? new Int32Array(o as number[]) : new Float64Array(o as number[]);
    const w = this.w;
    w.u8(Tag.Numbers);
    w.u8(ints ? NumberKind.Int32 : NumberKind.Float64);
    w.u32(n);
    w.ensure(block.byteLength);
    w.buf.set(new Uint8Array(block.buffer), w.pos);
    w.pos += block.byteLength;
    return true;
  }

  view(o: ArrayBufferView): void {
    const w = this.w;
    this.ref(o);
    if (o instanceof Encoded) {
      // The library's own bytes (see there): sent as bytes, without reading
      // `.buffer` (a slab, or a backing store JavaScriptCore would allocate).
      this.count++; // the decoder numbers the buffer of what it rebuilds
      w.u8(Tag.Bytes);
      if (this.parts && o.byteLength >= PART_BYTES) {
        // A large payload in a frame is written as a part of its own, not copied.
        w.u32(o.byteLength);
        this.cut();
        this.parts.push(o);
        return;
      }
      return w.bytes(o);
    }
    if (o instanceof Uint8Array) {
      const buffer = o.buffer;
      if (
        o.byteOffset === 0 && o.byteLength === buffer.byteLength &&
        buffer instanceof ArrayBuffer && !this.refs.has(buffer)
      ) {
        // A Uint8Array that is its whole buffer: the bytes once, rebuilt as
        // the same pair of view and buffer.
        this.ref(buffer);
        w.u8(Tag.Bytes);
        return w.bytes(o);
      }
    }
    if (o instanceof DataView) {
      w.u8(Tag.DataView);
    } else {
      const kind = TYPED_ARRAYS.findIndex((c) => o instanceof c);
      if (kind < 0) this.fail(`a ${o.constructor.name} cannot be copied`);
      w.u8(Tag.TypedArray);
      w.u8(kind);
    }
    this.path.push("buffer");
    this.object(o.buffer);
    this.path.pop();
    w.u32(o.byteOffset);
    w.u32(o instanceof DataView ? o.byteLength : (o as AnyTypedArray).length);
  }

  error(e: Error): void {
    const w = this.w;
    this.ref(e);
    w.u8(Tag.Error);
    w.str(e.name);
    w.str(e.message);
    w.str(e.stack ?? "");
    const extra: Record<string, unknown> = {};
    for (const k of Object.keys(e)) {
      if (k !== "name" && k !== "message" && k !== "stack") {
        extra[k] = (e as unknown as Record<string, unknown>)[k];
      }
    }
    if ("cause" in e) extra.cause = e.cause;
    this.path.push("<error fields>");
    this.value(extra);
    this.path.pop();
  }
}

/**
 * The numbers of a block as an array. A function of its own, small, so the
 * JIT optimises its loop after a few thousand items; the same loop inside
 * the decoder's large `value()` stays slow far longer.
 */
function arrayOf(block: Int32Array | Float64Array): number[] {
  const n = block.length;
  const a: number[] = new Array(n);
  for (let i = 0; i < n; i++) a[i] = block[i];
  return a;
}

class Decoder {
  pos = 0;
  refs: unknown[] = [];
  /** Where the input ends: no announced length may reach past it. */
  readonly end: number;

  constructor(readonly buf: Uint8Array, readonly context: DecodeContext) {
    this.end = buf.length;
  }

  /**
   * Throws unless `n` more bytes are left: every length a message announces
   * is checked against the bytes that arrived before anything is allocated
   * for it (a peer announcing 2^31 bytes must not make us allocate them).
   */
  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new TypeError(
        `Corrupt message: ${what} announces ${n} bytes at byte ${this.pos} but only ${
          Math.max(0, this.end - this.pos)
        } are left`,
      );
    }
  }

  /** Reads a count of items that take at least `each` bytes apiece, checked against what is left. */
  count(each: number, what: string): number {
    const n = this.u32();
    this.need(n * each, what);
    return n;
  }

  // No DataView over the input: reading `.buffer` of a small typed array
  // makes JavaScriptCore allocate a backing store for it.
  u8(): number {
    if (this.pos >= this.end) this.need(1, "a value");
    return this.buf[this.pos++];
  }
  i32(): number {
    const b = this.buf;
    const p = this.pos;
    if (p + 4 > this.end) this.need(4, "a number");
    this.pos = p + 4;
    return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
  }
  u32(): number {
    return this.i32() >>> 0;
  }
  f64(): number {
    const b = this.buf;
    const p = this.pos;
    if (p + 8 > this.end) this.need(8, "a number");
    if (LITTLE_ENDIAN) { for (let i = 0; i < 8; i++) scratchBytes[i] = b[p + i]; }
    else for (let i = 0; i < 8; i++) scratchBytes[7 - i] = b[p + i];
    this.pos = p + 8;
    return scratch[0];
  }
  str(): string {
    const n = this.u32();
    const b = this.buf;
    const p = this.pos;
    if (n > this.end - p) this.need(n, "a string");
    this.pos = p + n;
    if (n <= 8) {
      let s = "";
      for (let i = 0; i < n; i++) {
        const c = b[p + i];
        if (c >= 0x80) return decoder.decode(b.subarray(p, p + n));
        s += String.fromCharCode(c);
      }
      return s;
    }
    if (n <= SHORT_STRING) {
      // Building from char codes beats both concatenation and TextDecoder here.
      const codes = charCodes;
      codes.length = n;
      for (let i = 0; i < n; i++) {
        const c = b[p + i];
        if (c >= 0x80) return decoder.decode(b.subarray(p, p + n));
        codes[i] = c;
      }
      return String.fromCharCode.apply(null, codes);
    }
    return decoder.decode(b.subarray(p, p + n));
  }
  view(): Uint8Array {
    const n = this.u32();
    this.need(n, "a byte payload");
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n, "a byte payload");
    // Copy explicitly: the input may be a Node Buffer, whose slice() is a view.
    const copy = new Uint8Array(n);
    copyInto(copy, 0, this.buf, this.pos, n);
    this.pos += n;
    return copy;
  }

  value(): unknown {
    const tag = this.u8();
    switch (tag) {
      case Tag.Undefined:
        return undefined;
      case Tag.Null:
        return null;
      case Tag.True:
        return true;
      case Tag.False:
        return false;
      case Tag.Int32:
        return this.i32();
      case Tag.Float64:
        return this.f64();
      case Tag.String:
        return this.str();
      case Tag.String16: {
        const n = this.count(2, "a string");
        let s = "";
        const b = this.buf;
        for (let i = 0; i < n; i++) {
          s += String.fromCharCode(b[this.pos] | (b[this.pos + 1] << 8));
          this.pos += 2;
        }
        return s;
      }
      case Tag.BigInt: {
        const s = this.str();
        return s.startsWith("-") ? -BigInt("0x" + s.slice(1)) : BigInt("0x" + s);
      }
      case Tag.Date: {
        const d = new Date(this.f64());
        this.refs.push(d);
        return d;
      }
      case Tag.RegExp: {
        const index = this.refs.push(null) - 1;
        const r = new RegExp(this.str(), this.str());
        this.refs[index] = r;
        return r;
      }
      case Tag.Array: {
        const n = this.count(1, "an array");
        const a: unknown[] = new Array(n);
        this.refs.push(a);
        for (let i = 0; i < n; i++) {
          if (this.buf[this.pos] === Tag.Hole) {
            this.pos++;
            continue;
          }
          a[i] = this.value();
        }
        return a;
      }
      case Tag.Numbers: {
        const kind = this.u8();
        if (kind !== NumberKind.Int32 && kind !== NumberKind.Float64) {
          throw new TypeError(`Corrupt message: unknown number block kind ${kind}`);
        }
        const size = kind === NumberKind.Int32 ? 4 : 8;
        const n = this.count(size, "a block of numbers");
        const copy = new Uint8Array(n * size);
        copyInto(copy, 0, this.buf, this.pos, n * size);
        this.pos += n * size;
        const a = arrayOf(
          kind === NumberKind.Int32 ? new Int32Array(copy.buffer) : new Float64Array(copy.buffer),
        );
        this.refs.push(a);
        return a;
      }
      case Tag.Object: {
        const o: Record<string, unknown> = {};
        this.refs.push(o);
        const n = this.count(5, "an object");
        for (let i = 0; i < n; i++) {
          const k = this.str();
          const v = this.value();
          if (k === "__proto__") {
            Object.defineProperty(o, k, {
              value: v,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          } else o[k] = v;
        }
        return o;
      }
      case Tag.Map: {
        const m = new Map();
        this.refs.push(m);
        const n = this.count(2, "a map");
        for (let i = 0; i < n; i++) {
          const k = this.value();
          m.set(k, this.value());
        }
        return m;
      }
      case Tag.Set: {
        const s = new Set();
        this.refs.push(s);
        const n = this.count(1, "a set");
        for (let i = 0; i < n; i++) s.add(this.value());
        return s;
      }
      case Tag.ArrayBuffer: {
        const b = this.bytes().buffer;
        this.refs.push(b);
        return b;
      }
      case Tag.Bytes: {
        const index = this.refs.push(null, null) - 2;
        const views = this.context.views;
        let asView = views === true;
        if (views === "large") {
          asView = this.u32() >= LARGE_VIEW; // the length, read again by view() or bytes()
          this.pos -= 4;
        }
        const v = asView ? this.view() : this.bytes();
        this.refs[index] = v;
        this.refs[index + 1] = BUFFER_OF_PREVIOUS; // read only when referenced again
        return v;
      }
      case Tag.Shared: {
        const b = this.context.shared?.[this.u32()];
        if (!b) throw new TypeError("A shared buffer was announced but did not arrive");
        this.refs.push(b);
        return b;
      }
      case Tag.TypedArray:
      case Tag.DataView: {
        const kind = tag === Tag.TypedArray ? this.u8() : -1;
        const index = this.refs.push(null) - 1;
        const buffer = this.value() as ArrayBuffer;
        const offset = this.u32();
        const length = this.u32();
        const v = kind < 0
          ? new DataView(buffer, offset, length)
          : new TYPED_ARRAYS[kind](buffer, offset, length);
        this.refs[index] = v;
        return v;
      }
      case Tag.Error: {
        const index = this.refs.push(null) - 1;
        const name = this.str();
        const message = this.str();
        const stack = this.str();
        const cls = errorClasses.get(name) ?? Error;
        // A real error object (runtimes print a plain object made from the
        // prototype as a dump of its fields), without running the class's
        // own constructor, whose parameters may be anything.
        const e = Reflect.construct(Error, [], cls) as Error;
        decodedErrors.add(e);
        Object.defineProperty(e, "message", { value: message, writable: true, configurable: true });
        Object.defineProperty(e, "stack", { value: stack, writable: true, configurable: true });
        if (e.name !== name) {
          Object.defineProperty(e, "name", { value: name, writable: true, configurable: true });
        }
        this.refs[index] = e;
        const extra = this.value() as Record<string, unknown>;
        for (const [k, v] of Object.entries(extra)) {
          Object.defineProperty(e, k, {
            value: v,
            writable: true,
            configurable: true,
            enumerable: k !== "cause",
          });
        }
        return e;
      }
      case Tag.Function: {
        const fn = this.context.functions?.[this.u32()];
        if (!fn) throw new TypeError("A function was announced but was not rebuilt");
        return fn;
      }
      case Tag.BackRef: {
        const index = this.u32();
        if (index >= this.refs.length) {
          throw new TypeError(`Corrupt message: a reference to object ${index} comes before it`);
        }
        const v = this.refs[index];
        if (v !== BUFFER_OF_PREVIOUS) return v;
        return (this.refs[index] = (this.refs[index - 1] as Uint8Array).buffer);
      }
      case Tag.Reduced: {
        const index = this.refs.push(null) - 1;
        const type = this.str();
        const state = this.value();
        const rebuild = rebuilders.get(type);
        if (!rebuild) {
          throw new TypeError(
            `Cannot rebuild a '${type}' here: the module that defines it was not loaded`,
          );
        }
        const v = rebuild(state, this.context);
        this.refs[index] = v;
        return v;
      }
      default:
        throw new TypeError(`Corrupt message: unknown tag ${tag} at byte ${this.pos - 1}`);
    }
  }
}

let spareEncoder: Encoder | null = null;

/** Runs `write` with an encoder (the spare one unless an encode is already running). */
function withEncoder<T>(
  root: string,
  context: EncodeContext,
  start: number,
  write: (e: Encoder) => T,
): T {
  const e = spareEncoder ?? new Encoder();
  spareEncoder = null;
  e.reset(root, context, start);
  try {
    return write(e);
  } finally {
    e.refs.clear();
    e.context = {};
    e.parts = null;
    if (e.w.buf.length > KEEP_WRITER_BYTES) e.w = new Writer();
    spareEncoder = e;
  }
}

/**
 * Encodes `value` to bytes. `root` names the value in error messages
 * (`args` gives paths like `args[1].socket`).
 */
export function encode(
  value: unknown,
  context: EncodeContext = {},
  root = "value",
): Uint8Array {
  return withEncoder(root, context, 0, (e) => {
    e.value(value);
    return written(e, 0);
  });
}

/**
 * The bytes the encoder wrote from `start`: a copy, or when they are large
 * the writer's own buffer (copying 64 MiB into fresh memory costs 10–130 ms
 * here), the encoder taking a new writer.
 */
function written(e: Encoder, start: number): Uint8Array {
  const w = e.w;
  if (w.pos - start <= KEEP_WRITER_BYTES) return copyBytes(w.buf, start, w.pos - start);
  e.w = new Writer();
  return new Encoded(w.buf.buffer as ArrayBuffer, start, w.pos - start);
}

/** Payloads this large are decoded as views where the caller allows large views. */
export const LARGE_VIEW = 64 * 1024;

/** Payloads this large travel as a part of their own in {@linkcode encodeFrameParts}. */
const PART_BYTES = 256 * 1024;

/**
 * Encodes `value` as one frame of `framing.ts` (its 4-byte big-endian
 * length, then the bytes of {@linkcode encode}) in parts written one after
 * the other: a large payload already encoded (what {@linkcode encode}
 * returned, a pipe's message, a queue's item) is a part of its own instead
 * of being copied into the frame. The frame's length is in the first part;
 * a frame without such a payload is one part.
 */
export function encodeFrameParts(
  value: unknown,
  context: EncodeContext = {},
  root = "value",
): Uint8Array[] {
  return withEncoder(root, context, 4, (e) => {
    e.parts = [];
    e.value(value);
    const parts = e.parts;
    if (parts.length === 0) {
      writeHeader(e.w.buf, e.w.pos - 4);
      return [written(e, 0)];
    }
    if (e.w.pos > e.partStart) e.cut();
    let size = -4;
    for (const part of parts) size += part.byteLength;
    writeHeader(parts[0], size);
    return parts;
  });
}

/** Decodes bytes made by {@linkcode encode}. */
export function decode(bytes: Uint8Array, context: DecodeContext = {}): unknown {
  return new Decoder(bytes, context).value();
}

/**
 * Decodes bytes that must hold exactly one value made by {@linkcode encode}
 * and nothing after it (a pipe's message, which may be any bytes
 * `sendBytes` was given); throws a `TypeError` when they do not.
 */
export function decodeExact(bytes: Uint8Array, context: DecodeContext = {}): unknown {
  const d = new Decoder(bytes, context);
  const value = d.value();
  if (d.pos > bytes.byteLength) {
    throw new TypeError(
      `Corrupt message: its value runs ${d.pos - bytes.byteLength} bytes past its end`,
    );
  }
  if (d.pos < bytes.byteLength) {
    throw new TypeError(`Corrupt message: ${bytes.byteLength - d.pos} bytes follow its value`);
  }
  return value;
}
