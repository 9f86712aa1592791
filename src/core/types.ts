/**
 * The types that tie a call's arguments to the function it calls: the
 * `args` (and `kwargs`) of `new Process({ target, args })`,
 * `pool.apply(fn, args)`, `pool.applyAsync(fn, args)`,
 * `pool.starmap(fn, items)` and `new Pool({ initializer, initargs })` are
 * checked against the function's parameters, and results take its return
 * type. Nothing here exists at run time.
 *
 * As in Python, keyword arguments (`kwargs`) reach the function as one
 * trailing object: `fn(...args, kwargs)`. So `kwargs` is accepted only
 * when the function's last parameter takes an object, and `args` then gives
 * the parameters before it.
 *
 * A function typed `(...args: never[]) => unknown` (see
 * {@linkcode AnyFunction}) has parameters nobody declared: calls through it
 * check nothing (`args` is any array, `kwargs` any object), as for
 * arguments built at run time.
 *
 * @example Arguments are checked against the function
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Arguments } from "@procs/multiprocessing";
 *
 * function add(a: number, b: number) {
 *   return a + b;
 * }
 * const ok: Arguments<Parameters<typeof add>> = [[1, 2]];
 * // @ts-expect-error: "1" is not a number
 * const wrong: Arguments<Parameters<typeof add>> = [["1", 2]];
 * assert.deepEqual([ok, wrong], [[[1, 2]], [["1", 2]]]);
 * ```
 *
 * @module
 */

/**
 * Any function, whatever its parameters: what a target, task or
 * initializer may be when nothing more is known about it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AnyFunction } from "@procs/multiprocessing";
 * const f: AnyFunction = (a: number, b: string) => a + b;
 * assert.equal(typeof f, "function");
 * ```
 */
export type AnyFunction = (...args: never[]) => unknown;

/**
 * `true` when `A` are the parameters of {@linkcode AnyFunction}
 * (`never[]`): nobody declared them, so the arguments are not checked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Undeclared } from "@procs/multiprocessing";
 * const loose: Undeclared<never[]> = true;
 * const typed: Undeclared<[a: number]> = false;
 * assert.deepEqual([loose, typed], [true, false]);
 * ```
 */
export type Undeclared<A extends readonly unknown[]> = number extends A["length"]
  ? [A[number]] extends [never] ? true : false
  : false;

/**
 * The parameters `A` split for a call with keyword arguments: the
 * positional ones and the last one, which takes the `kwargs` object;
 * `never` when the last parameter does not take an object (or there is
 * none). A rest parameter (`...values: unknown[]`) takes the `kwargs` last
 * when its items may be objects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KeywordSplit } from "@procs/multiprocessing";
 * const split: KeywordSplit<[n: number, options?: { loud?: boolean }]> = [[1], { loud: true }];
 * assert.deepEqual(split, [[1], { loud: true }]);
 * ```
 */
export type KeywordSplit<A extends readonly unknown[]> = number extends A["length"]
  ? A extends readonly (infer E)[] ? KeywordParameter<E, [positional: A, kwargs: E]> : never
  : Required<A> extends readonly [...infer P, infer K]
    ? KeywordParameter<K, [positional: P, kwargs: K]>
  : never;

/**
 * `Split` when a parameter of type `K` may take a `kwargs` object: an
 * object of values, not a function nor an object with methods (a
 * `Connection`, a queue, a lock: those are positional arguments);
 * `never` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Connection, KeywordParameter } from "@procs/multiprocessing";
 * const yes: KeywordParameter<{ x: number }, "yes"> = "yes";
 * const no: KeywordParameter<number, "yes"> = undefined as never;
 * const handle: KeywordParameter<Connection, "yes"> = undefined as never;
 * assert.deepEqual([yes, no, handle], ["yes", undefined, undefined]);
 * ```
 */
export type KeywordParameter<K, Split> = unknown extends K ? Split
  : [K] extends [AnyFunction] ? never
  : [Extract<K, object>] extends [never] ? never
  : [MethodKeys<Extract<K, object>>] extends [never] ? Split
  : never;

