// A program that forgot `if (import.meta.main)`: it starts a manager at its
// top level. The manager's server imports this module to find the registered
// `makeCounter`, which would start another server, for ever; the server must
// fail at once with a RuntimeError that says to add the guard. Every
// evaluation of this module appends a line to the file named by GUARD_LOG.
import { appendFileSync } from "node:fs";
import process from "node:process";
import { BaseManager, currentProcess } from "../../mod.ts";

appendFileSync(process.env.GUARD_LOG!, `${currentProcess().name} ${process.pid}\n`);

/** What the server makes: a counter. */
export function makeCounter(): { n: number; increment(): number } {
  return {
    n: 0,
    increment() {
      return ++this.n;
    },
  };
}

export class CounterManager extends BaseManager {}
CounterManager.register("Counter", makeCounter);

const manager = new CounterManager();
await manager.start();
console.log("manager started");
await manager.shutdown();
