/**
 * Objects whose state lives in the process that made them (their owner):
 * queues, locks, events, shared values. Other processes hold a reference
 * and call the owner's methods over the tree's authenticated channel; the
 * owner learns when a caller's process ends (its channel closes) and
 * releases what it held, so a dead process never keeps a lock.
 *
 * Lifetimes, after CPython's managers (`incref`/`decref`): the owner counts
 * who holds each object. Every handle holds it (in the owner: one count per
 * handle; in another process: that process holds it while it has at least
 * one handle, and says so once, when its first handle is made and when its
 * last one goes). A handle goes with `close()` (or `[Symbol.dispose]`), or
 * when it is garbage-collected. A reference on its way to another process
 * (in a child's arguments, in an item inside a queue) is a ticket the
 * sender registers with the owner before it sends it; the receiver settles
 * the ticket when it rebuilds its handle, so the object cannot be freed in
 * between, in whatever order the two messages reach the owner. When no
 * handle, no process and no ticket holds an object, the owner drops it:
 * its entry, its shared memory, and its waiters, which fail with
 * `OSError`. A process that ends drops what it held. A manager's server
 * owns the objects it makes the same way (`ownFor`): each starts with a
 * ticket its client settles with its first hold. None of this costs a
 * message on a `put`, `get` or `acquire`: only making, dropping and sending
 * a handle do.
 *
 * @module
 */

import { type Channel, onMessage } from "./_wire/channel.ts";
import { localEndpoint } from "./_wire/endpoint.ts";
import { notify, onRequest, request, setReplyContext } from "./_wire/rpc.ts";
import type { EncodeContext } from "./_wire/codec.ts";
import { processState } from "./_state.ts";
import { OSError, ValueError } from "./errors.ts";
import { checkTimeout, fromHex, holdAlive, randomId } from "./_util.ts";
import { onChildDeath, onChildKill } from "./process.ts";

/** Who calls an owner-side method: the caller's channel (null when local) and process ident. */
export interface Caller {
  readonly channel: Channel | null;
  readonly ident: number;
}

/**
 * The methods of core `C` that other processes may call: those that take a
 * {@linkcode Caller} first.
 */
export type CoreMethod<C> =
  & {
    [K in keyof C]: C[K] extends (caller: Caller, ...args: never[]) => unknown ? K : never;
  }[keyof C]
  & string;

/**
 * The method names a `Ref<C>` may call: `C`'s {@linkcode CoreMethod}s, or
 * any name through a reference of unknown kind (`Ref<SharedCore>`), which
 * the owner checks against its `exposed` set.
 */
export type RefMethod<C> = SharedCore extends C ? string : CoreMethod<C>;

/** The arguments of core method `M` after its caller (for a union of cores, any one's). */
export type CoreArgs<C, M> = SharedCore extends C ? unknown[]
  : C extends unknown
    ? M extends keyof C ? C[M] extends (caller: Caller, ...args: infer A) => unknown ? A : never
    : never
  : never;

/** What core method `M` resolves with (for a union of cores, any one's). */
export type CoreResult<C, M> = SharedCore extends C ? unknown
  : C extends unknown
    ? M extends keyof C ? C[M] extends (...args: never[]) => infer R ? Awaited<R> : never
    : never
  : never;

/**
 * The set of methods of core `C` other processes may call, checked against
 * `C` by the type checker: renaming a method is a compile error here and at
 * every {@linkcode Ref.call} of it.
 */
export function expose<C>(...methods: CoreMethod<C>[]): ReadonlySet<string> {
  return new Set(methods);
}

/** Whether two callers are the same process. */
export function sameCaller(a: Caller | null, b: Caller): boolean {
  return a !== null && a.ident === b.ident && a.channel === b.channel;
}

/** The error of a call on, or a wait for, an object its owner has freed. */
export function goneError(): OSError {
  return new OSError(
    "The shared object is gone: every handle to it was closed or garbage-collected, " +
      "so its owner freed it; keep a handle open while any process uses it",
  );
}

/**
 * The error of a call through a handle its process closed with `close()`:
 * a `ValueError` (an `OSError` where Python raises one, as `empty()` on a
 * closed queue).
 */
export function closedHandleError(
  what: string,
  kind: typeof ValueError | typeof OSError = ValueError,
): ValueError | OSError {
  return new kind(`${what} is closed: this handle was closed with close(); use another handle`);
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
  /** Nothing holds the object any more: fail whoever still waits, let go of its memory. */
  free(_gone: OSError): void {}
}

