/**
 * The arguments of a task or a process are checked against the function's
 * parameters, results take its return type, pipes carry a message type and
 * shared values the type of their typecode (../API.md, "Types that follow
 * the function"). Checked by the type checker (`deno check tests/` in
 * `deno task test:static`): every line marked `@ts-expect-error` below must
 * fail to compile, and every other line must compile. The runtime half
 * checks that the type map of the typecodes is what the values are.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type AsyncResult,
  type Connection,
  getContext,
  Manager,
  Pipe,
  Pool,
  Process,
  type ProcessOptions,
  Queue,
  RawArray,
  RawValue,
  SharedArray,
  type Synchronized,
  type Typecode,
  type TypecodeArrays,
  type TypecodeValues,
  Value,
} from "../mod.ts";

/** `true` when `A` and `B` are the same type (not merely assignable). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
/** Compiles only when `T` is `true`. */
function assertType<T extends true>(_proof?: T): void {}

function add(a: number, b: number): number {
  return a + b;
}
function sq(x: number): number {
  return x * x;
}
async function fetchName(id: number): Promise<string> {
  return await Promise.resolve(`name-${id}`);
}
function greet(name: string, options?: { loud?: boolean }): string {
  return options?.loud ? name.toUpperCase() : name;
}
function scaled(x: number, factor = 2): number {
  return x * factor;
}
function withOptions(x: number, options: { times: number }): number {
  return x * options.times;
}
function echo(...values: unknown[]): unknown[] {
  return values;
}
function noArgs(): string {
  return "none";
}
function identity<T>(value: T): T {
  return value;
}
async function reader(conn: Connection<number>, q: Queue<string>): Promise<void> {
  await q.put(String(await conn.recv()));
}
function setup(level: number, label: string): void {
  void [level, label];
}
/** A function whose parameters nobody declared: calls through it are not checked. */
const untyped = add as (...args: never[]) => unknown;

/** Compiled, never run: each marked line must be a type error. */
async function poolChecks(pool: Pool): Promise<void> {
  // apply: args follow the parameters, the result the return type.
  const sum: number = await pool.apply(add, [1, 2]);
  const name: string = await pool.apply(fetchName, [1]);
  // @ts-expect-error: "1" is not a number
  await pool.apply(add, ["1", 2]);
  // @ts-expect-error: add takes two arguments
  await pool.apply(add, [1]);
  // @ts-expect-error: sq takes one argument
  await pool.apply(sq, [1, 2, 3]);
  // @ts-expect-error: add's arguments are required
  await pool.apply(add);
  // @ts-expect-error: fetchName gives a string
  const notNumber: number = await pool.apply(fetchName, [1]);
  await pool.apply(noArgs);
  await pool.apply(scaled, [1]);
  await pool.apply(scaled, [1, 3]);
  const same: string = await pool.apply(identity, ["x"]);
  // kwargs: the trailing object of the last parameter.
  await pool.apply(withOptions, [2], { times: 3 });
  await pool.apply(withOptions, [2, { times: 3 }]);
  await pool.apply(greet, ["kel"], { loud: true });
  // @ts-expect-error: times is a number
  await pool.apply(withOptions, [2], { times: "3" });
  // @ts-expect-error: add's last parameter takes no kwargs object
  await pool.apply(add, [1, 2], { b: 2 });
  // @ts-expect-error: withOptions needs its options
  await pool.apply(withOptions, [2]);
  await pool.apply(echo, [1, "two"], { three: 3 });
  await pool.apply(echo);
  // Undeclared parameters: anything goes.
  await pool.apply(untyped, [1, "x"], { y: 1 });

  // applyAsync: the same, and callbacks see the result.
  const r: AsyncResult<number> = pool.applyAsync(add, [1, 2], {
    callback: (value) => assertType<Equals<typeof value, number>>(),
    errorCallback: (error) => void error,
  });
  const n: number = await r;
  const got: string = await pool.applyAsync(fetchName, [7]).get();
  // @ts-expect-error: "1" is not a number
  pool.applyAsync(add, ["1", 2]);
  // @ts-expect-error: add takes two arguments
  pool.applyAsync(add, [1]);
  // @ts-expect-error: the callback takes the result, a number
  pool.applyAsync(add, [1, 2], { callback: (value: string) => value });
  pool.applyAsync(withOptions, [2], { kwargs: { times: 3 }, callback: (v) => v.toFixed() });
  // @ts-expect-error: times is a number
  pool.applyAsync(withOptions, [2], { kwargs: { times: "3" } });
  // @ts-expect-error: add takes no kwargs object
  pool.applyAsync(add, [1, 2], { kwargs: { b: 2 } });
  pool.applyAsync(noArgs);
  pool.applyAsync(untyped, [1, "x"], { kwargs: { y: 1 } });

  // map, mapAsync, imap, imapUnordered: items follow the first parameter.
  const squares: number[] = await pool.map(sq, [1, 2, 3]);
  const names: string[] = await pool.map(fetchName, [1, 2]);
  await pool.map(scaled, [1, 2]); // an optional second parameter is fine
  // @ts-expect-error: the items must be numbers
  await pool.map(sq, ["1", "2"]);
  // @ts-expect-error: add needs two arguments; map passes one
  await pool.map(add, [1, 2]);
  const all: number[] = await pool.mapAsync(sq, [1], { callback: (v) => v.map(sq) });
  // @ts-expect-error: the items must be numbers
  pool.mapAsync(sq, ["1"]);
  for await (const v of pool.imap(fetchName, [1, 2])) assertType<Equals<typeof v, string>>();
  for await (const v of pool.imapUnordered(sq, [1, 2])) assertType<Equals<typeof v, number>>();
  // @ts-expect-error: the items must be numbers
  pool.imap(sq, ["1"]);
  // @ts-expect-error: the items must be numbers
  pool.imapUnordered(sq, ["1"]);

  // starmap, starmapAsync: each item is the arguments.
  const sums: number[] = await pool.starmap(add, [[1, 2], [3, 4]]);
  // @ts-expect-error: the arguments are two numbers
  await pool.starmap(add, [["x", {}]]);
  // @ts-expect-error: add takes two arguments
  await pool.starmap(add, [[1]]);
  const pairs: [number, number][] = [[1, 2]];
  await pool.starmapAsync(add, pairs, {
    callback: (v) => assertType<Equals<typeof v, number[]>>(),
  });
  // @ts-expect-error: the arguments are two numbers
  pool.starmapAsync(add, [["1", 2]]);
  await pool.starmap(scaled, [[1], [2, 3]]);

  void [sum, name, notNumber, same, n, got, squares, names, all, sums];
}

