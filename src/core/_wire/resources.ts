/**
 * Runtime resources met while encoding: a socket, a file, a child process,
 * a stream, a `Worker`... lives in the process that opened it, and copying
 * its fields would give the other side an empty object (`Deno.Conn` has
 * none of its own) or a dump of runtime internals (`net.Socket`). The codec
 * asks {@linkcode describeResource} about every object that is not a plain
 * object, an array or a type it copies, and fails with what the value is
 * and what to do instead, in the same words on every runtime.
 *
 * The host says what its own classes are (see `Host.resourceKind`); Web
 * classes both runtimes share are recognised here by capability, and any
 * other object the runtime made (a class implemented in native code) by
 * its constructor. Instances of the user's own classes are not resources:
 * they keep being copied as plain objects.
 *
 * @module
 */

/** What a runtime resource is, in the words every runtime's message uses. */
export type ResourceKind =
  | "socket"
  | "listener"
  | "file"
  | "child process"
  | "stream"
  | "worker"
  | "message port"
  | "http message"
  | "blob"
  | "resource";

/** Says what kind of runtime resource `value` is, or undefined when it is none the host knows. */
export type ResourceCheck = (value: object) => ResourceKind | undefined;

/** What each kind is called, and what to do instead of sending it. */
const ADVICE: Readonly<Record<ResourceKind, readonly [string, string]>> = {
  socket: [
    "a socket",
    "pass what identifies it (its address: host and port, or path) and connect from the child",
  ],
  listener: [
    "a listening socket or server",
    "pass its address for the child to connect to, or listen in the child",
  ],
  file: ["an open file", "pass its path and open it in the child"],
  "child process": [
    "a child process",
    "pass its pid, or keep it here and send the child what it produces",
  ],
  stream: [
    "a stream",
    "read it here and send the data (piece by piece through a Pipe or Queue), or open it in the child",
  ],
  worker: ["a Worker", "start it in the child, or talk to it from here"],
  "message port": [
    "a message port",
    "pass a Connection from Pipe() or a Queue, which do cross to another process",
  ],
  "http message": [
    "an HTTP request or response",
    "read its body here (await it.text() or it.bytes()) and pass that, with the URL, status or headers you need",
  ],
  blob: ["a Blob", "read it here (await blob.bytes()) and pass the bytes"],
  resource: [
    "a resource of this runtime",
    "pass plain data that describes it and make it again in the child",
  ],
};

let hostCheck: ResourceCheck | undefined;

/** Lets the host say what its own resources are (installed with the host). */
export function registerResourceCheck(check: ResourceCheck): void {
  hostCheck = check;
}

/** The Web classes both runtimes have, looked up by name (a host may lack some). */
const WEB_KINDS: readonly (readonly [string, ResourceKind])[] = [
  ["ReadableStream", "stream"],
  ["WritableStream", "stream"],
  ["TransformStream", "stream"],
  ["Worker", "worker"],
  ["SharedWorker", "worker"],
  ["WebSocket", "socket"],
  ["MessagePort", "message port"],
  ["MessageChannel", "message port"],
  ["BroadcastChannel", "message port"],
  ["Request", "http message"],
  ["Response", "http message"],
  ["Blob", "blob"],
];

let webClasses: (readonly [new () => unknown, ResourceKind])[] | undefined;

function webKind(o: object): ResourceKind | undefined {
  webClasses ??= WEB_KINDS.flatMap(([name, kind]) => {
    const cls = (globalThis as Record<string, unknown>)[name];
    return typeof cls === "function" ? [[cls as new () => unknown, kind] as const] : [];
  });
  for (const [cls, kind] of webClasses) if (o instanceof cls) return kind;
  return undefined;
}

/** Boxed primitives: native classes whose instances the codec copies as before. */
const BOXED: readonly unknown[] = [String, Number, Boolean];

const runtimeConstructors = new WeakMap<object, boolean>();

/**
 * Whether objects with prototype `proto` were made by the runtime rather
 * than by a class the program declares: their class is implemented in
 * native code or is one of the runtime's globals (`URL`, `TextEncoder`),
 * or their prototype is a native one with no constructor of its own that
 * names itself with `Symbol.toStringTag`.
 */
function isRuntimeObject(proto: object): boolean {
  if (!Object.hasOwn(proto, "constructor")) return Object.hasOwn(proto, Symbol.toStringTag);
  const ctor = (proto as { constructor: unknown }).constructor;
  if (typeof ctor !== "function" || BOXED.includes(ctor)) return false;
  let made = runtimeConstructors.get(ctor);
  if (made === undefined) {
    made = /\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(ctor)) ||
      (ctor.name !== "" && (globalThis as Record<string, unknown>)[ctor.name] === ctor);
    runtimeConstructors.set(ctor, made);
  }
  return made;
}

function nameOf(o: object, proto: object): string {
  const tag = Object.hasOwn(proto, Symbol.toStringTag)
    ? (proto as Record<symbol, unknown>)[Symbol.toStringTag]
    : undefined;
  if (typeof tag === "string" && tag) return tag;
  const ctor = (o as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === "string" && ctor.name ? ctor.name : "object";
}

/**
 * What to say about `o` (an object whose prototype `proto` is neither
 * `Object.prototype` nor null) when it is a runtime resource or another
 * object the runtime made: what it is and what to do instead; undefined
 * when it may be copied as a plain object (an instance of the program's own
 * class).
 */
export function describeResource(o: object, proto: object): string | undefined {
  const kind = hostCheck?.(o) ?? webKind(o);
  if (kind !== undefined) {
    const [noun, advice] = ADVICE[kind];
    return `it is ${noun}, which only this process can use; ${advice}`;
  }
  if (!isRuntimeObject(proto)) return undefined;
  const name = nameOf(o, proto);
  return `it is ${
    /^[AEIOU][a-z]/.test(name) ? "an" : "a"
  } ${name}, an object of the runtime that ` +
    "cannot be copied; pass plain data that describes it and make it again in the child";
}
