/**
 * The functions the pipe contract runs in its children. Each is exported so
 * a child finds it by name in the module that started it (the contract file
 * re-exports this module). Each closes the connections it is given, unless
 * its point is to leave that to the end of the process.
 *
 * @module
 */

import process from "node:process";
import {
  BufferTooShort,
  type Connection,
  EOFError,
  getContext,
  OSError,
  Pipe,
  type StartMethod,
} from "../../mod.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls `each` on every message `receive` gets until the other end is closed; rethrows anything but EOFError. */
async function receiveUntilEOF(
  conn: Connection,
  receive: (conn: Connection) => Promise<unknown>,
  each: (message: unknown) => Promise<void>,
): Promise<void> {
  while (true) {
    let message: unknown;
    try {
      message = await receive(conn);
    } catch (error) {
      if (error instanceof EOFError) return;
      throw error;
    }
    await each(message);
  }
}

/** Sends back every object it receives until the other end is closed. */
export async function pipeEcho(conn: Connection): Promise<void> {
  await receiveUntilEOF(conn, (c) => c.recv(), (message) => conn.send(message));
  conn.close();
}

/** Sends back every byte message it receives until the other end is closed. */
export async function pipeEchoBytes(conn: Connection): Promise<void> {
  await receiveUntilEOF(
    conn,
    (c) => c.recvBytes(),
    (message) => conn.sendBytes(message as Uint8Array),
  );
  conn.close();
}

/** For each delay in turn: waits that long, then sends its index. Closes at the end. */
export async function pipeSendLater(conn: Connection, delaysMs: number[]): Promise<void> {
  for (const [i, delay] of delaysMs.entries()) {
    await sleep(delay);
    await conn.send(i);
  }
  conn.close();
}

/** Sends the numbers `0 .. count - 1`, one message each, then closes. */
export async function pipeSendRange(conn: Connection, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await conn.send(i);
  conn.close();
}

/** Sends `count` messages and returns at once, leaving `conn` open for the process's end to settle. */
export async function pipeSendAndReturn(conn: Connection, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) await conn.send({ i, text: `message ${i}` });
    else await conn.sendBytes(new Uint8Array([i & 0xff, (i >> 8) & 0xff]));
  }
}

/**
 * Sends `count` messages of `size` bytes (byte `k` of message `i` is
 * `(i + k) & 0xff`) and returns at once, leaving `conn` open.
 */
export async function pipeSendBigAndReturn(
  conn: Connection,
  count: number,
  size: number,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(size);
    for (let k = 0; k < size; k++) bytes[k] = (i + k) & 0xff;
    await conn.sendBytes(bytes);
  }
}

/** Sends one message and returns without closing `conn`. */
export async function pipeSendOneAndReturn(conn: Connection, value: unknown): Promise<void> {
  await conn.send(value);
}

/** Waits on `conn` for a message that never comes (until the process is ended). */
export async function pipeWaitForever(conn: Connection): Promise<void> {
  await conn.recv();
}

/**
 * Asks `count` questions on `peer` (a number each) and collects the answers;
 * reports them on `report`, then closes both.
 */
export async function pipeAsker(
  peer: Connection,
  report: Connection,
  count: number,
): Promise<void> {
  const answers: unknown[] = [];
  for (let i = 0; i < count; i++) {
    await peer.send(i);
    answers.push(await peer.recv());
  }
  peer.close();
  await report.send({ who: "asker", answers });
  report.close();
}

/** Answers every number on `peer` with its square until `peer` ends; reports how many. */
export async function pipeAnswerer(peer: Connection, report: Connection): Promise<void> {
  let answered = 0;
  await receiveUntilEOF(peer, (c) => c.recv(), async (n) => {
    await peer.send((n as number) ** 2);
    answered++;
  });
  peer.close();
  await report.send({ who: "answerer", answered });
  report.close();
}

/**
 * Receives a message carrying a connection on `control`, greets through
 * that connection, echoes one message back on it, then closes everything.
 */
export async function pipeUseSentConnection(control: Connection): Promise<void> {
  const { reply, tag } = await control.recv() as { reply: Connection; tag: string };
  await reply.send(`hello from the child (${tag})`);
  const message = await reply.recv();
  await reply.send({ echo: message });
  reply.close();
  await control.send("done");
  control.close();
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : `not an Error: ${String(error)}`;
}

/**
 * Given the sending end of a one-way pipe: reports what the end says about
 * itself and what happens when it is used to receive, through itself.
 */
export async function pipeWriterReport(writer: Connection): Promise<void> {
  const report: Record<string, unknown> = {
    readable: writer.readable,
    writable: writer.writable,
    closed: writer.closed,
  };
  report.recv = await writer.recv().then(() => "resolved", errorName);
  report.poll = await writer.poll().then(() => "resolved", errorName);
  report.recvBytes = await writer.recvBytes().then(() => "resolved", errorName);
  await writer.send(report);
  writer.close();
}

/**
 * Exercises the byte calls on an end held by a child. Receives one message
 * into a buffer at offset 2 and one that does not fit, and sends back what
 * it saw; sends a slice chosen by `sendBytes(buf, offset, size)` and the
 * errors of out-of-range slices; finally reads a message longer than
 * `recvBytes(3)` allows and reports the outcome on `report` (the failed
 * read closes `conn`).
 */
