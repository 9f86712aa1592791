/**
 * The contract between the runtime-agnostic core and a host (a runtime, or a
 * page): what every process needs ({@linkcode Host}), what only a child
 * needs ({@linkcode ChildHost}), the tree's own transports
 * ({@linkcode Transport}), sockets ({@linkcode SocketTransport}) and
 * launchers. The core owns these interfaces; adapters in `src/adapters`
 * implement them and depend on the core, never the reverse. The core
 * branches only on {@linkcode Capabilities}, never on which runtime
 * implements them.
 *
 * @module
 */

import type { ResourceKind } from "./_wire/resources.ts";

/** The start methods: a new OS process of the same runtime, or a Web Worker. */
export type StartMethod = "spawn" | "worker";

/** What a start method can do. */
export interface Capabilities {
  /** Children are OS processes with their own pid, ended by signals. */
  readonly osProcess: boolean;
  /** Parent and children can share `SharedArrayBuffer` memory. */
  readonly sharedMemory: boolean;
}

/** An ordered, reliable byte stream (a connected socket). */
export interface ByteStream {
  /** Queues bytes for writing, in order; never blocks (see `buffered` and `drained`). */
  write(data: Uint8Array): void;
  /** Bytes written that the OS has not taken yet. */
  readonly buffered: number;
  /**
   * Resolves once no more than `limit` bytes wait for the OS (at once when
   * that is already so), or when the stream closes: how writers wait for a
   * slow reader instead of queueing without bound.
   */
  drained(limit: number): Promise<void>;
  /** Called with every chunk received, in order. */
  onData(callback: (chunk: Uint8Array) => void): void;
  /**
   * Stops reading until {@linkcode ByteStream.resume}: what the peer sends
   * waits in the OS buffers, and then in the peer (a reader's backpressure).
   */
  pause(): void;
  /** Reads again after {@linkcode ByteStream.pause}. */
  resume(): void;
  /** Called once when the stream is closed by either side or fails. */
  onClose(callback: () => void): void;
  /** Flushes what was written, then closes; resolves when closed. */
  end(): Promise<void>;
  /** Closes at once, dropping unwritten bytes. */
  destroy(): void;
  /** Lets the stream keep the program alive (the default). */
  ref(): void;
  /** Stops the stream from keeping the program alive. */
  unref(): void;
}

/** A listening socket. */
export interface ServerHandle {
  /** Stops accepting connections. */
  close(): void;
}

/** Sockets: unix domain sockets for the tree's own endpoints, TCP for remote use. */
export interface SocketTransport {
  /** Listens on a unix socket path that only the owner may open (mode 0600); throws if taken. */
  listenUnix(path: string, onConnection: (stream: ByteStream) => void): ServerHandle;
  /** Connects to a unix socket path. */
  connectUnix(path: string): Promise<ByteStream>;
  /** Listens on a TCP host and port (0 picks a free port); returns the port bound; throws if taken. */
  listenTcp(
    host: string,
    port: number,
    onConnection: (stream: ByteStream) => void,
  ): ServerHandle & { port: number };
  /** Connects to a TCP host and port. */
  connectTcp(host: string, port: number): Promise<ByteStream>;
}

/**
 * A way for the nodes of one process tree to reach each other: listen on a
 * new endpoint, connect to one, and exchange bytes. Addresses are opaque to
 * the core: only the transport that made one reads it. Unix sockets are one
 * such transport; a host with no sockets (a browser page) can offer one
 * over `MessagePort`s. The handshake, framing and routing above it are the
 * core's and do not change.
 */
export interface Transport {
  /** A short name, for messages and measurements ("unix", "message-port"). */
  readonly name: string;
  /**
   * Listens on a new endpoint that only this tree can reach; returns its
   * address. Nothing listens yet until this is called (it may make files).
   */
  listen(onConnection: (stream: ByteStream) => void): { address: string; close(): void };
  /** Whether this transport can connect from here to `address` (one it or a peer made). */
  reaches(address: string): boolean;
  /** Connects to `address`; rejects when nothing listens there (yet). */
  connect(address: string): Promise<ByteStream>;
}

/** How a child ended: its exit code, or minus the signal that ended it. */
export interface ExitStatus {
  readonly code: number;
}

/** A started child as its launcher sees it. */
export interface ChildHandle {
  /** The OS pid: the child's own under "spawn", the parent's under "worker". */
  readonly pid: number;
  /**
   * Resolves when the launcher sees the child end. A launcher that cannot
   * see every exit (a Deno Worker that closes itself) resolves only on the
   * exits it sees; the core learns the rest from the control channel.
   */
  readonly exited: Promise<ExitStatus>;
  /** Sends a signal (a worker is terminated for either). */
  kill(signal: "SIGTERM" | "SIGKILL"): void;
  /** Lets the child keep the parent alive (the default). */
  ref(): void;
  /** Stops the child from keeping the parent alive (daemon children). */
  unref(): void;
}

/** What a launcher needs to start a child. */
export interface LaunchSpec {
  /** One line of JSON the child reads first (see src/child). */
  readonly bootstrap: string;
  /** Shared memory handed to a child that shares memory (a worker). */
  readonly shared?: SharedArrayBuffer[];
}

/** Starts children by one start method. */
export interface Launcher {
  /** What children started this way can do. */
  readonly capabilities: Capabilities;
  /**
   * Why this host cannot start children this way (a web page has no OS
   * processes), as advice for the user; absent when it can.
   */
  readonly unavailable?: string;
  /** Starts a child; returns at once with its handle. */
  launch(spec: LaunchSpec): ChildHandle;
}

