/**
 * Request and reply over a channel: a `"req"` message carries a request
 * operation (declared in `protocol.ts`) and its arguments, and its
 * `"res"` carries the handler's value or the error it threw.
 *
 * @module
 */

import type { EncodeContext } from "./codec.ts";
import { OSError, RemoteError } from "../errors.ts";
import { getHost } from "../host.ts";
import { holdAlive } from "../_util.ts";
import type { Message, RequestOp, Requests } from "./protocol.ts";
import { type Channel, onMessage } from "./channel.ts";

/** A request handler: gets the calling channel (null when local) and the request's arguments. */
type RequestHandler<K extends RequestOp = RequestOp> = (
  caller: Channel | null,
  args: Requests[K]["args"],
) => Requests[K]["reply"] | Promise<Requests[K]["reply"]>;
const requestHandlers = new Map<string, RequestHandler>();

/**
 * Registers the handler of one request operation (declared in
 * `protocol.ts`); its result (or a Promise of it) is the reply.
 */
export function onRequest<K extends RequestOp>(op: K, handler: RequestHandler<K>): void {
  requestHandlers.set(op, handler as unknown as RequestHandler);
}

/** The `"req"` message of request `op` with `args` (the one place its tuple is assembled). */
function requestMessage<K extends RequestOp>(
  id: number,
  op: K,
  args: Requests[K]["args"],
): Message<"req"> {
  return ["req", id, op, ...args] as unknown as Message<"req">;
}

interface PendingReply {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

const replies = new WeakMap<Channel, Map<number, PendingReply>>();
let nextRequest = 1;

function pendingOf(channel: Channel): Map<number, PendingReply> {
  let pending = replies.get(channel);
  if (!pending) {
    const map = new Map<number, PendingReply>();
    pending = map;
    replies.set(channel, map);
    channel.onClose(() => {
      for (const p of map.values()) {
        p.reject(new OSError("The process on the other side of this connection has ended"));
      }
      map.clear();
    });
  }
  return pending;
}

/**
 * Sends a request and resolves with its reply; rejects with the error the
 * handler threw (rebuilt with its own class), or an `OSError` when the
 * channel closes first.
 */
export function request<K extends RequestOp>(
  channel: Channel,
  op: K,
  ...args: Requests[K]["args"]
): Promise<Requests[K]["reply"]> {
  if (channel.closed) {
    return Promise.reject(
      new OSError("The process on the other side of this connection has ended"),
    );
  }
  const id = nextRequest++;
  const release = holdAlive();
  return new Promise((resolve, reject) => {
    pendingOf(channel).set(id, {
      resolve: (v) => {
        release();
        resolve(v);
      },
      reject: (e) => {
        release();
        reject(e);
      },
    });
    try {
      channel.send(requestMessage(id, op, args));
    } catch (error) {
      pendingOf(channel).delete(id);
      release();
      reject(error);
    }
  });
}

/** Sends a request whose reply nobody waits for (errors are reported on stderr by the peer). */
export function notify<K extends RequestOp>(
  channel: Channel,
  op: K,
  ...args: Requests[K]["args"]
): void {
  channel.send(requestMessage(0, op, args));
}

/** The encode context of a reply on a channel (see `setReplyContext`). */
let replyContext: ((channel: Channel) => EncodeContext) | null = null;

/**
 * Sets how replies are encoded on a channel: shared objects in a reply are
 * references with tickets, which the owner gives back if that channel
 * closes before its peer rebuilt them (see src/core/_shared.ts).
 */
export function setReplyContext(make: (channel: Channel) => EncodeContext): void {
  replyContext = make;
}

onMessage("req", (channel, [, id, op, ...args]) => {
  const handler = requestHandlers.get(op);
  let value: unknown;
  try {
    if (!handler) throw new TypeError(`Unknown request '${String(op)}'`);
    value = handler(channel, args);
  } catch (error) {
    return failed(channel, id, op, error);
  }
  // A handler that answers at once is answered at once: no promise per
  // request (a queue's put from a "spawn" child is one of these).
  if (value instanceof Promise) {
    value.then((v) => answer(channel, id, op, v), (e) => failed(channel, id, op, e));
  } else answer(channel, id, op, value);
});

/** Sends request `id`'s reply (none for a notification, id 0). */
function answer(channel: Channel, id: number, op: RequestOp, value: unknown): void {
  if (!id) return;
  try {
    channel.send(["res", id, true, value], replyContext?.(channel));
  } catch (error) {
    channel.send([
      "res",
      id,
      false,
      new RemoteError(
        `The result of '${String(op)}' could not be sent back: ${
          (error as Error)?.message ?? error
        }`,
      ),
    ]);
  }
}

/** Sends request `id`'s error, or says it on stderr when nobody waits for it (a notification). */
function failed(channel: Channel, id: number, op: RequestOp, error: unknown): void {
  if (id) channel.send(["res", id, false, error]);
  else {
    getHost().writeStderr(
      `@procs/multiprocessing: request '${String(op)}' failed: ${
        (error as Error)?.stack ?? error
      }\n`,
    );
  }
}

onMessage("res", (channel, [, id, ok, value]) => {
  const pending = replies.get(channel);
  const p = pending?.get(id);
  if (!p) return;
  pending!.delete(id);
  if (ok) p.resolve(value);
  else p.reject(value);
});
