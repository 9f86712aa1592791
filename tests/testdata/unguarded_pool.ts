// A program that forgot `if (import.meta.main)`: it makes a Pool at its top
// level. A pool worker imports this module to find `square`, which would make
// another pool; the task must fail with a RuntimeError that says to add the
// guard (not "Daemonic processes are not allowed to have children"). Every
// evaluation of this module appends a line to the file named by GUARD_LOG.
import { appendFileSync } from "node:fs";
import process from "node:process";
import { currentProcess, Pool } from "../../mod.ts";

appendFileSync(process.env.GUARD_LOG!, `${currentProcess().name} ${process.pid}\n`);

export function square(x: number): number {
  return x * x;
}

const pool = new Pool(2);
console.log(await pool.map(square, [1, 2, 3]));
await pool.terminate();