/** What the owner knows of one object it owns. */
interface Entry {
  readonly core: SharedCore;
  /** Handles in this process. */
  local: number;
  /** Processes holding it, by their channel (each says so once). */
  readonly holders: Map<Channel, number>;
  /** References on their way: +1 sent, -1 received (either may come first). */
  readonly tickets: Map<string, number>;
  /** Channels that held or called it, to tell its core when one closes. */
  readonly users: Set<Channel>;
}

const owned = new Map<string, Entry>();

function register(core: SharedCore): string {
  const id = randomId();
  owned.set(id, {
    core,
    local: 0,
    holders: new Map(),
    tickets: new Map(),
    users: new Set(),
  });
  return id;
}

/**
 * Registers a core a manager's server makes for a client (the process
 * behind `channel`, or this one when null) and returns its id with a
 * ticket: the object lives while the ticket is out, and the client settles
 * it when it rebuilds its proxy from `{ id, ticket }` (its first hold
 * travels in the same message). A client whose connection closes before
 * it settled the ticket gives it back, so an object nobody received is
 * freed.
 */
export function ownFor(core: SharedCore, channel: Channel | null): { id: string; ticket: string } {
  const id = register(core);
  const ticket = randomId(8);
  addTicket(owned.get(id)!, ticket, 1);
  if (channel) issuedTo(channel, ticket, id);
  return { id, ticket };
}

/**
 * Records that `ticket` (of object `id`) went to the process behind
 * `channel`: if the channel closes before that process settles it, the
 * ticket is given back. A settled ticket is forgotten (see `addTicket`).
 */
function issuedTo(channel: Channel, ticket: string, id: string): void {
  let issued = channel.attachments.get("shared.issued") as Map<string, string> | undefined;
  if (!issued) {
    const mine = new Map<string, string>();
    issued = mine;
    channel.attachments.set("shared.issued", mine);
    channel.onClose(() => {
      for (const [t, i] of mine) {
        madeBy.delete(t);
        const entry = owned.get(i);
        if (!entry) continue;
        addTicket(entry, t, "cancel");
        settle(i, entry);
      }
      mine.clear();
    });
  }
  issued.set(ticket, id);
  madeBy.set(ticket, issued);
}

/**
 * The encode context of replies on each channel: references in a reply
 * (a proxy a manager's dict stored, say) get tickets given back if the
 * channel closes before its peer rebuilt them.
 */
const replyChannels = new WeakMap<EncodeContext, Channel>();

setReplyContext((channel) => {
  let context = channel.attachments.get("shared.reply") as EncodeContext | undefined;
  if (!context) {
    context = {};
    replyChannels.set(context, channel);
    channel.attachments.set("shared.reply", context);
  }
  return context;
});

/** The tickets issued to a channel and not yet settled, to that channel's map of them. */
const madeBy = new Map<string, Map<string, string>>();

/** The core with this id, if this process owns it (and has not freed it). */
export function ownedCore(id: string): SharedCore | undefined {
  return owned.get(id)?.core;
}

/** @internal How many objects this process owns now (for tests and benchmarks). */
export function ownedCount(): number {
  return owned.size;
}

/** Frees the object when nothing holds it any more. */
function settle(id: string, entry: Entry): void {
  if (
    entry.local > 0 || entry.holders.size > 0 || entry.tickets.size > 0 ||
    owned.get(id) !== entry
  ) return;
  owned.delete(id);
  for (const channel of entry.users) usedBy(channel)?.delete(id);
  entry.users.clear();
  entry.core.free(goneError());
}

/**
 * Counts a ticket: +1 sent, -1 received, or "cancel" (the process it was
 * sent to failed before it could receive it: only a ticket still unreceived
 * goes, so one received before then is not counted twice).
 */
function addTicket(entry: Entry, ticket: string, delta: number | "cancel"): void {
  const was = entry.tickets.get(ticket) ?? 0;
  if (delta === "cancel") {
    if (was > 0) delta = -1;
    else return;
  }
  const n = was + delta;
  if (n === 0) entry.tickets.delete(ticket);
  else entry.tickets.set(ticket, n);
  if (delta < 0 && madeBy.size > 0) {
    // A ticket issued to a channel (see `issuedTo`) was settled.
    const made = madeBy.get(ticket);
    if (made) {
      made.delete(ticket);
      madeBy.delete(ticket);
    }
  }
}

