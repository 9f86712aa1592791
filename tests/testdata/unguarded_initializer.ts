// A program that forgot `if (import.meta.main)`: it makes a Pool at its top
// level whose initializer lives in this module. Each pool worker imports this
// module to find `init` before it is ready, which would make another pool;
// the workers fail at start-up with a RuntimeError that says to add the
// guard, and the pool gives up saying the same. Every evaluation of this
// module appends a line to the file named by GUARD_LOG.
import { appendFileSync } from "node:fs";
import process from "node:process";
import { currentProcess, Pool } from "../../mod.ts";

appendFileSync(process.env.GUARD_LOG!, `${currentProcess().name} ${process.pid}\n`);

export function init(): void {}

export function square(x: number): number {
  return x * x;
}

const pool = new Pool({ processes: 1, initializer: init });
console.log(await pool.map(square, [1, 2]));
await pool.terminate();
