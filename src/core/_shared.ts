/**
 * Objects whose state lives in the process that made them (their owner):
 * queues, locks, events, shared values. Other processes hold a reference
 * and call the owner's methods over the tree's authenticated channel; the
 * owner learns when a caller's process ends (its channel closes) and
 * releases what it held, so a dead process never keeps a lock.
 *
 * @module
 */

import { type Channel, localNode, notify, onMessage, onRequest, request } from "./_node.ts";
import { processState } from "./_state.ts";
import { OSError } from "./errors.ts";
import { fromHex, holdAlive, randomId } from "./_util.ts";

/** Who calls an owner-side method: the caller's channel (null when local) and process ident. */
export interface Caller {
  readonly channel: Channel | null;
  readonly ident: number;
}

/** Whether two callers are the same process. */
export function sameCaller(a: Caller | null, b: Caller): boolean {
  return a !== null && a.ident === b.ident && a.channel === b.channel;
}

/** The owner-side state of a shared object; its exposed methods take a `Caller` first. */
export abstract class SharedCore {
  /** The methods other processes may call. */
  abstract readonly exposed: ReadonlySet<string>;
  /**
   * A caller's process ended: forget its waiters, and unless it ended
   * cleanly, release what it held.
   */
  dropChannel(_channel: Channel, _clean: boolean): void {}
}

const owned = new Map<string, SharedCore>();

/** Registers a core in this process and returns its id. */
export function own(core: SharedCore): string {
  const id = randomId();
  owned.set(id, core);
  return id;
}

/** The core with this id, if this process owns it. */
export function ownedCore(id: string): SharedCore | undefined {
  return owned.get(id);
}

function watchChannel(channel: Channel): void {
  if (channel.attachments.has("shared")) return;
  channel.attachments.set("shared", true);
  channel.onClose(() => {
    // A process that ended normally keeps what it held, as in Python (a
    // lock acquired as a signal stays acquired); one that was killed or
    // crashed gives it back, so nobody waits forever.
    for (const core of owned.values()) core.dropChannel(channel, endedCleanly(channel));
  });
}

/** Whether the process behind `channel` said goodbye (it exited with code 0) before closing. */
export function endedCleanly(channel: Channel): boolean {
  return channel.attachments.get("goodbye") === true;
}

onMessage("goodbye", (channel) => {
  channel.attachments.set("goodbye", true);
});

onRequest("obj", (channel, [id, method, ident, args]) => {
  const core = owned.get(id as string);
  if (!core) {
    throw new OSError("The shared object is gone: the process that made it has released it");
  }
  if (!core.exposed.has(method as string)) {
    throw new TypeError(`'${String(method)}' is not a method other processes may call`);
  }
  watchChannel(channel!);
  const fn = (core as unknown as Record<string, (...a: unknown[]) => unknown>)[method as string];
  return fn.call(core, { channel, ident: ident as number }, ...(args as unknown[]));
});

/** What a reference looks like when it crosses to another process. */
export interface RefState {
  address: string;
  id: string;
  /** The key of a manager outside this process tree (hex), when it has one. */
  key?: string;
}

/** A reference to a shared object, in its owner or in another process. */
export class Ref {
  readonly #core: SharedCore | null;
  readonly #id: string;
  readonly #address: string | null;
  readonly #key: string | undefined;
  #channel: Channel | null = null;
  #ready: Promise<Channel> | null = null;

  private constructor(core: SharedCore | null, id: string, address: string | null, key?: string) {
    this.#core = core;
    this.#id = id;
    this.#address = address;
    this.#key = key;
  }

  /** A reference to a new core owned by this process. */
  static local(core: SharedCore): Ref {
    return new Ref(core, own(core), null);
  }

  /** Rebuilds a reference that crossed from another process. */
  static fromState(state: RefState): Ref {
    const node = localNode();
    if (node.ownsAddress(state.address)) {
      const core = owned.get(state.id);
      if (!core) throw new OSError("The shared object this reference names is gone");
      return new Ref(core, state.id, null);
    }
    if (state.key !== undefined) node.setKey(state.address, fromHex(state.key));
    return new Ref(null, state.id, state.address, state.key);
  }

  /** The core when this process owns it. */
  get core(): SharedCore | null {
    return this.#core;
  }

  /** How this reference crosses to another process (starts this node's server if needed). */
  state(): RefState {
    const state: RefState = { address: this.#address ?? localNode().ensureServer(), id: this.#id };
    if (this.#key !== undefined) state.key = this.#key;
    return state;
  }

  #caller(): Caller {
    return { channel: null, ident: processState().ident };
  }

  #channelReady(): Promise<Channel> {
    if (!this.#ready) {
      this.#ready = localNode().channelTo(this.#address!);
      this.#ready.then((c) => (this.#channel = c), () => {});
    }
    return this.#ready;
  }

  /** Calls `method` on the core and resolves with its result. */
  call(method: string, ...args: unknown[]): Promise<unknown> {
    if (this.#core) {
      try {
        const fn = (this.#core as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
        return Promise.resolve(fn.call(this.#core, this.#caller(), ...args));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const ident = processState().ident;
    if (this.#channel) return request(this.#channel, "obj", this.#id, method, ident, args);
    return this.#channelReady().then((c) => request(c, "obj", this.#id, method, ident, args));
  }

  /** Calls `method` without waiting for its result; calls from one process stay in order. */
  send(method: string, ...args: unknown[]): void {
    if (this.#core) {
      const fn = (this.#core as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
      fn.call(this.#core, this.#caller(), ...args);
      return;
    }
    const ident = processState().ident;
    if (this.#channel) notify(this.#channel, "obj", this.#id, method, ident, args);
    else {this.#channelReady().then((c) =>
        notify(c, "obj", this.#id, method, ident, args), () => {});}
  }
}

/** The longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days). */
export const MAX_TIMER = 2 ** 31 - 1;

/** A waiter with an optional timeout: settles once, clears its timer. */
export class Waiter<T> {
  readonly caller: Caller;
  readonly promise: Promise<T>;
  #resolve!: (value: T) => void;
  #reject!: (reason: unknown) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  settled = false;

  #release: () => void = () => {};

  constructor(caller: Caller, timeout: number | null, onTimeout: (w: Waiter<T>) => void) {
    this.caller = caller;
    this.promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A local caller waiting keeps the program alive; a remote caller's wait
    // must not keep its owner alive (that process keeps itself alive).
    if (caller.channel === null) this.#release = holdAlive();
    // setTimeout clamps delays above 2^31 - 1 ms to 1 ms: treat those as no timeout.
    if (timeout !== null && timeout <= MAX_TIMER) {
      this.#timer = setTimeout(() => onTimeout(this), Math.max(0, timeout));
    }
  }

  resolve(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.#release();
    clearTimeout(this.#timer);
    this.#resolve(value);
  }

  reject(reason: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.#release();
    clearTimeout(this.#timer);
    this.#reject(reason);
  }
}

/** Normalises `{ block, timeout }`: a non-blocking call and a timeout of 0 or less answer at once. */
export function blocking(
  options: { block?: boolean; timeout?: number | null } | undefined,
): { block: boolean; timeout: number | null } {
  const block = options?.block ?? true;
  const timeout = options?.timeout ?? null;
  if (timeout !== null && (typeof timeout !== "number" || Number.isNaN(timeout))) {
    throw new TypeError(
      `timeout must be a number of milliseconds or null: received ${String(timeout)}`,
    );
  }
  if (!block) return { block: false, timeout: null };
  if (timeout !== null && timeout <= 0) return { block: false, timeout: null };
  return { block: true, timeout };
}
