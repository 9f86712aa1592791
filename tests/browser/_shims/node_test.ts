/**
 * `node:test` for the contracts in a web page (tests/browser_test.ts): the
 * tests a module registers with `describe` / `test` / `before` / `after`,
 * run one at a time by {@linkcode runRegistered}. In one of the library's
 * workers (a child that imports a contract module to find its targets)
 * registering does nothing, as on Deno and Bun.
 *
 * @module
 */

/** What a test function gets: `t.skip(reason)` marks it skipped (it returns at once after). */
interface TestContext {
  name: string;
  skip(reason?: string): void;
  todo(reason?: string): void;
  diagnostic(message: string): void;
}
type Fn = (t: TestContext) => unknown | Promise<unknown>;
interface Options {
  timeout?: number;
  skip?: boolean | string;
  todo?: boolean | string;
  concurrency?: number | boolean;
}
interface Entry {
  name: string;
  options: Options;
  fn: Fn;
}

/** What one test did. */
export interface TestResult {
  name: string;
  status: "passed" | "failed" | "skipped";
  ms: number;
  error?: string;
  reason?: string;
}

const inChild = Symbol.for("@procs/multiprocessing/page") in globalThis;
const path: string[] = [];
const tests: Entry[] = [];
const hooks: { before: Fn[]; after: Fn[] } = { before: [], after: [] };

function split(a: unknown, b?: unknown, c?: unknown): [string, Options, Fn] {
  const name = typeof a === "string" ? a : (a as Fn)?.name ?? "";
  if (typeof a === "function") return [name, {}, a as Fn];
  if (typeof b === "function") return [name, {}, b as Fn];
  return [name, (b ?? {}) as Options, c as Fn];
}

/** Registers a test. */
export function test(a: unknown, b?: unknown, c?: unknown): void {
  if (inChild) return;
  const [name, options, fn] = split(a, b, c);
  tests.push({ name: [...path, name].join(" > "), options, fn });
}
test.skip = (a: unknown, b?: unknown, c?: unknown): void => {
  const [name, options, fn] = split(a, b, c);
  test(
    name,
    { ...options, skip: options.skip || "skipped on every host (test.skip)" },
    fn ?? (() => {}),
  );
};
test.todo = test.skip;
export const it = test;

/** Registers the tests `fn` registers, under `name`. */
export function describe(a: unknown, b?: unknown, c?: unknown): void {
  if (inChild) return;
  const [name, options, fn] = split(a, b, c);
  path.push(name);
  const first = tests.length;
  try {
    fn({} as TestContext);
  } finally {
    path.pop();
  }
  if (options.skip) {
    for (const entry of tests.slice(first)) {
      entry.options = { ...entry.options, skip: options.skip };
    }
  }
}
describe.skip = (a: unknown, b?: unknown, c?: unknown): void => {
  const [name, options, fn] = split(a, b, c);
  describe(name, { ...options, skip: options.skip || "skipped on every host (describe.skip)" }, fn);
};

/** Runs `fn` before the first test. */
export function before(fn: Fn): void {
  if (!inChild) hooks.before.push(fn);
}
/** Runs `fn` after the last test. */
export function after(fn: Fn): void {
  if (!inChild) hooks.after.push(fn);
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}

/** Runs every registered test whose name `pick` accepts, one at a time; reports each as it ends. */
export async function runRegistered(
  pick: (name: string) => boolean,
  report: (result: TestResult) => void,
): Promise<TestResult[]> {
  const results: TestResult[] = [];
  const none = {} as TestContext;
  for (const hook of hooks.before) await hook(none);
  for (const { name, options, fn } of tests) {
    if (!pick(name)) continue;
    const started = performance.now();
    let result: TestResult;
    if (options.skip || options.todo) {
      const reason = options.skip || options.todo;
      result = { name, status: "skipped", ms: 0, reason: typeof reason === "string" ? reason : "" };
    } else {
      const limit = options.timeout ?? 120_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let skipped: string | null = null;
      const t: TestContext = {
        name,
        skip: (reason = "") => void (skipped = reason),
        todo: (reason = "") => void (skipped = reason),
        diagnostic() {},
      };
      try {
        await Promise.race([
          Promise.resolve().then(() => fn(t)),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${limit} ms`)), limit);
          }),
        ]);
        result = skipped === null
          ? { name, status: "passed", ms: performance.now() - started }
          : { name, status: "skipped", ms: 0, reason: skipped };
      } catch (error) {
        result = {
          name,
          status: "failed",
          ms: performance.now() - started,
          error: describeError(error),
        };
      } finally {
        clearTimeout(timer);
      }
    }
    results.push(result);
    report(result);
  }
  for (const hook of hooks.after) await hook(none);
  return results;
}

export default { test, it, describe, before, after };
