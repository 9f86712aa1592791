/**
 * What the children of tests/browser/_page_behaviours.ts run, in a web
 * page's workers. Exported, so the workers find them by this module's URL.
 *
 * @module
 */

import { type Connection, currentProcess, parentProcess, Process } from "../../mod.ts";

/** Prints a line, then sends: the line must reach the page before the parent's next one. */
export async function printThenSend(conn: Connection): Promise<void> {
  console.log("child: before the message", [1, 2, 3]);
  console.error("child: on stderr");
  await conn.send("the message");
  conn.close();
}

/** Reports who it is, as its parent will compare. */
export async function reportWho(conn: Connection): Promise<void> {
  const me = currentProcess();
  await conn.send({ pid: me.pid, ident: me.ident, name: me.name, parentPid: parentProcess()?.pid });
  conn.close();
}

/** Starts a grandchild that prints; waits for it. */
export async function startPrintingGrandchild(): Promise<void> {
  const p = new Process({ target: printLine, args: ["grandchild says hi"] });
  await p.start();
  await p.join();
  console.log("child: grandchild joined", p.exitcode);
}

/** Prints one line. */
export function printLine(text: string): void {
  console.log(text);
}

/** Prints `count` numbered lines of `width` characters, as fast as it can. */
export function printMany(count: number, width: number): void {
  for (let i = 0; i < count; i++) console.log(`${String(i).padStart(8, "0")} ${"x".repeat(width)}`);
}

/** Throws: the child reports it on stderr and exits with 1. */
export function throwInChild(): never {
  throw new Error("thrown in the child on purpose");
}

/** `x * x`, for a pool. */
export function square(x: number): number {
  return x * x;
}