export async function pipeBytesInChild(conn: Connection, report: Connection): Promise<void> {
  const into = new Uint8Array(14).fill(0xee);
  const n = await conn.recvBytesInto(into, 2);
  await conn.send({ n, into });

  const small = new Uint8Array(4).fill(0xee);
  const tooShort = await conn.recvBytesInto(small).then(
    (n) => ({ error: `none: received ${n} bytes` }),
    (error) => ({
      error: errorName(error),
      isBufferTooShort: error instanceof BufferTooShort,
      data: (error as BufferTooShort).data,
      small,
    }),
  );
  await conn.send(tooShort);

  const digits = new TextEncoder().encode("0123456789");
  await conn.sendBytes(digits, 3, 4);
  const rangeErrors: string[] = [];
  for (const [offset, size] of [[-1, undefined], [11, undefined], [0, -1], [9, 2]] as const) {
    rangeErrors.push(await conn.sendBytes(digits, offset, size).then(() => "resolved", errorName));
  }
  await conn.send(rangeErrors);

  const outcome = await conn.recvBytes(3).then(
    (bytes) => `resolved with ${bytes.byteLength} bytes`,
    errorName,
  );
  await report.send({ outcome, closed: conn.closed });
  conn.close();
  report.close();
}

/**
 * Makes a pipe here, sends one end to the parent on `control`, greets
 * through the other, echoes one message, then closes everything.
 */
export async function pipeMakePipe(control: Connection): Promise<void> {
  const [mine, theirs] = Pipe();
  await control.send(theirs);
  theirs.close();
  await mine.send("hello through the child's pipe");
  const message = await mine.recv();
  await mine.send({ echo: message });
  mine.close();
  control.close();
}

/** Sends `end` (which it got as an argument) back on `control`, then closes both. */
export async function pipeSendBack(control: Connection, end: Connection): Promise<void> {
  await control.send({ end });
  end.close();
  control.close();
}

/**
 * Waits until a message is waiting on `end` (an argument), then, without
 * reading it, sends `end` back on `control` and closes both.
 */
export async function pipeSendBackUnread(control: Connection, end: Connection): Promise<void> {
  await end.poll(null);
  await control.send({ end });
  end.close();
  control.close();
}

/**
 * Passes `conn` (an argument) on to a child of its own running
 * {@linkcode pipeEcho}, closes its copy, and waits for that child.
 */
export async function pipeRelayToGrandchild(conn: Connection, method: StartMethod): Promise<void> {
  const grandchild = new (getContext(method).Process)({ target: pipeEcho, args: [conn] });
  grandchild.start();
  conn.close();
  await grandchild.join();
  if (grandchild.exitcode !== 0) {
    throw new Error(`The grandchild ended with exitcode ${grandchild.exitcode}`);
  }
}

/**
 * Makes a pipe here, sends a message into it, hands both ends to the parent
 * on `control`, closes its own copies and ends.
 */
export async function pipeHandOverBoth(control: Connection): Promise<void> {
  const [a, b] = Pipe();
  await a.send("queued in a pipe made by a child");
  await control.send([a, b]);
  a.close();
  b.close();
  control.close();
}

/** Collects every message on `conn` until the other end is closed; reports them on `report`. */
export async function pipeCollectUntilEOF(conn: Connection, report: Connection): Promise<void> {
  const received: unknown[] = [];
  await receiveUntilEOF(conn, (c) => c.recv(), (message) => {
    received.push(message);
    return Promise.resolve();
  });
  conn.close();
  await report.send(received);
  report.close();
}

/** Waits until a message is waiting on `end`, then closes `end` without reading it. */
export async function pipeCloseUnread(end: Connection): Promise<void> {
  await end.poll(null);
  end.close();
}

/**
 * Waits until a message is waiting on `end`, then returns without reading
 * it and without closing `end`: the process's end releases it.
 */
export async function pipeReturnUnread(end: Connection): Promise<void> {
  await end.poll(null);
}

/**
 * Waits until a message is waiting on `end`, says so on `control`, then
 * holds `end` unread until the process is ended from outside.
 */
export async function pipeHoldUnread(end: Connection, control: Connection): Promise<void> {
  await end.poll(null);
  await control.send("holding a message unread");
  await new Promise(() => {});
}

/** Reads one message on `end`, reports it on `control`, and returns without closing `end`. */
export async function pipeReadOneAndReturn(end: Connection, control: Connection): Promise<void> {
  await control.send(await end.recv());
  control.close();
}

/**
 * A slow reader: connects with `Client` to `address`, then reads one message
 * each time `control` says "next", answering with its length; "stop" ends it.
 */
export async function pipeSlowReader(
  address: string | [string, number],
  control: Connection,
): Promise<void> {
  const { Client } = await import("../../mod.ts");
  const conn = await Client(address, { authkey: "k" });
  while ((await control.recv()) === "next") {
    await control.send((await conn.recvBytes()).byteLength);
  }
  conn.close();
  control.close();
}

/**
 * A slow reader of a pipe: reads one message on `conn` each time `control`
 * says "next", answering with its length; "rss" answers this process's
 * resident memory in bytes; "stop" ends it.
 */
export async function pipeSlowPipeReader(conn: Connection, control: Connection): Promise<void> {
  for (;;) {
    const order = await control.recv();
    if (order === "next") await control.send((await conn.recvBytes()).byteLength);
    else if (order === "rss") await control.send(process.memoryUsage().rss);
    else break;
  }
  conn.close();
  control.close();
}

/**
 * A fast writer: sends `count` messages of `size` bytes on `conn`, each as
 * soon as the previous send resolved, and reports on `progress` how many
 * sends have resolved after each one; it stops when its reader is gone.
 */
export async function pipeFastWriter(
  conn: Connection,
  count: number,
  size: number,
  progress: Connection,
): Promise<void> {
  const message = new Uint8Array(size).fill(7);
  for (let i = 1; i <= count; i++) {
    try {
      await conn.sendBytes(message);
    } catch (error) {
      if (!conn.closed && error instanceof OSError) break; // its reader is gone
      throw error;
    }
    await progress.send(i);
  }
  conn.close();
  progress.close();
}