/**
 * The keys of `T` whose values are always functions (its methods).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MethodKeys } from "@procs/multiprocessing";
 * const key: MethodKeys<{ n: number; run(): void }> = "run";
 * assert.equal(key, "run");
 * ```
 */
export type MethodKeys<T> = {
  [P in keyof T]-?: T[P] extends AnyFunction ? P : never;
}[keyof T];

/**
 * The `args` a function with parameters `A` may be called with: required
 * when it has required parameters, optional otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PositionalArguments } from "@procs/multiprocessing";
 * const some: PositionalArguments<[a: number]> = { args: [1] };
 * const none: PositionalArguments<[a?: number]> = {};
 * assert.deepEqual([some, none], [{ args: [1] }, {}]);
 * ```
 */
export type PositionalArguments<A extends readonly unknown[]> = [] extends A
  ? { args?: Readonly<A>; kwargs?: undefined }
  : { args: Readonly<A>; kwargs?: undefined };

/**
 * The `args` and `kwargs` of `new Process({ target, args, kwargs })` for
 * a target with parameters `A`: `target(...args)`, or
 * `target(...args, kwargs)` when its last parameter takes an object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TargetArguments } from "@procs/multiprocessing";
 * type Params = [name: string, options: { loud: boolean }];
 * const all: TargetArguments<Params> = { args: ["kel", { loud: true }] };
 * const kw: TargetArguments<Params> = { args: ["kel"], kwargs: { loud: true } };
 * assert.deepEqual(kw.kwargs, { loud: true });
 * assert.equal(all.args.length, 2);
 * ```
 */
export type TargetArguments<A extends readonly unknown[]> = Undeclared<A> extends true
  ? { args?: readonly unknown[]; kwargs?: Record<string, unknown> }
  :
    | PositionalArguments<A>
    | ([KeywordSplit<A>] extends [never] ? never
      : KeywordSplit<A> extends [infer P extends unknown[], infer K]
        ? { args: Readonly<P>; kwargs: K }
      : never);

/**
 * The arguments after `fn` of `pool.apply(fn, args?, kwargs?)` for a
 * function with parameters `A`: `[args]`, or `[args, kwargs]` when its last
 * parameter takes an object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Arguments } from "@procs/multiprocessing";
 * const none: Arguments<[]> = [];
 * const kw: Arguments<[n: number, options: { x: number }]> = [[1], { x: 2 }];
 * assert.deepEqual([none, kw], [[], [[1], { x: 2 }]]);
 * ```
 */
export type Arguments<A extends readonly unknown[]> = Undeclared<A> extends true
  ? [args?: readonly unknown[], kwargs?: Record<string, unknown>]
  :
    | ([] extends A ? [args?: Readonly<A>] : [args: Readonly<A>])
    | ([KeywordSplit<A>] extends [never] ? never
      : KeywordSplit<A> extends [infer P extends unknown[], infer K]
        ? [args: Readonly<P>, kwargs: K]
      : never);

/**
 * One item of `pool.starmap(fn, items)` for a function with parameters
 * `A`: its arguments, as an array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StarItem } from "@procs/multiprocessing";
 * const item: StarItem<[a: number, b: number]> = [1, 2];
 * assert.deepEqual(item, [1, 2]);
 * ```
 */
export type StarItem<A extends readonly unknown[]> = Undeclared<A> extends true ? readonly unknown[]
  : Readonly<A>;

/**
 * One item of `pool.map(fn, items)` for a function whose first parameter
 * is `T`: `unknown` when the function's parameters are undeclared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MapItem } from "@procs/multiprocessing";
 * const item: MapItem<number> = 1;
 * const any: MapItem<never> = "anything";
 * assert.deepEqual([item, any], [1, "anything"]);
 * ```
 */
export type MapItem<T> = [T] extends [never] ? unknown : T;
