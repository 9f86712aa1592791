/**
 * Unix sockets as a tree transport: every endpoint is a socket file in the
 * process's private directory (mode 0700, the socket 0600), its address the
 * socket's path.
 *
 * @module
 */

import type { SocketTransport, Transport } from "../core/host.ts";

/** The tree transport over unix sockets in `privateDir()`. */
export function unixTreeTransport(sockets: SocketTransport, privateDir: () => string): Transport {
  let listened = 0;
  return {
    name: "unix",
    listen(onConnection) {
      const n = listened++;
      const path = `${privateDir()}/${n === 0 ? "node" : `node-${n}`}.sock`;
      const server = sockets.listenUnix(path, onConnection);
      return { address: path, close: () => server.close() };
    },
    reaches: (address) => address.startsWith("/"),
    connect: (address) => sockets.connectUnix(address),
  };
}
