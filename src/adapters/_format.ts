/**
 * Console arguments as text, the way Deno's `console.log` prints them (its
 * console follows Node's `util.inspect`: depth 4, lines of 80 columns, long
 * arrays of short items in columns). A web page's children print through
 * this, so that a lesson's output reads the same in a page as in a terminal.
 *
 * @module
 */

const DEPTH = 4;
const BREAK_LENGTH = 80;
/** Node's `compact: 3`: the three innermost levels may share one line. */
const COMPACT = 3;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

interface Context {
  seen: object[];
  /** Objects met twice: their reference number. */
  circular: Map<object, number>;
  indentation: number;
  currentDepth: number;
}

/**
 * Formats console arguments as Deno's `console.log` prints them: `%s %d %i
 * %f %o %O %j %c` in a first string, strings as they are, other values
 * inspected, all joined by spaces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatArgs } from "@procs/multiprocessing/browser";
 *
 * assert.equal(formatArgs(["squares", [1, 4, 9], { done: true }]), "squares [ 1, 4, 9 ] { done: true }");
 * assert.equal(formatArgs(["%s has %d items", "list", 3]), "list has 3 items");
 * ```
 */
export function formatArgs(args: readonly unknown[]): string {
  if (args.length === 0) return "";
  const parts: string[] = [];
  let rest = 0;
  const first = args[0];
  if (typeof first === "string" && args.length > 1 && first.includes("%")) {
    let next = 1;
    const text = first.replace(/%([sdifoOjc%])/g, (whole, kind: string) => {
      if (kind === "%") return "%";
      if (next >= args.length) return whole;
      const value = args[next++];
      switch (kind) {
        case "s":
          return typeof value === "string" ? value : inspect(value, { nested: true });
        case "d":
        case "i": {
          if (typeof value === "bigint") return `${value}n`;
          const n = Number(value);
          return String(kind === "i" ? Math.trunc(n) : n);
        }
        case "f":
          return String(Number(value));
        case "j":
          return JSON.stringify(value);
        case "c":
          return "";
        default:
          return inspect(value);
      }
    });
    parts.push(text);
    rest = next;
  } else {
    parts.push(typeof first === "string" ? first : inspect(first));
    rest = 1;
  }
  for (let i = rest; i < args.length; i++) {
    const value = args[i];
    parts.push(typeof value === "string" ? value : inspect(value));
  }
  return parts.join(" ");
}

/** One value as Deno's `console.log` shows it (a string quoted when `nested`). */
export function inspect(value: unknown, options: { nested?: boolean } = {}): string {
  const ctx: Context = { seen: [], circular: new Map(), indentation: 0, currentDepth: 0 };
  return formatValue(ctx, value, 0, options.nested ?? true);
}

function quote(text: string): string {
  const q = !text.includes('"') ? '"' : !text.includes("'") ? "'" : !text.includes("`") ? "`" : '"';
  const escaped = text.replace(/[\\\n\r\t\b\f\v\0]/g, (c) =>
    ({
      "\\": "\\\\",
      "\n": "\\n",
      "\r": "\\r",
      "\t": "\\t",
      "\b": "\\b",
      "\f": "\\f",
      "\v": "\\v",
      "\0": "\\x00",
    })[c]!);
  return q + (q === '"' && text.includes('"') ? escaped.replaceAll('"', '\\"') : escaped) + q;
}

function formatPrimitive(value: unknown, nested: boolean): string | null {
  switch (typeof value) {
    case "string":
      return nested ? quote(value) : value;
    case "number":
      return Object.is(value, -0) ? "-0" : String(value);
    case "bigint":
      return `${value}n`;
    case "boolean":
    case "undefined":
      return String(value);
    case "symbol":
      return value.toString();
  }
  return value === null ? "null" : null;
}

function formatKey(key: string | symbol): string {
  if (typeof key === "symbol") return `[${key.toString()}]`;
  return IDENTIFIER.test(key) ? key : quote(key);
}

function functionBase(fn: (...args: unknown[]) => unknown): string {
  const source = Function.prototype.toString.call(fn);
  if (source.startsWith("class") && /^class\b/.test(source)) {
    return `[class ${fn.name || "(anonymous)"}]`;
  }
  const kind = fn.constructor?.name ?? "Function";
  return fn.name ? `[${kind}: ${fn.name}]` : `[${kind} (anonymous)]`;
}

function constructorName(value: object): string | null {
  const proto = Object.getPrototypeOf(value);
  if (proto === null) return null;
  const ctor = proto.constructor;
  return typeof ctor === "function" && ctor.name ? ctor.name : "Object";
}

