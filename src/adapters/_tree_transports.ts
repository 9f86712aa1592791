/**
 * Which transports a host offers the tree's own endpoints: unix sockets
 * always (children started by "spawn" are other OS processes), and first,
 * for the threads of one OS process ("worker" children), what the
 * environment variable `PROCS_MP_TRANSPORT` picks (the host's default when
 * unset):
 *
 * - `ring`: threads connect through `MessagePort`s (the hub of
 *   message_port.ts) and a stream's bytes go through shared memory, two
 *   rings a stream (_ring_stream.ts). The default on both hosts.
 * - `message-port`: the bytes are posted on the ports themselves (what a
 *   page without `SharedArrayBuffer` can do).
 * - `socket`: unix sockets only, as "spawn" children always use.
 *
 * Measured on this machine (2 vCPUs, Deno 2.9.6, Bun 1.4.5, 2026-12-05; a
 * pipe round trip parent<->worker, then 20k `applyAsync` on a worker
 * `Pool(2)`): rings 28–32 µs (Deno) and 33–39 µs (Bun) a round trip
 * against 64–81 and 40–42 µs over sockets, with the same task throughput
 * within this machine's noise. Posting bytes on ports was slower than
 * sockets on Bun (round trip ~100 vs ~55-75 µs) and no faster on Deno
 * (~135-190 vs ~90-170 µs, 2026-11): every message is a structured clone
 * and a cross-thread event.
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
export type TreeTransportMode = "ring" | "message-port" | "socket";

/**
 * The tree transports, and the broker a worker launcher hands each worker
 * (none on sockets). The `MessagePort` transport is loaded only when used.
 */
export async function treeTransports(
  env: (name: string) => string | undefined,
  defaultMode: TreeTransportMode,
  sockets: SocketTransport | null,
  privateDir: () => string,
  timers: Timers,
  closeEvents: boolean,
): Promise<{ transports: Transport[]; broker?: () => BrokerGrant & { gone(): void } }> {
  const raw = env("PROCS_MP_TRANSPORT");
  let mode = defaultMode;
  if (raw === "ring" || raw === "message-port" || raw === "socket") mode = raw;
  else if (raw) {
    throw new RangeError(
      `PROCS_MP_TRANSPORT must be 'ring', 'message-port' or 'socket': received '${raw}'`,
    );
  }
  const unix = sockets ? unixTreeTransport(sockets, privateDir) : null;
  if (mode === "socket") {
    if (!unix) throw new RangeError("PROCS_MP_TRANSPORT=socket needs a host with sockets");
    return { transports: [unix] };
  }
  const { messagePortTransport } = await import("./message_port.ts");
  const ports = messagePortTransport({ timers, closeEvents, rings: mode === "ring" });
  return { transports: unix ? [ports, unix] : [ports], broker: ports.grant };
}
