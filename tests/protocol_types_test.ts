/**
 * The wire protocol and shared-object calls are checked by the type
 * checker (`deno check tests/` in the README's test command): every line
 * marked `@ts-expect-error` below must fail to compile, so a message whose
 * shape drifts from src/core/_wire/protocol.ts, an operation nobody declared, or
 * a call of a method an owner does not have (renamed, misspelt, wrong
 * arguments) is a compile error, not a runtime "not a method other
 * processes may call". The runtime half checks the shapes the protocol
 * module hands out.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Channel } from "../src/core/_wire/channel.ts";
import { onMessage } from "../src/core/_wire/channel.ts";
import { onRequest, request } from "../src/core/_wire/rpc.ts";
import type {
  ManagerMessage,
  Message,
  Messages,
  PoolCommand,
  PoolMessage,
  RequestFields,
} from "../src/core/_wire/protocol.ts";
import { type Caller, expose, type Ref, SharedCore } from "../src/core/_shared.ts";

/** A core with one exposed method, as the library's cores are written. */
class ProbeCore extends SharedCore {
  readonly exposed: ReadonlySet<string> = expose<ProbeCore>("double");
  double(_caller: Caller, n: number): number {
    return 2 * n;
  }
  /** Not callable from another process: it takes no Caller. */
  helper(n: number): number {
    return n;
  }
}

/** Compiled, never run: each marked line must be a type error. */
function typeChecks(channel: Channel, ref: Ref<ProbeCore>): void {
  channel.send(["pipe.eof", "ticket"]);
  // @ts-expect-error: a ticket is a string
  channel.send(["pipe.eof", 1]);
  // @ts-expect-error: no such operation
  channel.send(["pipe.eoff", "ticket"]);
  // @ts-expect-error: a field is missing
  channel.send(["pipe.push", "ticket", 1]);

  onMessage("queue.recall", (_channel, [, key]) => key.toUpperCase());
  // @ts-expect-error: no such operation
  onMessage("queue.recal", () => {});
  // @ts-expect-error: the field is a string, not a number
  onMessage("queue.recall", (_channel, [, key]) => key.toFixed());

  void request(channel, "manager.count").then((n) => n.toFixed());
  // @ts-expect-error: manager.create takes a typeid and arguments
  void request(channel, "manager.create", 1);
  // @ts-expect-error: no such request
  void request(channel, "manager.counts");
  onRequest("manager.count", () => 1);
  // @ts-expect-error: manager.count answers a number
  onRequest("manager.count", () => "one");

  void ref.call("double", 2).then((n) => n.toFixed());
  // @ts-expect-error: a renamed or misspelt method does not compile
  void ref.call("triple", 2);
  // @ts-expect-error: wrong argument type
  void ref.call("double", "2");
  // @ts-expect-error: a method without a Caller is not callable from another process
  void ref.call("helper", 2);
  // @ts-expect-error: expose() names only methods the core has
  expose<ProbeCore>("triple");

  // A pool's and a manager's messages over their Connection.
  void (["tasks", []] satisfies PoolMessage);
  // @ts-expect-error: "done" carries the encoded replies
  void (["done"] satisfies PoolMessage);
  // @ts-expect-error: no such pool message
  void (["start"] satisfies PoolMessage);
  // @ts-expect-error: a worker is never sent "ready"
  void ((["ready"] as PoolMessage) satisfies PoolCommand);
  void (["ready", "/tmp/x.sock"] satisfies ManagerMessage);
  // @ts-expect-error: "ready" carries the server's address
  void (["ready"] satisfies ManagerMessage);
}

describe("wire protocol types", () => {
  test("the type-checked half compiles (see the @ts-expect-error lines)", () => {
    assert.equal(typeof typeChecks, "function");
  });

  test("a message is its operation then its fields", () => {
    const push: Message<"pipe.push"> = ["pipe.push", "t", 3, new Uint8Array([1])];
    const fields: Messages["pipe.push"] = ["t", 3, new Uint8Array([1]), 10];
    const req: RequestFields = [7, "manager.count"];
    assert.equal(push[0], "pipe.push");
    assert.equal(fields.length, 4);
    assert.deepEqual(req, [7, "manager.count"]);
  });

  test("expose() lists the methods other processes may call", () => {
    assert.deepEqual([...new ProbeCore().exposed], ["double"]);
  });
});