function formatValue(ctx: Context, value: unknown, depth: number, nested: boolean): string {
  const primitive = formatPrimitive(value, nested);
  if (primitive !== null) return primitive;
  if (typeof value === "function" && !hasOwnKeys(value)) {
    return functionBase(value as (...args: unknown[]) => unknown);
  }
  const object = value as object;
  if (ctx.seen.includes(object)) {
    let n = ctx.circular.get(object);
    if (n === undefined) ctx.circular.set(object, n = ctx.circular.size + 1);
    return `[Circular *${n}]`;
  }
  return formatObject(ctx, object, depth);
}

function hasOwnKeys(value: object): boolean {
  return Object.keys(value).some((key) => key !== "prototype");
}

function formatObject(ctx: Context, value: object, depth: number): string {
  const name = constructorName(value);
  let braces: [string, string] = ["{", "}"];
  let prefix = "";
  let entries: string[] = [];
  let isArrayLike = false;
  const keys: (string | symbol)[] = Reflect.ownKeys(value).filter((key) =>
    Object.prototype.propertyIsEnumerable.call(value, key)
  );

  if (value instanceof Error) {
    const stack = value.stack ?? `${value.name}: ${value.message}`;
    const own = keys.filter((k) => k !== "stack" && k !== "message" && k !== "cause");
    if (own.length === 0 && !("cause" in value)) return stack;
    prefix = stack;
    entries = [];
  } else if (typeof value === "function") {
    prefix = functionBase(value as (...args: unknown[]) => unknown);
  } else if (Array.isArray(value)) {
    isArrayLike = true;
    braces = ["[", "]"];
    if (name !== "Array") prefix = `${name ?? "[Array: null prototype]"}(${value.length})`;
  } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    isArrayLike = true;
    braces = ["[", "]"];
    prefix = `${name}(${(value as unknown as ArrayLike<unknown>).length})`;
  } else if (value instanceof Map) {
    prefix = `${name}(${value.size})`;
  } else if (value instanceof Set) {
    prefix = `${name}(${value.size})`;
  } else if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  } else if (value instanceof RegExp) {
    return value.toString();
  } else if (value instanceof Promise) {
    return "Promise { <unknown> }";
  } else if (value instanceof WeakMap || value instanceof WeakSet) {
    return `${name} { <items unknown> }`;
  } else if (value instanceof ArrayBuffer) {
    const bytes = [...new Uint8Array(value).slice(0, 50)]
      .map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const more = value.byteLength > 50 ? ` ... ${value.byteLength - 50} more bytes` : "";
    return `ArrayBuffer { [Uint8Contents]: <${bytes}${more}>, byteLength: ${value.byteLength} }`;
  } else if (name === null) {
    prefix = "[Object: null prototype]";
  } else if (name !== "Object") {
    prefix = name;
  }

  if (depth > DEPTH) {
    if (isArrayLike && !prefix) return "[Array]";
    return `[${prefix || "Object"}]`;
  }

  ctx.seen.push(value);
  ctx.currentDepth = depth;
  const indentation = ctx.indentation;
  ctx.indentation += 2;
  if (isArrayLike) {
    const list = value as ArrayLike<unknown>;
    let holes = 0;
    const flushHoles = () => {
      if (holes > 0) entries.push(`<${holes} empty item${holes > 1 ? "s" : ""}>`);
      holes = 0;
    };
    const shown = Math.min(list.length, 100);
    for (let i = 0; i < shown; i++) {
      if (!Object.prototype.hasOwnProperty.call(list, i)) {
        holes++;
        continue;
      }
      flushHoles();
      entries.push(formatValue(ctx, list[i], depth + 1, true));
    }
    flushHoles();
    if (list.length > shown) {
      entries.push(`... ${list.length - shown} more item${list.length - shown > 1 ? "s" : ""}`);
    }
  } else if (value instanceof Map) {
    for (const [k, v] of value) {
      entries.push(
        `${formatValue(ctx, k, depth + 1, true)} => ${formatValue(ctx, v, depth + 1, true)}`,
      );
    }
  } else if (value instanceof Set) {
    for (const v of value) entries.push(formatValue(ctx, v, depth + 1, true));
  }
  for (const key of keys) {
    if (isArrayLike && typeof key === "string" && /^(0|[1-9]\d*)$/.test(key)) continue;
    if (value instanceof Error && (key === "stack" || key === "message")) continue;
    const descriptor = Object.getOwnPropertyDescriptor(value, key)!;
    const shownValue = descriptor.get
      ? descriptor.set ? "[Getter/Setter]" : "[Getter]"
      : descriptor.set
      ? "[Setter]"
      : formatValue(ctx, descriptor.value, depth + 1, true);
    entries.push(`${formatKey(key)}: ${shownValue}`);
  }
  if (value instanceof Error && "cause" in value && !keys.includes("cause")) {
    entries.push(
      `[cause]: ${formatValue(ctx, (value as { cause: unknown }).cause, depth + 1, true)}`,
    );
  }
  ctx.seen.pop();
  ctx.indentation = indentation;

  const n = ctx.circular.get(value);
  if (n !== undefined) prefix = prefix ? `<ref *${n}> ${prefix}` : `<ref *${n}>`;
  if (entries.length === 0) {
    if (value instanceof Error) return prefix;
    if (typeof value === "function") return prefix;
    return `${prefix ? `${prefix} ` : ""}${braces[0]}${braces[1]}`;
  }
  if (value instanceof Error) braces = ["{", "}"];
  const grouped = isArrayLike && entries.length > 6 ? groupArrayElements(ctx, entries) : entries;
  return reduceToSingleString(
    ctx,
    grouped,
    entries.length === grouped.length,
    prefix,
    braces,
    depth,
  );
}

