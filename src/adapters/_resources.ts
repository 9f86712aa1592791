/**
 * What the runtimes' resources look like, for `Host.resourceKind`: the
 * Node API objects both runtimes offer (`node:net`, `node:fs/promises`,
 * `node:child_process`, ...), recognised by their shape so that no module
 * is loaded to ask, and each runtime's own classes.
 *
 * @module
 */

import type { ResourceKind } from "../core/_wire/resources.ts";

type Shape = Record<string | symbol, unknown>;

const isFunction = (o: Shape, key: string): boolean => typeof o[key] === "function";

/** A Node API object (an `EventEmitter` with a resource's methods), by shape. */
export function nodeResourceKind(value: object): ResourceKind | undefined {
  const o = value as Shape;
  if (!isFunction(o, "on") || !isFunction(o, "emit")) return undefined;
  if (isFunction(o, "listen") && isFunction(o, "address")) return "listener"; // net/http Server
  if (isFunction(o, "setNoDelay") || (isFunction(o, "send") && isFunction(o, "bind"))) {
    return "socket"; // net.Socket, tls.TLSSocket, dgram.Socket
  }
  if (isFunction(o, "kill") && "pid" in o) return "child process";
  if (isFunction(o, "postMessage") && isFunction(o, "terminate")) return "worker";
  if (isFunction(o, "readFile") && "fd" in o) return "file"; // fs/promises FileHandle
  if (isFunction(o, "postMessage")) return "message port";
  if (isFunction(o, "pipe") || isFunction(o, "getReader")) return "stream";
  return undefined;
}

/** Deno's other classes whose instances hold a resource (some exist only with a flag). */
const DENO_CLASSES = ["Command", "Kv", "HttpClient", "UnsafeCallback", "UnsafePointerView"];
let denoClasses: (new () => unknown)[] | undefined;

/** Deno's own resources: the classes of the `Deno` namespace, and objects holding a resource id. */
export function denoResourceKind(value: object): ResourceKind | undefined {
  const o = value as Shape;
  if (value instanceof Deno.FsFile) return "file";
  if (value instanceof Deno.ChildProcess) return "child process";
  // Conns, listeners and datagram sockets keep their resource id under a
  // symbol (`Symbol(Deno.internal.rid)`); their classes are not exported.
  const holdsRid = Object.getOwnPropertySymbols(value).some((s) =>
    s.description?.startsWith("Deno.internal.")
  );
  if (holdsRid) {
    if (isFunction(o, "accept")) return "listener";
    if ("remoteAddr" in o || isFunction(o, "receive")) return "socket";
    return "resource";
  }
  denoClasses ??= DENO_CLASSES.flatMap((name) => {
    const cls = (Deno as unknown as Record<string, unknown>)[name];
    return typeof cls === "function" ? [cls as new () => unknown] : [];
  });
  if (denoClasses.some((cls) => value instanceof cls)) return "resource";
  return nodeResourceKind(value);
}

/** Bun's own resources (native objects that name themselves), then the Node API ones. */
export function bunResourceKind(value: object): ResourceKind | undefined {
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  switch (tag) {
    case "TCPSocket":
    case "TLSSocket":
    case "UDPSocket":
      return "socket";
    case "Listener":
      return "listener";
    case "Subprocess":
      return "child process";
  }
  if (tag.endsWith("HTTPServer") || tag.endsWith("HTTPSServer")) return "listener";
  const o = value as Shape;
  // Bun.file(): a Blob that names a file on disk.
  if (value instanceof Blob && typeof o.name === "string" && isFunction(o, "exists")) return "file";
  return nodeResourceKind(value);
}
