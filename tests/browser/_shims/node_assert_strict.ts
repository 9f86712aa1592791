/**
 * `node:assert/strict` for the contracts in a web page (tests/browser_test.ts):
 * the functions they use, with Node's strict semantics (`equal` is
 * `Object.is`, `deepEqual` compares prototypes and own enumerable keys,
 * `throws` / `rejects` validate by class, RegExp on `String(error)`,
 * object of expected properties, or a function). Messages show values as
 * Deno's console would (src/adapters/_format.ts).
 *
 * @module
 */

import { inspect } from "../../../src/adapters/_format.ts";

/** Node's `AssertionError`. */
export class AssertionError extends Error {
  override name = "AssertionError";
  constructor(options: { message?: string } | string) {
    super(typeof options === "string" ? options : options.message);
  }
}

function fail(message: string | Error | undefined, fallback: string): never {
  if (message instanceof Error) throw message;
  throw new AssertionError(message ?? fallback);
}

function isDeepEqual(a: unknown, b: unknown, seen = new Map<object, object>()): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    if (typeof a === "function" || typeof b === "function") return false;
    return false;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (a instanceof RegExp) return String(a) === String(b);
  if (a instanceof Error) {
    const e = b as Error;
    if (a.name !== e.name || a.message !== e.message) return false;
  }
  if (ArrayBuffer.isView(a) && !(a instanceof DataView)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(
      (b as ArrayBufferView).buffer,
      (b as ArrayBufferView).byteOffset,
      (b as ArrayBufferView).byteLength,
    );
    if (x.byteLength !== y.byteLength) return false;
    for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  }
  if (
    a instanceof ArrayBuffer ||
    (typeof SharedArrayBuffer === "function" && a instanceof SharedArrayBuffer)
  ) {
    return isDeepEqual(new Uint8Array(a as ArrayBuffer), new Uint8Array(b as ArrayBuffer), seen);
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) {
      if (m.has(k)) {
        if (!isDeepEqual(v, m.get(k), seen)) return false;
        continue;
      }
      let found = false;
      for (const [k2, v2] of m) {
        if (isDeepEqual(k, k2, seen) && isDeepEqual(v, v2, seen)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return false;
    for (const v of a) {
      if (s.has(v)) continue;
      if (![...s].some((w) => isDeepEqual(v, w, seen))) return false;
    }
  }
  if (Array.isArray(a) && a.length !== (b as unknown[]).length) return false;
  const keys = (o: object) =>
    Reflect.ownKeys(o).filter((k) => Object.prototype.propertyIsEnumerable.call(o, k));
  const ka = keys(a);
  const kb = keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.propertyIsEnumerable.call(b, k)) return false;
    if (
      !isDeepEqual(
        (a as Record<PropertyKey, unknown>)[k],
        (b as Record<PropertyKey, unknown>)[k],
        seen,
      )
    ) {
      return false;
    }
  }
  return true;
}

function show(value: unknown): string {
  return inspect(value);
}

type Expected =
  | RegExp
  | (new (...args: never[]) => unknown)
  | ((error: unknown) => boolean)
  | Record<string, unknown>
  | Error;

function check(error: unknown, expected: Expected | undefined, message?: string | Error): void {
  if (expected === undefined) return;
  if (expected instanceof RegExp) {
    if (!expected.test(String(error))) {
      fail(message, `The error ${show(String(error))} does not match ${expected}`);
    }
    return;
  }
  if (typeof expected === "function") {
    if (expected.prototype !== undefined && error instanceof (expected as new () => unknown)) {
      return;
    }
    if (Object.prototype.isPrototypeOf.call(Error, expected) || expected === Error) {
      fail(
        message,
        `The error is expected to be an instance of "${expected.name}"; received ${show(error)}`,
      );
    }
    const ok = (expected as (error: unknown) => boolean)(error);
    if (ok !== true) {
      fail(message, `The validation function returned ${show(ok)} for ${show(error)}`);
    }
    return;
  }
  for (const [key, want] of Object.entries(expected)) {
    const got = (error as Record<string, unknown>)?.[key];
    const matches = want instanceof RegExp && typeof got === "string"
      ? want.test(got)
      : isDeepEqual(got, want);
    if (!matches) {
      fail(message, `The error's ${key} is ${show(got)}, expected ${show(want)}`);
    }
  }
}

function ok(value: unknown, message?: string | Error): void {
  if (!value) fail(message, `The expression evaluated to a falsy value: ${show(value)}`);
}

const methods = {
  AssertionError,
  ok,
  equal(actual: unknown, expected: unknown, message?: string | Error): void {
    if (!Object.is(actual, expected)) {
      fail(
        message,
        `Expected values to be strictly equal:\n${show(actual)} !== ${show(expected)}`,
      );
    }
  },
  strictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    methods.equal(actual, expected, message);
  },
  notEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    if (Object.is(actual, expected)) {
      fail(message, `Expected "actual" to be strictly unequal to: ${show(expected)}`);
    }
  },
  deepEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    if (!isDeepEqual(actual, expected)) {
      fail(
        message,
        `Expected values to be strictly deep-equal:\nactual:   ${show(actual)}\nexpected: ${
          show(expected)
        }`,
      );
    }
  },
  deepStrictEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    methods.deepEqual(actual, expected, message);
  },
  notDeepEqual(actual: unknown, expected: unknown, message?: string | Error): void {
    if (isDeepEqual(actual, expected)) {
      fail(message, `Expected values not to be deep-equal: ${show(actual)}`);
    }
  },
  match(text: string, pattern: RegExp, message?: string | Error): void {
    if (typeof text !== "string" || !pattern.test(text)) {
      fail(message, `The input did not match ${pattern}. Input:\n${show(text)}`);
    }
  },
  doesNotMatch(text: string, pattern: RegExp, message?: string | Error): void {
    if (typeof text !== "string" || pattern.test(text)) {
      fail(message, `The input was expected not to match ${pattern}. Input:\n${show(text)}`);
    }
  },
  fail(message?: string | Error): never {
    return fail(message, "Failed");
  },
  throws(fn: () => unknown, expected?: Expected | string, message?: string | Error): void {
    if (typeof expected === "string") [message, expected] = [expected, undefined];
    try {
      fn();
    } catch (error) {
      check(error, expected, message);
      return;
    }
    fail(message, "Missing expected exception.");
  },
  doesNotThrow(fn: () => unknown, message?: string | Error): void {
    try {
      fn();
    } catch (error) {
      fail(message, `Got unwanted exception: ${show(error)}`);
    }
  },
  async rejects(
    promise: Promise<unknown> | (() => Promise<unknown>),
    expected?: Expected | string,
    message?: string | Error,
  ): Promise<void> {
    if (typeof expected === "string") [message, expected] = [expected, undefined];
    try {
      await (typeof promise === "function" ? promise() : promise);
    } catch (error) {
      check(error, expected, message);
      return;
    }
    fail(message, "Missing expected rejection.");
  },
};

type Assert = typeof ok & typeof methods & { strict: Assert };
const assert = Object.assign(ok, methods, { strict: undefined }) as unknown as Assert;
assert.strict = assert;

export default assert;
export const { equal, deepEqual, match, rejects, throws, notEqual, strict } = assert;