/** The ids of the objects `channel` held or called, when it did. */
function usedBy(channel: Channel): Set<string> | undefined {
  return channel.attachments.get("shared") as Set<string> | undefined;
}

/** The channels of each process (by ident) that used objects owned here. */
const channelsOf = new Map<number, Set<Channel>>();

/** Records that `channel` (of process `ident`) uses `entry`, so only its objects hear of its closing. */
function use(channel: Channel, id: string, entry: Entry, ident: number): void {
  if (entry.users.has(channel)) return;
  entry.users.add(channel);
  let ids = usedBy(channel);
  if (!ids) {
    const mine = new Set<string>();
    ids = mine;
    channel.attachments.set("shared", mine);
    let same = channelsOf.get(ident);
    if (!same) channelsOf.set(ident, same = new Set());
    same.add(channel);
    channel.onClose(() => {
      same.delete(channel);
      if (same.size === 0 && channelsOf.get(ident) === same) channelsOf.delete(ident);
      // A process that ended normally keeps what it held, as in Python (a
      // lock acquired as a signal stays acquired); one that was killed or
      // crashed gives it back, so nobody waits forever. Either way its
      // handles are gone.
      const clean = endedCleanly(channel);
      for (const used of [...mine]) {
        const e = owned.get(used);
        if (!e) continue;
        e.users.delete(channel);
        e.holders.delete(channel);
        try {
          e.core.dropChannel(channel, clean);
        } finally {
          settle(used, e);
        }
      }
      mine.clear();
    });
  }
  ids.add(id);
}

/**
 * A child of this process died: its holds go now, not when its channel
 * closes (a "worker" child terminated under Bun may leave its socket open).
 * What it was doing (waiters, a lock it held, items lent to it) is settled
 * when the channel closes, after every message it sent was read.
 */
function dropHoldsOf(ident: number): void {
  for (const channel of channelsOf.get(ident) ?? []) {
    channel.attachments.set("shared.dead", true);
    for (const id of usedBy(channel) ?? []) {
      const entry = owned.get(id);
      if (entry && entry.holders.delete(channel)) settle(id, entry);
    }
  }
}

onChildDeath(dropHoldsOf);

/**
 * A "worker" child is being killed: it may run on a moment (see
 * src/adapters/node_worker.ts), but from now on nothing it asks of the
 * objects this process owns is done, and what it was doing is settled at
 * once, as if it had died: its waiters go, what it held is released, items
 * answered to it and not acknowledged go back to the front. (A process
 * killed by a signal stops at once, and what it sent before is still read.)
 */
function severKilledWorker(ident: number, osProcess: boolean): void {
  if (osProcess) return;
  for (const channel of channelsOf.get(ident) ?? []) {
    if (channel.attachments.get("shared.killed") === true) continue;
    channel.attachments.set("shared.killed", true);
    for (const id of usedBy(channel) ?? []) owned.get(id)?.core.dropChannel(channel, false);
  }
}

onChildKill(severKilledWorker);

/** Whether the process behind `channel` said goodbye (it exited with code 0) before closing. */
export function endedCleanly(channel: Channel): boolean {
  return channel.attachments.get("goodbye") === true;
}

onMessage("goodbye", (channel) => {
  channel.attachments.set("goodbye", true);
});

