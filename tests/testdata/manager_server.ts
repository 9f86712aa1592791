// A manager's server as its own program (CPython's remote-manager example):
// serves a queue and counters on 127.0.0.1 (a free port), prints
// `listening <port> pid <pid>`, and serves until it is killed.
//   argv: <authkey>
import process from "node:process";
import { BaseManager, Queue } from "../../mod.ts";
import { mgrMakeCounter } from "./manager_targets.ts";

const queue = new Queue<string>();

/** The one queue this server hands out. */
export function mgrGetQueue(): Queue<string> {
  return queue;
}

/** The server side of the queue manager: types with their callables. */
export class MgrQueueServer extends BaseManager {}
MgrQueueServer.register("getQueue", mgrGetQueue);
MgrQueueServer.register("Counter", mgrMakeCounter);

if (import.meta.main) {
  const manager = new MgrQueueServer({ address: ["127.0.0.1", 0], authkey: process.argv[2] });
  const server = manager.getServer();
  const port = (server.address as [string, number])[1];
  console.log(`listening ${port} pid ${process.pid}`);
  await server.serveForever();
}