/** A timer the host made: it can stop keeping the program alive, or be cancelled. */
export interface TimerHandle {
  /** Lets the timer keep the program alive (the default). */
  ref(): void;
  /** Stops the timer from keeping the program alive. */
  unref(): void;
  /** Cancels the timer. */
  clear(): void;
}

/** Timers that can be unref'd (a Web `setTimeout` returns a number that cannot). */
export interface Timers {
  /** Calls `callback` once after `ms` milliseconds. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Calls `callback` every `ms` milliseconds. */
  setInterval(callback: () => void, ms: number): TimerHandle;
}

/** What only a child needs from its host: how it starts, exits and reports. */
export interface ChildHost {
  /**
   * Makes the runtime's exit functions (`process.exit`, `Deno.exit`) call
   * `onExit` instead (which throws), so the child can flush before it
   * really exits through {@linkcode Host.exit}.
   */
  trapExit(onExit: (code: number) => never): void;
  /**
   * In an OS process: ends this process (SIGKILL to itself) soon after the
   * process `parentPid` stops being its parent (it died), whatever the main
   * thread is doing: a small watchdog thread polls the parent pid, so a
   * child busy in a loop that never returns to its event loop still goes.
   */
  watchParent(parentPid: number): void;
  /**
   * Calls `handler` with an error nobody caught (a throwing timer, a
   * rejected promise without a handler) instead of letting the runtime end
   * the program its own way.
   */
  onUncaught(handler: (error: unknown) => void): void;
  /** Reads the bootstrap line a "spawn" parent wrote to stdin. */
  readBootstrap(): Promise<string>;
  /**
   * Makes `node:test` (and the runtime's own test module) inert, so
   * importing a user's test file registers and runs no tests.
   */
  isolateTestRunner(): void;
}

/**
 * What the library is about to do, for a host with permissions to check
 * them all before the first operation: start a child by `method` (importing
 * `modules`), or (`method` null) only listen on a unix socket in the
 * private directory.
 */
export interface PermissionNeed {
  /** The start method of the child about to start; null for sockets only. */
  readonly method: StartMethod | null;
  /** The URLs of the modules a child will import (read access to each). */
  readonly modules: readonly string[];
}

/** The permissions this program lacks, as a host that has permissions says them. */
export interface MissingPermissions {
  /** The flags to add, one per permission missing (`--allow-read`, ...). */
  readonly flags: readonly string[];
  /** The command line that runs the program with every permission needed. */
  readonly command: string;
}

/** Everything runtime-specific every process (parent or child) uses. */
export interface Host {
  /** The runtime's name, for messages only. */
  readonly runtime: string;
  /** This OS process's pid. */
  readonly pid: number;
  /**
   * Sockets: TCP and unix paths that users name (`Listener`, `Client`,
   * managers). A host with no sockets gives one whose methods throw.
   */
  readonly transport: SocketTransport;
  /**
   * The transports of the tree's own endpoints, preferred first. A node
   * listens on each and its address lists every alternative; a peer
   * connects through the first transport that reaches one.
   */
  readonly transports: readonly Transport[];
  /** One launcher per start method. */
  readonly launchers: Readonly<Record<StartMethod, Launcher>>;
  /** Timers that can be unref'd. */
  readonly timers: Timers;
  /** What only a child uses. */
  readonly child: ChildHost;
  /** Makes a new directory only the owner can enter (mode 0700). */
  makePrivateDir(): string;
  /** Removes a directory made by {@linkcode Host.makePrivateDir}, synchronously. */
  removePrivateDir(path: string): void;
  /**
   * The permissions this program lacks for `need`, every one at once, found
   * without prompting; null when it holds them all (always on a host
   * without permissions). A permission held only for some paths counts as
   * held when it covers the paths the library uses.
   */
  checkPermissions(need: PermissionNeed): MissingPermissions | null;
  /**
   * Runs `callback` synchronously when this program (or worker) ends, every
   * way the host can see: a normal end or exit, and (in the main thread) a
   * SIGINT, SIGTERM or SIGHUP the program does not listen to itself, or an
   * error or rejection nobody handled. The program still ends as it would
   * have (killed by the signal; the error printed, exit status 1), and the
   * hooks never keep it alive.
   */
  onExit(callback: () => void): void;
  /** Ends this program (or worker) with `code`, at once. */
  exit(code: number): never;
  /**
   * The value of environment variable `name`; undefined when it is unset or
   * this program may not read it (never a permission prompt).
   */
  env(name: string): string | undefined;
  /**
   * Whether this program runs under a test runner (the runtime's
   * convention, e.g. `NODE_ENV=test` set by `bun test`).
   */
  underTestRunner(): boolean;
  /** The `file:` URL of an absolute file path. */
  fileUrl(path: string): string;
  /** Writes to standard error, synchronously where possible. */
  writeStderr(text: string): void;
  /**
   * What kind of runtime resource `value` (an object that is not a plain
   * object) is when it is one of this runtime's own (a socket, a file, a
   * child process...): such a value cannot be copied to another process,
   * and the codec says so instead of copying its fields. Undefined for
   * anything else (the core recognises the Web classes itself).
   */
  resourceKind(value: object): ResourceKind | undefined;
}

let installed: Host | undefined;

/** Sets the host the core runs on (done once by mod.ts or a child entry). */
export function installHost(host: Host): void {
  installed ??= host;
}

/** The installed host. */
export function getHost(): Host {
  if (!installed) {
    throw new Error("No host installed: import @procs/multiprocessing through its mod.ts");
  }
  return installed;
}