onRequest("obj", (channel, [id, method, ident, args]) => {
  const entry = owned.get(id);
  if (!entry) throw goneError();
  const core = entry.core;
  if (!core.exposed.has(method)) {
    throw new TypeError(`'${String(method)}' is not a method other processes may call`);
  }
  // A worker being killed: its calls are never done nor answered.
  if (channel!.attachments.get("shared.killed") === true) return new Promise(() => {});
  use(channel!, id, entry, ident);
  const fn = (core as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
  return fn.call(core, { channel, ident }, ...args);
});

// Another process's count: hold +1, -1 or 0, and a ticket's delta.
onMessage("shared.ref", (channel, [, id, hold, ticket, delta, ident]) => {
  const entry = owned.get(id);
  if (!entry) return;
  use(channel, id, entry, ident);
  if (hold !== 0 && !channel.attachments.get("shared.dead")) {
    const n = (entry.holders.get(channel) ?? 0) + hold;
    if (n > 0) entry.holders.set(channel, n);
    else entry.holders.delete(channel);
  }
  if (typeof ticket === "string" && delta !== 0) addTicket(entry, ticket, delta);
  settle(id, entry);
});

/**
 * The way from this process to one owner: every message to it (calls and
 * counts) goes out in the order it was made, also while the connection
 * opens, so a count never overtakes a call made before it.
 */
class Link {
  channel: Channel | null = null;
  #failed: unknown = null;
  readonly #pending: ((channel: Channel | null, error: unknown) => void)[] = [];

  constructor(readonly address: string) {
    localEndpoint().channelTo(address).then(
      (channel) => {
        this.channel = channel;
        channel.onClose(() => {
          if (links.get(address) === this) links.delete(address);
        });
        for (const run of this.#pending.splice(0)) run(channel, null);
      },
      (error) => {
        this.#failed = error;
        if (links.get(address) === this) links.delete(address);
        for (const run of this.#pending.splice(0)) run(null, error);
      },
    );
  }

  /** Runs `run` with the channel once open, after everything queued before it. */
  then(run: (channel: Channel | null, error: unknown) => void): void {
    if (this.channel) run(this.channel, null);
    else if (this.#failed !== null) run(null, this.#failed);
    else this.#pending.push(run);
  }
}

const links = new Map<string, Link>();

function linkTo(address: string): Link {
  let link = links.get(address);
  if (!link || link.channel?.closed) {
    link = new Link(address);
    links.set(address, link);
  }
  return link;
}

function sendCount(
  address: string,
  id: string,
  hold: number,
  ticket: string | null,
  delta: number | "cancel" = 0,
) {
  linkTo(address).then((channel) => {
    if (channel) channel.send(["shared.ref", id, hold, ticket, delta, processState().ident]);
  });
}

/** How many handles this process has of each object owned elsewhere (address, then id). */
const remoteHolds = new Map<string, number>();

/** Releases a handle whose owner forgot to close it, once it is garbage-collected. */
const collected = new FinalizationRegistry<Ref>((ref) => ref.release());

/**
 * Makes `ref` go when `handle` is garbage-collected (unless released
 * before); returns `handle`.
 */
export function releaseWhenCollected<T extends object>(handle: T, ref: Ref): T {
  collected.register(handle, ref, ref);
  return handle;
}

/** What a reference looks like when it crosses to another process. */
export interface RefState {
  address: string;
  id: string;
  /** The key of a manager outside this process tree (hex), when it has one. */
  key?: string;
  /** The ticket that keeps the object alive on the way (see the module doc). */
  ticket?: string;
}

/**
 * A reference to a shared object, in its owner or in another process: one
 * hold on the object until `release()`.
 */
export class Ref<C extends SharedCore = SharedCore> {
  readonly #core: C | null;
  readonly #id: string;
  readonly #address: string | null;
  readonly #key: string | undefined;
  #released = false;
  #onRelease: (() => void)[] | null = null;
  /** The way to the owner (another process's object), while its channel is open. */
  #link: Link | null = null;

  private constructor(core: C | null, id: string, address: string | null, key?: string) {
    this.#core = core;
    this.#id = id;
    this.#address = address;
    this.#key = key;
  }

  /** A reference to a new core owned by this process. */
  static local<C extends SharedCore>(core: C): Ref<C> {
    const id = register(core);
    owned.get(id)!.local++;
    return new Ref(core, id, null);
  }

  /** Rebuilds a reference that crossed from another process, settling its ticket. */
  /**
   * `C` is the core the state's sender had: a state names an object by id
   * only, so the caller says which kind it rebuilds.
   */
  static fromState<C extends SharedCore = SharedCore>(state: RefState): Ref<C> {
    const node = localEndpoint();
    if (node.ownsAddress(state.address)) {
      const entry = owned.get(state.id);
      if (!entry) throw new OSError("The shared object this reference names is gone");
      entry.local++;
      if (state.ticket !== undefined) addTicket(entry, state.ticket, -1);
      settle(state.id, entry);
      return new Ref(entry.core as C, state.id, null);
    }
    if (state.key !== undefined) node.setKey(state.address, fromHex(state.key));
    const key = `${state.address}\n${state.id}`;
    const held = remoteHolds.get(key) ?? 0;
    remoteHolds.set(key, held + 1);
    if (held === 0 || state.ticket !== undefined) {
      sendCount(
        state.address,
        state.id,
        held === 0 ? 1 : 0,
        state.ticket ?? null,
        state.ticket === undefined ? 0 : -1,
      );
    }
    return new Ref<C>(null, state.id, state.address, state.key);
  }

  /** The core when this process owns it. */
  get core(): C | null {
    return this.#core;
  }

  /** The object's id (the same in every process). */
  get id(): string {
    return this.#id;
  }

  /** The address of the object's owner. */
  get address(): string {
    return this.#address ?? localEndpoint().ensureServer();
  }

  /** Whether `release()` was called. */
  get released(): boolean {
    return this.#released;
  }

  /** Where the object is, without a ticket: for this process's own use, never to send. */
  state(): RefState {
    const state: RefState = { address: this.address, id: this.#id };
    if (this.#key !== undefined) state.key = this.#key;
    return state;
  }

  /**
   * How this reference crosses to another process: its state with a new
   * ticket, registered with the owner before the state can arrive anywhere.
   * `context.onTicket` learns how to cancel it (a child that failed before
   * receiving its arguments).
   */
  cross(context?: EncodeContext): RefState {
    const state = this.state();
    const ticket = randomId(8);
    const id = this.#id;
    if (this.#core) {
      const entry = owned.get(id);
      // An object already freed crosses without a ticket: the receiver finds it gone.
      if (!entry) return state;
      addTicket(entry, ticket, 1);
      const replyTo = context && replyChannels.get(context);
      if (replyTo) issuedTo(replyTo, ticket, id);
      else {
        context?.onTicket?.(() => {
          const now = owned.get(id);
          if (now === entry) {
            addTicket(entry, ticket, "cancel");
            settle(id, entry);
          }
        });
      }
    } else {
      const address = state.address;
      sendCount(address, id, 0, ticket, 1);
      context?.onTicket?.(() => sendCount(address, id, 0, ticket, "cancel"));
    }
    state.ticket = ticket;
    return state;
  }

  /** Runs `callback` when this hold goes (once). */
  onRelease(callback: () => void): void {
    (this.#onRelease ??= []).push(callback);
  }

  /** Lets go of this hold (once): the owner frees the object when nothing else holds it. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    collected.unregister(this);
    if (this.#onRelease) { for (const callback of this.#onRelease.splice(0)) callback(); }
    if (this.#core) {
      const entry = owned.get(this.#id);
      if (entry && entry.core === this.#core) {
        entry.local--;
        settle(this.#id, entry);
      }
      return;
    }
    const key = `${this.#address}\n${this.#id}`;
    const held = (remoteHolds.get(key) ?? 1) - 1;
    if (held > 0) {
      remoteHolds.set(key, held);
      return;
    }
    remoteHolds.delete(key);
    sendCount(this.#address!, this.#id, -1, null);
  }

  #caller(): Caller {
    return { channel: null, ident: processState().ident };
  }

  #linkOpen(): Link {
    const link = this.#link;
    if (link && !link.channel?.closed) return link;
    return (this.#link = linkTo(this.#address!));
  }

  #local(method: string): (...a: unknown[]) => unknown {
    // A released handle still works while others hold the object; not once it is freed.
    if (this.#released && owned.get(this.#id)?.core !== this.#core) throw goneError();
    return (this.#core as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
  }

  /** Calls `method` on the core and resolves with its result. */
  call<M extends RefMethod<C>>(method: M, ...args: CoreArgs<C, M>): Promise<CoreResult<C, M>> {
    return this.#call(method, args) as Promise<CoreResult<C, M>>;
  }

  #call(method: string, args: unknown[]): Promise<unknown> {
    if (this.#core) {
      try {
        return Promise.resolve(this.#local(method).call(this.#core, this.#caller(), ...args));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const ident = processState().ident;
    const link = this.#linkOpen();
    if (link.channel) return request(link.channel, "obj", this.#id, method, ident, args);
    return new Promise((resolve, reject) =>
      link.then((channel, error) => {
        if (channel) request(channel, "obj", this.#id, method, ident, args).then(resolve, reject);
        else reject(error);
      })
    );
  }

  /** Calls `method` without waiting for its result; calls from one process stay in order. */
  send<M extends RefMethod<C>>(method: M, ...args: CoreArgs<C, M>): void {
    if (this.#core) {
      this.#local(method).call(this.#core, this.#caller(), ...args);
      return;
    }
    const ident = processState().ident;
    const link = this.#linkOpen();
    if (link.channel) notify(link.channel, "obj", this.#id, method, ident, args);
    else {
      link.then((channel) => {
        if (channel) notify(channel, "obj", this.#id, method, ident, args);
      });
    }
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
  checkTimeout(timeout);
  if (!block) return { block: false, timeout: null };
  if (timeout !== null && timeout <= 0) return { block: false, timeout: null };
  return { block: true, timeout };
}
