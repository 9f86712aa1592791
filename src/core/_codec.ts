/**
 * A binary codec with structured-clone semantics: what `structuredClone`
 * copies (primitives, `BigInt`, `Date`, `RegExp`, `Map`, `Set`, arrays,
 * plain objects, `ArrayBuffer`, typed arrays, `DataView`, errors, cycles and
 * shared references) survives a round trip. Library objects that stand for a
 * live resource (a `Connection`, a queue) implement {@linkcode REDUCE} and
 * are rebuilt on the other side by the reducer registered under their type.
 *
 * What cannot be copied fails with a `TypeError` that names its path in the
 * value (`args[1].socket`). Deno's `node:v8` serializer leaks native memory
 * (see FACTS.md), so this codec is plain TypeScript and works the same on
 * every runtime.
 *
 * @module
 */

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

class Writer {
  buf = new Uint8Array(256);
  view = new DataView(this.buf.buffer);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  str(s: string): void {
    const max = s.length * 3;
    this.ensure(4 + max);
    const { written } = encoder.encodeInto(s, this.buf.subarray(this.pos + 4));
    this.view.setUint32(this.pos, written, true);
    this.pos += 4 + written;
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

class Encoder {
  w = new Writer();
  refs = new Map<object, number>();
  path: (string | number)[];

  constructor(root: string, readonly context: EncodeContext) {
    this.path = [root];
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
        if ((v | 0) === v && !Object.is(v, -0)) {
          w.u8(Tag.Int32);
          return w.i32(v);
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
          w.view.setUint16(w.pos, v.charCodeAt(i), true);
          w.pos += 2;
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
      this.refs.set(o, this.refs.size);
      const reduced = (o as Reducible)[REDUCE](this.context);
      w.u8(Tag.Reduced);
      w.str(reduced.type);
      return this.value(reduced.state);
    }
    if (Array.isArray(o)) {
      this.refs.set(o, this.refs.size);
      w.u8(Tag.Array);
      const n = o.length;
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
      this.refs.set(o, this.refs.size);
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
      this.refs.set(o, this.refs.size);
      w.u8(Tag.Shared);
      w.u32(this.context.shared.length);
      this.context.shared.push(o);
      return;
    }
    if (o instanceof Date) {
      this.refs.set(o, this.refs.size);
      w.u8(Tag.Date);
      return w.f64(o.getTime());
    }
    if (o instanceof RegExp) {
      this.refs.set(o, this.refs.size);
      w.u8(Tag.RegExp);
      w.str(o.source);
      return w.str(o.flags);
    }
    if (o instanceof Map) {
      this.refs.set(o, this.refs.size);
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
      this.refs.set(o, this.refs.size);
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
    this.refs.set(o, this.refs.size);
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

  view(o: ArrayBufferView): void {
    const w = this.w;
    this.refs.set(o, this.refs.size);
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
    this.refs.set(e, this.refs.size);
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

class Decoder {
  pos = 0;
  view: DataView;
  refs: unknown[] = [];

  constructor(readonly buf: Uint8Array, readonly context: DecodeContext) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  u8(): number {
    return this.buf[this.pos++];
  }
  u32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  str(): string {
    const n = this.u32();
    const s = decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
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
      case Tag.Int32: {
        const v = this.view.getInt32(this.pos, true);
        this.pos += 4;
        return v;
      }
      case Tag.Float64: {
        const v = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case Tag.String:
        return this.str();
      case Tag.String16: {
        const n = this.u32();
        let s = "";
        for (let i = 0; i < n; i++) {
          s += String.fromCharCode(this.view.getUint16(this.pos + 2 * i, true));
        }
        this.pos += 2 * n;
        return s;
      }
      case Tag.BigInt: {
        const s = this.str();
        return s.startsWith("-") ? -BigInt("0x" + s.slice(1)) : BigInt("0x" + s);
      }
      case Tag.Date: {
        const d = new Date(this.view.getFloat64(this.pos, true));
        this.pos += 8;
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
        const n = this.u32();
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
      case Tag.Object: {
        const o: Record<string, unknown> = {};
        this.refs.push(o);
        const n = this.u32();
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
        const n = this.u32();
        for (let i = 0; i < n; i++) {
          const k = this.value();
          m.set(k, this.value());
        }
        return m;
      }
      case Tag.Set: {
        const s = new Set();
        this.refs.push(s);
        const n = this.u32();
        for (let i = 0; i < n; i++) s.add(this.value());
        return s;
      }
      case Tag.ArrayBuffer: {
        const n = this.u32();
        // Copy explicitly: the input may be a Node Buffer, whose slice() is a view.
        const copy = new Uint8Array(n);
        copy.set(this.buf.subarray(this.pos, this.pos + n));
        const b = copy.buffer;
        this.pos += n;
        this.refs.push(b);
        return b;
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
        const e = Object.create(cls.prototype) as Error;
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
      case Tag.BackRef:
        return this.refs[this.u32()];
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

/**
 * Encodes `value` to bytes. `root` names the value in error messages
 * (`args` gives paths like `args[1].socket`).
 */
export function encode(
  value: unknown,
  context: EncodeContext = {},
  root = "value",
): Uint8Array {
  const e = new Encoder(root, context);
  e.value(value);
  return e.w.buf.subarray(0, e.w.pos);
}

/** Decodes bytes made by {@linkcode encode}. */
export function decode(bytes: Uint8Array, context: DecodeContext = {}): unknown {
  return new Decoder(bytes, context).value();
}
