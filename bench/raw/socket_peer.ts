/**
 * The raw floor's peer process. Its last argument is a JSON object
 * `{ path, transport, mode }` (see `_sockets.ts`); it stops when the other
 * end closes.
 *
 * @module
 */

import process from "node:process";
import { type PeerMode, runPeer, type Transport } from "./_sockets.ts";

const { path, transport, mode } = JSON.parse(process.argv[process.argv.length - 1]) as {
  path: string;
  transport: Transport;
  mode: PeerMode;
};
await runPeer(path, transport, mode);
process.exit(0);
