/**
 * What the benchmark's children run, and the calls that start them.
 *
 * A "spawn" child imports the module that constructed its `Process` and
 * finds its target there, as Python's spawn re-imports `__main__`. Every
 * `new Process` of the suite therefore happens in this module, which imports
 * nothing but the library: a child pays for the library and this file, not
 * for tinybench or the suite.
 *
 * @module
 */

import { type Connection, getContext, type Process, type StartMethod } from "../mod.ts";

/** The trivial target of the start + join workload. */
export function noop(): void {}

/** Echoes every value back until it receives `null`. */
export async function echo(conn: Connection): Promise<void> {
  for (;;) {
    const value = await conn.recv();
    if (value === null) break;
    await conn.send(value);
  }
  conn.close();
}

/**
 * Counts the bytes of every message; an empty message asks for the count so
 * far (and resets it), a one-byte message ends the child.
 */
export async function sink(conn: Connection): Promise<void> {
  let bytes = 0;
  for (;;) {
    const data = await conn.recvBytes();
    if (data.byteLength === 0) {
      await conn.send(bytes);
      bytes = 0;
    } else if (data.byteLength === 1) break;
    else bytes += data.byteLength;
  }
  conn.close();
}

/** Starts a child running `noop` with `method`, waits for it, and returns its exit code. */
export async function startAndJoin(method: StartMethod): Promise<number | null> {
  const p = new (getContext(method).Process)({ target: noop });
  p.start();
  await p.join();
  return p.exitcode;
}

/** Starts a child running `echo` or `sink` on `conn` with `method`. */
export function startPeer(method: StartMethod, target: "echo" | "sink", conn: Connection): Process {
  const p = new (getContext(method).Process)({
    target: target === "echo" ? echo : sink,
    args: [conn],
  });
  p.start();
  return p;
}
