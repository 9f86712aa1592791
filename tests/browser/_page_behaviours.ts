/**
 * What the library does in a web page that no other host does: `"spawn"`
 * and sockets fail with errors that say what to use, the workers share the
 * page's made-up pid as threads of a process do, and what the workers print
 * reaches the page in the order it was printed (`captureOutput`), however
 * much of it there is. Run by tests/browser_test.ts through
 * `contracts.html?contract=page`, in a cross-origin-isolated page and in one
 * that is not (over `MessagePort`s, without shared memory).
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  currentProcess,
  getAllStartMethods,
  getContext,
  getStartMethod,
  Listener,
  Lock,
  OSError,
  Pipe,
  Pool,
  Process,
  Queue,
  RuntimeError,
  setStartMethod,
  Value,
  ValueError,
} from "../../mod.ts";
import { captureOutput, type OutputStream } from "../../src/browser.ts";
import {
  printLine,
  printMany,
  printThenSend,
  reportWho,
  square,
  startPrintingGrandchild,
  throwInChild,
} from "./_page_targets.ts";

export * from "./_page_targets.ts";

const T = { timeout: 60_000 };
/** Shared memory: a page served with COOP and COEP (tests/browser_test.ts runs both kinds). */
const ISOLATED = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
const NEEDS_ISOLATION = { ...T, skip: !ISOLATED && "this page is not cross-origin isolated" };

async function capture<R>(
  fn: () => Promise<R>,
): Promise<{ value: R; lines: [string, OutputStream][] }> {
  const lines: [string, OutputStream][] = [];
  const restore = captureOutput((text, stream) => lines.push([text, stream]));
  try {
    return { value: await fn(), lines };
  } finally {
    restore();
  }
}

/** Registers the page's own behaviours. */
export function runPageBehaviours(): void {
  describe("a web page", () => {
    test('"worker" is the only start method, and the default; "spawn" says why not', T, () => {
      assert.deepEqual(getAllStartMethods(), ["worker"]);
      assert.equal(getStartMethod(), "worker");
      const advice =
        /'spawn' start method is not available here: a web page cannot start OS processes: use the "worker" start method/;
      assert.throws(
        () => getContext("spawn"),
        (e: Error) => e instanceof ValueError && advice.test(e.message),
      );
      assert.throws(() => setStartMethod("spawn", { force: true }), ValueError);
      assert.equal(getStartMethod(), "worker");
    });

    test(
      "Listener, Client and a manager at an address fail with an OSError that says why",
      T,
      async () => {
        const why = /a web page cannot open sockets/;
        assert.throws(
          () => new Listener({ address: ["127.0.0.1", 0] }),
          (e: Error) => e instanceof OSError && why.test(e.message),
        );
        await assert.rejects(
          Client(["127.0.0.1", 6000]),
          (e: Error) => e instanceof OSError && why.test(e.message),
        );
      },
    );

    test("a worker shares the page's pid, has its own ident, and knows its parent", T, async () => {
      const [mine, theirs] = Pipe();
      const p = new Process({ target: reportWho, args: [theirs] });
      await p.start();
      theirs.close();
      const who = await mine.recv() as {
        pid: number;
        ident: number;
        name: string;
        parentPid: number;
      };
      await p.join();
      assert.equal(who.pid, currentProcess().pid);
      assert.equal(who.parentPid, currentProcess().pid);
      assert.equal(who.name, p.name);
      assert.notEqual(who.ident, currentProcess().ident);
      assert.equal(p.exitcode, 0);
      assert.equal(p.isAlive(), false);
    });

    test(
      "what a worker prints before it sends reaches the page before what the page prints on receiving",
      T,
      async () => {
        const { lines } = await capture(async () => {
          const [mine, theirs] = Pipe();
          const p = new Process({ target: printThenSend, args: [theirs] });
          await p.start();
          theirs.close();
          console.log("page got:", await mine.recv());
          await p.join();
        });
        assert.deepEqual(lines, [
          ["child: before the message [ 1, 2, 3 ]", "stdout"],
          ["child: on stderr", "stderr"],
          ["page got: the message", "stdout"],
        ]);
      },
    );

    test("a grandchild's lines reach the page, before its parent's next one", T, async () => {
      const { lines } = await capture(async () => {
        const p = new Process({ target: startPrintingGrandchild });
        await p.start();
        await p.join();
      });
      assert.deepEqual(lines.map(([text]) => text), [
        "grandchild says hi",
        "child: grandchild joined 0",
      ]);
    });

    test(
      "a worker that prints far more than the output ring holds loses nothing, in order",
      T,
      async () => {
        const count = 20_000;
        const { lines } = await capture(async () => {
          const p = new Process({ target: printMany, args: [count, 200] });
          await p.start();
          await p.join();
        });
        assert.equal(lines.length, count);
        for (let i = 0; i < count; i += 997) {
          assert.equal(
            lines[i][0].slice(0, 8),
            String(i).padStart(8, "0"),
          );
        }
      },
    );

    test(
      "an uncaught error in a worker prints 'Process <name>:' and the stack on stderr, exitcode 1",
      T,
      async () => {
        const { value: p, lines } = await capture(async () => {
          const p = new Process({ target: throwInChild });
          await p.start();
          await p.join();
          return p;
        });
        assert.equal(p.exitcode, 1);
        const stderr = lines.filter(([, s]) => s === "stderr").map(([t]) => t).join("\n");
        assert.match(
          stderr,
          new RegExp(`^Process ${p.name}:\nError: thrown in the child on purpose`),
        );
      },
    );

    test(
      "a Pool, a Queue and a Value work across the page's workers",
      NEEDS_ISOLATION,
      async () => {
        await using pool = new Pool(2);
        assert.deepEqual(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
        const q = new Queue<string>();
        const p = new Process({ target: printLine, args: ["from a worker"] });
        const { lines } = await capture(async () => {
          await p.start();
          await q.put("item");
          await p.join();
        });
        assert.deepEqual(lines, [["from a worker", "stdout"]]);
        assert.equal(await q.get(), "item");
        const v = Value("i", 41);
        await v.set((await v.get()) + 1);
        assert.equal(await v.get(), 42);
      },
    );

    test(
      "without cross-origin isolation, processes, pipes and pools work over MessagePorts, and a Lock says what the page needs",
      { ...T, skip: ISOLATED && "this page is cross-origin isolated" },
      async () => {
        const [mine, theirs] = Pipe();
        const p = new Process({ target: reportWho, args: [theirs] });
        await p.start();
        theirs.close();
        assert.equal(((await mine.recv()) as { name: string }).name, p.name);
        await p.join();
        await using pool = new Pool(2);
        assert.deepEqual(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
        const advice =
          /cross-origin isolated: serve it with the headers 'Cross-Origin-Opener-Policy: same-origin'/;
        assert.throws(
          () => new Lock(),
          (e: Error) => e instanceof RuntimeError && advice.test(e.message),
        );
        assert.throws(
          () => new Queue(),
          (e: Error) => e instanceof RuntimeError && advice.test(e.message),
        );
      },
    );
  });
}
