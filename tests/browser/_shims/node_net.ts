/** `node:net` in a web page: no sockets (see _unavailable.ts). @module */
import { unavailable } from "./_unavailable.ts";
export const connect = unavailable("node:net connect");
export const createConnection = unavailable("node:net createConnection");
export const createServer = unavailable("node:net createServer");
export default { connect, createConnection, createServer };
