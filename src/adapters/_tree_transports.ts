/**
 * Which transports a host offers the tree's own endpoints: unix sockets
 * always (children started by "spawn" are other OS processes), and
 * `MessagePort`s first when the environment variable `PROCS_MP_TRANSPORT`
 * is `message-port` (or unset, on a runtime whose default it is), so
 * "worker" children of one OS process talk through ports instead of
 * sockets. `PROCS_MP_TRANSPORT=socket` keeps sockets only.
 *
 * Both hosts default to sockets: measured on this machine (2 vCPUs, Deno
 * 2.9.6, Bun 1.4.5; a pipe round trip parent<->worker and 20k queue items
 * put->get, one worker), MessagePorts were slower on Bun (round trip ~100
 * vs ~55-75 us, queue ~70k vs ~85-105k items/s) and no faster on Deno
 * (round trip ~135-190 vs ~90-170 us, queue ~95-120k vs ~85-170k items/s):
 * every message is a structured clone and a cross-thread event, plus the
 * credit acknowledgements, where a socket write batches bytes.
 *
 * `closeEvents`: whether the runtime's `MessagePort` `close` event is to be
 * trusted (see src/adapters/message_port.ts).
 *
 * @module
 */

import type { SocketTransport, Timers, Transport } from "../core/host.ts";
import { unixTreeTransport } from "./_unix_tree.ts";
import type { BrokerGrant } from "./message_port.ts";

/** The tree transports of "worker" children. */
export type TreeTransportMode = "message-port" | "socket";

/**
 * The tree transports, and the broker a worker launcher hands each worker
 * (none on sockets). The `MessagePort` transport is loaded only when used.
 */
export async function treeTransports(
  env: (name: string) => string | undefined,
  defaultMode: TreeTransportMode,
  sockets: SocketTransport,
  privateDir: () => string,
  timers: Timers,
  closeEvents: boolean,
): Promise<{ transports: Transport[]; broker?: () => BrokerGrant & { gone(): void } }> {
  const raw = env("PROCS_MP_TRANSPORT");
  let mode = defaultMode;
  if (raw === "message-port" || raw === "socket") mode = raw;
  else if (raw) {
    throw new RangeError(
      `PROCS_MP_TRANSPORT must be 'message-port' or 'socket': received '${raw}'`,
    );
  }
  const unix = unixTreeTransport(sockets, privateDir);
  if (mode === "socket") return { transports: [unix] };
  const { messagePortTransport } = await import("./message_port.ts");
  const ports = messagePortTransport({ timers, closeEvents });
  return { transports: [ports, unix], broker: ports.grant };
}
