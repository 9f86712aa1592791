/**
 * A test file whose own tests start children that import this very file:
 * the children must neither run nor register its tests (under Bun, test()
 * outside the runner would throw and the child would fail).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Connection, currentProcess, getAllStartMethods, getContext, Pipe } from "../mod.ts";

/** Runs in the child: reports whether it is a child. */
export async function whoAmI(conn: Connection): Promise<void> {
  await conn.send(currentProcess().name);
  conn.close();
}

/** Counts how many times this module's tests ran in this process. */
let testsRunHere = 0;

describe("a child imports a test file", () => {
  for (const method of getAllStartMethods()) {
    test(`without running or registering its tests [${method}]`, { timeout: 60_000 }, async () => {
      testsRunHere++;
      const [reader, writer] = Pipe();
      const p = new (getContext(method).Process)({ target: whoAmI, args: [writer] });
      p.start();
      writer.close();
      assert.match(await reader.recv() as string, /^Process-\d+$/);
      await p.join();
      assert.equal(p.exitcode, 0);
      assert.equal(currentProcess().name, "MainProcess");
      reader.close();
    });
  }
  test("ran in the main program only", () => {
    assert.equal(testsRunHere, 2);
  });
});