/** Node's `reduceToSingleString` with `compact: 3`. */
function reduceToSingleString(
  ctx: Context,
  output: string[],
  ungrouped: boolean,
  base: string,
  braces: [string, string],
  depth: number,
): string {
  if (ctx.currentDepth - depth < COMPACT && ungrouped) {
    const start = output.length + ctx.indentation + braces[0].length + base.length + 10;
    const totalLength = output.reduce((sum, entry) => sum + entry.length, 0) + output.length;
    if (totalLength + start <= BREAK_LENGTH && !output.some((entry) => entry.includes("\n"))) {
      return `${base ? `${base} ` : ""}${braces[0]} ${output.join(", ")} ${braces[1]}`;
    }
  }
  const indentation = `\n${" ".repeat(ctx.indentation)}`;
  return `${base ? `${base} ` : ""}${braces[0]}${indentation}  ${
    output.join(`,${indentation}  `)
  }${indentation}${braces[1]}`;
}

/** Node's `groupArrayElements`: many short items in aligned columns. */
function groupArrayElements(ctx: Context, output: string[]): string[] {
  let totalLength = 0;
  let maxLength = 0;
  let i = 0;
  let outputLength = output.length;
  // A trailing "... N more items" is not grouped.
  if (outputLength > 0 && output[outputLength - 1].startsWith("... ")) outputLength--;
  const separatorSpace = 2; // ", "
  const dataLen = new Array<number>(outputLength);
  for (; i < outputLength; i++) {
    const len = output[i].length;
    dataLen[i] = len;
    totalLength += len + separatorSpace;
    if (maxLength < len) maxLength = len;
  }
  const actualMax = maxLength + separatorSpace;
  if (
    actualMax * 3 + ctx.indentation < BREAK_LENGTH &&
    (totalLength / actualMax > 5 || maxLength <= 6)
  ) {
    const approxCharHeights = 2.5;
    const averageBias = Math.sqrt(actualMax - totalLength / output.length);
    const biasedMax = Math.max(actualMax - 3 - averageBias, 1);
    const columns = Math.min(
      Math.round(Math.sqrt(approxCharHeights * biasedMax * outputLength) / biasedMax),
      Math.floor((BREAK_LENGTH - ctx.indentation) / actualMax),
      COMPACT * 4,
      15,
    );
    if (columns <= 1) return output;
    const tmp: string[] = [];
    const maxLineLength: number[] = [];
    for (let c = 0; c < columns; c++) {
      let lineLength = 0;
      for (let j = c; j < outputLength; j += columns) {
        if (dataLen[j] > lineLength) lineLength = dataLen[j];
      }
      maxLineLength.push(lineLength + separatorSpace);
    }
    // Numbers and bigints are aligned right, everything else left.
    const numeric = output.slice(0, outputLength).every((entry) =>
      /^-?[\d.]+(e[+-]?\d+)?n?$/.test(entry)
    );
    for (let r = 0; r < outputLength; r += columns) {
      const max = Math.min(r + columns, outputLength);
      let line = "";
      let j = r;
      for (; j < max - 1; j++) {
        const padding = maxLineLength[j - r] + output[j].length - dataLen[j];
        line += numeric
          ? `${output[j]}, `.padStart(padding, " ")
          : `${output[j]}, `.padEnd(padding, " ");
      }
      if (numeric) {
        const padding = maxLineLength[j - r] + output[j].length - dataLen[j] - separatorSpace;
        line += output[j].padStart(padding, " ");
      } else line += output[j];
      tmp.push(line);
    }
    for (let k = outputLength; k < output.length; k++) tmp.push(output[k]);
    return tmp;
  }
  return output;
}