/** Compiled, never run. */
function processChecks(): void {
  new Process({ target: add, args: [1, 2] });
  // @ts-expect-error: "1" is not a number
  new Process({ target: add, args: ["1", 2] });
  // @ts-expect-error: add takes two arguments
  new Process({ target: add, args: [1] });
  // @ts-expect-error: add's arguments are required
  new Process({ target: add });
  new Process({ target: noArgs });
  // @ts-expect-error: noArgs takes no arguments
  new Process({ target: noArgs, args: [1] });
  new Process({ target: scaled, args: [1] });
  new Process({ target: greet, args: ["kel"], kwargs: { loud: true } });
  new Process({ target: withOptions, args: [2], kwargs: { times: 3 } });
  // @ts-expect-error: times is a number
  new Process({ target: withOptions, args: [2], kwargs: { times: "3" } });
  // @ts-expect-error: add takes no kwargs object
  new Process({ target: add, args: [1, 2], kwargs: { b: 2 } });
  // A target taking a Connection and a Queue.
  const [, childEnd] = Pipe<number>();
  new Process({ target: reader, args: [childEnd, new Queue<string>()] });
  // @ts-expect-error: reader needs its queue too (a Queue is not a kwargs object)
  new Process({ target: reader, args: [childEnd] });
  // @ts-expect-error: a Queue is not a kwargs object: it goes in args
  new Process({ target: reader, args: [childEnd], kwargs: new Queue<string>() });
  // @ts-expect-error: reader reads numbers, not strings
  new Process({ target: reader, args: [Pipe<string>()[1], new Queue<string>()] });
  new Process({ target: untyped, args: [1, "x"], kwargs: { y: 1 } });
  new Process({ name: "no target", daemon: true });
  new Process();
  // A context's Process checks the same way.
  const P = getContext("spawn").Process;
  new P({ target: add, args: [1, 2] });
  // @ts-expect-error: "1" is not a number
  new P({ target: add, args: ["1", 2] });

  // A subclass that overrides run() takes no target.
  class Ticker extends Process {
    constructor(public interval = 1, options: ProcessOptions = {}) {
      super(options);
    }
    override run(): void {}
  }
  new Ticker(5, { name: "ticker" });
  new Ticker(5, { target: add, args: [1, 2] });
  const p: Process = new Process({ target: add, args: [1, 2] });
  void p;

  // A Pool's initializer and initargs.
  new Pool({ initializer: setup, initargs: [1, "x"] });
  // @ts-expect-error: level is a number
  new Pool({ initializer: setup, initargs: ["1", "x"] });
  // @ts-expect-error: setup's arguments are required
  new Pool({ processes: 2, initializer: setup });
  new Pool({ initializer: noArgs });
  new Pool(2);
  new (getContext("worker").Pool)({ initializer: setup, initargs: [1, "x"] });
  // @ts-expect-error: level is a number
  new (getContext("worker").Pool)({ initializer: setup, initargs: ["1", "x"] });
}

