/**
 * The raw floor's peer as a worker: its first message is
 * `{ path, transport, mode }` (see `_sockets.ts`); it posts "done" when the
 * other end closed.
 *
 * @module
 */

import { type PeerMode, runPeer, type Transport } from "./_sockets.ts";

const scope = globalThis as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(value: unknown): void;
};
scope.onmessage = (event) => {
  scope.onmessage = null;
  const { path, transport, mode } = event.data as {
    path: string;
    transport: Transport;
    mode: PeerMode;
  };
  runPeer(path, transport, mode).then(() => scope.postMessage("done"));
};
