// A program that forgot `if (import.meta.main)`: it starts a Process at its
// top level. Its child imports this module to find `work`, which would start
// another child, for ever; the child must fail at once with a RuntimeError
// that says to add the guard. Every evaluation of this module appends a line
// to the file named by GUARD_LOG, so a test can count them.
import { appendFileSync } from "node:fs";
import process from "node:process";
import { currentProcess, Process } from "../../mod.ts";

appendFileSync(process.env.GUARD_LOG!, `${currentProcess().name} ${process.pid}\n`);

export function work(): void {
  console.log("work ran");
}

const p = new Process({ target: work });
p.start();
await p.join();
console.log(`exitcode ${p.exitcode}`);