/** Compiled, never run. */
async function pipeAndValueChecks(): Promise<void> {
  const [a, b] = Pipe<string>();
  await a.send("hello");
  const text: string = await b.recv();
  // @ts-expect-error: the pipe carries strings
  await a.send(1);
  const [c] = Pipe();
  const anything: unknown = await c.recv();
  // @ts-expect-error: an untyped pipe gives unknown
  const notString: string = await c.recv();
  const q = new Queue<number>();
  const item: number = await q.get();
  // @ts-expect-error: the queue carries numbers
  await q.put("1");

  const i = Value("i", 0);
  const n: number = await i.get();
  await i.set(3);
  // @ts-expect-error: an "i" value is a number
  await i.set(3n);
  const counted: number = await i.update((x) => x + 1);
  const d: number = await Value("d", 0.5).get();
  const big: bigint = await Value("q", 0n).get();
  const ubig: bigint = await Value("Q", 1).get(); // an integer number is converted
  // @ts-expect-error: a "q" value is a bigint
  const notNumber: number = await Value("q", 0n).get();
  // @ts-expect-error: not a typecode the library knows
  Value("x", 0);
  // @ts-expect-error: a "d" value takes a number
  Value("d", "0.5");
  const anyCode: Typecode = "b";
  const either: number | bigint = await Value(anyCode).get();
  const s: Synchronized = i; // a typed value is a Synchronized

  const arr = SharedArray("i", [1, 2, 3]);
  const first: number = await arr.get(0);
  const items: number[] = await arr.toArray();
  const bigs: bigint[] = await SharedArray("q", 3).toArray();
  // @ts-expect-error: an "i" array holds numbers
  await arr.set(0, 1n);
  // @ts-expect-error: an "i" array holds numbers
  SharedArray("i", ["1"]);

  const raw: Int32Array = RawValue("i", 1);
  const floats: Float64Array = RawArray("d", 4);
  const rawBig: BigInt64Array = getContext("worker").RawArray("q", [1n]);
  // @ts-expect-error: an "i" raw value is an Int32Array
  const wrongRaw: Float64Array = RawValue("i", 1);

  await using manager = await Manager();
  const managed: number = await (await manager.Value("i", 1)).get();
  const managedBig: bigint[] = await (await manager.Array("q", [1n])).toArray();

  void [text, anything, notString, item, n, counted, d, big, ubig, notNumber, either, s];
  void [first, items, bigs, raw, floats, rawBig, wrongRaw, managed, managedBig];
}

/** What each typecode reads as at run time, held to the type map. */
const RUNTIME_TYPES: { [T in Typecode]: TypecodeValues[T] extends bigint ? "bigint" : "number" } = {
  b: "number",
  B: "number",
  h: "number",
  H: "number",
  i: "number",
  I: "number",
  l: "number",
  L: "number",
  q: "bigint",
  Q: "bigint",
  f: "number",
  d: "number",
};

/** The typed array of each typecode at run time, held to the type map. */
const RUNTIME_ARRAYS: { [T in Typecode]: new (length: number) => TypecodeArrays[T] } = {
  b: Int8Array,
  B: Uint8Array,
  h: Int16Array,
  H: Uint16Array,
  i: Int32Array,
  I: Uint32Array,
  l: Int32Array,
  L: Uint32Array,
  q: BigInt64Array,
  Q: BigUint64Array,
  f: Float32Array,
  d: Float64Array,
};

describe("argument and value types", () => {
  test("the type-checked half compiles (see the @ts-expect-error lines)", () => {
    assert.deepEqual(
      [poolChecks, processChecks, pipeAndValueChecks].map((f) => typeof f),
      ["function", "function", "function"],
    );
  });

  test("Value and SharedArray give what the type map says for every typecode", async () => {
    for (const [code, expected] of Object.entries(RUNTIME_TYPES)) {
      const typecode = code as Typecode;
      using value = Value(typecode, 1);
      using array = SharedArray(typecode, [1, 2]);
      assert.equal(typeof await value.get(), expected, `Value("${typecode}")`);
      for (const item of await array.toArray()) {
        assert.equal(typeof item, expected, `SharedArray("${typecode}")`);
      }
    }
  });

  test("RawValue and RawArray give the typed array the type map says", () => {
    const ctx = getContext("worker");
    for (const [code, Expected] of Object.entries(RUNTIME_ARRAYS)) {
      const typecode = code as Typecode;
      assert.equal(ctx.RawValue(typecode).constructor, Expected, `RawValue("${typecode}")`);
      assert.equal(ctx.RawArray(typecode, 2).constructor, Expected, `RawArray("${typecode}")`);
    }
  });

  test("a typed pipe carries its messages", async () => {
    const [a, b] = Pipe<{ n: number }>();
    await a.send({ n: 1 });
    const got: { n: number } = await b.recv();
    assert.deepEqual(got, { n: 1 });
    a.close();
    b.close();
  });
});
