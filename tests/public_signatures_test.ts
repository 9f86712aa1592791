/**
 * Public constructors show only what a user passes (../API.md, "Types that
 * follow the function"): the library builds its objects from internal state
 * through a module-private handoff (src/core/_handoff.ts), never through a
 * hidden constructor parameter. `deno doc --json mod.ts` gives every
 * exported class's own constructor; each must match the table below, which
 * follows API.md. A class the library alone makes shows no parameter and
 * throws a `TypeError` naming its factory when a user constructs it.
 *
 * The `deno doc` half runs under `deno test` only; the behaviour half under
 * both runtimes.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Barrier,
  BaseProxy,
  BoundedSemaphore,
  Condition,
  Connection,
  Context,
  Event,
  JoinableQueue,
  Lock,
  Queue,
  RLock,
  Semaphore,
  SimpleQueue,
  Synchronized,
  SynchronizedArray,
} from "../mod.ts";

/**
 * The own constructor parameters of every exported class, by name;
 * `"inherited"` for a class that declares no constructor (it takes its
 * base's).
 */
const EXPECTED: Record<string, string[] | "inherited"> = {
  // Constructed by users (API.md, rule 1).
  Process: ["options"],
  Listener: ["options"],
  Pool: ["options"],
  BaseManager: ["options"],
  SyncManager: "inherited",
  Queue: ["maxsize"],
  JoinableQueue: "inherited",
  SimpleQueue: [],
  Lock: [],
  RLock: [],
  Semaphore: ["value"],
  BoundedSemaphore: "inherited",
  Event: [],
  Condition: ["lock"],
  Barrier: ["parties", "action", "timeout"],
  // Made by the library only.
  Connection: [],
  AsyncResult: [],
  BaseProxy: [],
  DictProxy: "inherited",
  ListProxy: "inherited",
  NamespaceProxy: "inherited",
  SemLock: [],
  SynchronizedBase: [],
  Synchronized: "inherited",
  SynchronizedArray: "inherited",
  Context: [],
  // Errors, as Error's.
  ProcessError: ["message", "options"],
  BufferTooShort: ["data", "message"],
  AuthenticationError: "inherited",
  BrokenBarrierError: "inherited",
  Empty: "inherited",
  EOFError: "inherited",
  Full: "inherited",
  KeyError: "inherited",
  OSError: "inherited",
  PermissionError: ["message", "missing"],
  RemoteError: "inherited",
  RuntimeError: "inherited",
  TimeoutError: "inherited",
  ValueError: "inherited",
  WorkerLostError: "inherited",
};

/** A parameter of `deno doc --json` as far as its name goes. */
type DocParam = {
  kind: string;
  name?: string;
  left?: DocParam;
  arg?: DocParam;
};

/** The name a parameter is shown with (`...rest` for a rest parameter). */
function paramName(p: DocParam): string {
  if (p.kind === "assign" && p.left) return paramName(p.left);
  if (p.kind === "rest" && p.arg) return `...${paramName(p.arg)}`;
  return p.name ?? `<${p.kind}>`;
}

/** Every exported class of mod.ts with its own constructors' parameter names. */
async function exportedConstructors(): Promise<Map<string, string[][]>> {
  const root = new URL("../", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", "mod.ts"],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const doc = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    nodes: Record<string, {
      symbols: {
        name: string;
        declarations: { kind: string; def: { constructors?: { params: DocParam[] }[] } }[];
      }[];
    }>;
  };
  const classes = new Map<string, string[][]>();
  for (const module of Object.values(doc.nodes)) {
    for (const symbol of module.symbols) {
      for (const declaration of symbol.declarations) {
        if (declaration.kind !== "class") continue;
        const ctors = declaration.def.constructors ?? [];
        classes.set(symbol.name, ctors.map((c) => c.params.map(paramName)));
      }
    }
  }
  return classes;
}

describe("public constructors", () => {
  if (!("Deno" in globalThis) || "Bun" in globalThis) {
    test.skip("deno doc shows only what a user passes: `deno doc` runs under Deno", () => {});
  } else {
    test("deno doc shows only what a user passes, as API.md gives it", async () => {
      const classes = await exportedConstructors();
      assert.deepEqual(
        [...classes.keys()].sort(),
        Object.keys(EXPECTED).sort(),
        "an exported class was added or removed: give its constructor a line in EXPECTED",
      );
      for (const [name, ctors] of classes) {
        const expected = EXPECTED[name];
        if (expected === "inherited") {
          assert.deepEqual(
            ctors,
            [],
            `${name} declares a constructor; it should inherit its base's`,
          );
        } else {
          assert.deepEqual(ctors, [expected], `the constructor of ${name}`);
        }
      }
    });
  }

  test("what a user constructs works with no internal argument", async () => {
    const lock = new Lock();
    const semaphore = new Semaphore(2);
    const joinable = new JoinableQueue(3);
    const simple = new SimpleQueue();
    const made = [
      lock,
      new RLock(),
      semaphore,
      new BoundedSemaphore(),
      new Event(),
      new Condition(),
      new Barrier(1),
      new Queue(),
      joinable,
      simple,
    ];
    assert.equal(await lock.acquire({ block: false }), true);
    assert.equal(await semaphore.getValue(), 2);
    assert.equal(joinable.maxsize, 3);
    assert.equal(simple.maxsize, 0);
    for (const m of made) m.close();
  });

  test("a class the library alone makes refuses `new` with a TypeError naming its factory", () => {
    const direct: [string, () => unknown, RegExp][] = [
      ["Connection", () => new Connection(), /Pipe\(\)/],
      ["Context", () => new Context(), /getContext\(\)/],
      ["Synchronized", () => new Synchronized(), /Value\(\) or SharedArray\(\)/],
      ["SynchronizedArray", () => new SynchronizedArray(), /Value\(\) or SharedArray\(\)/],
      [
        "BaseProxy",
        () => new (class extends BaseProxy {})(),
        /made by a manager/,
      ],
    ];
    for (const [name, make, message] of direct) {
      assert.throws(make, (e: unknown) => e instanceof TypeError && message.test(e.message), name);
    }
  });
});
