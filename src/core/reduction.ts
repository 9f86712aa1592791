/**
 * How a function or a class reaches a child, as Python's spawn pickles one
 * by module and name: the child imports the module that made the call and
 * finds the export with the same name and source. A function that is not
 * exported is rebuilt from its source text and must be self-contained.
 *
 * @module
 */

import { getHost } from "./host.ts";

/** How a child finds a function or class: where to look and what it looks like. */
export interface CallableSpec {
  /** Module URLs to search, nearest caller first. */
  readonly modules: string[];
  /** The function's or class's name. */
  readonly name: string;
  /** Its source text (what `toString()` gives). */
  readonly source: string;
  /**
   * A function of the library itself (a pool worker's or a manager server's
   * loop), found by this name in {@linkcode LIBRARY_TARGETS} rather than in
   * `modules`: a bundled library (a web page's) has no module of its own
   * that exports it.
   */
  readonly library?: LibraryTarget;
}

/**
 * The library's own targets, each loaded by the module that exports it
 * (importing managers.ts also registers the proxies' reducers, which a
 * manager's server needs).
 */
export const LIBRARY_TARGETS: Readonly<
  Record<LibraryTarget, () => Promise<Readonly<Record<string, unknown>>>>
> = {
  poolWorkerLoop: () => import("./_pool_worker.ts"),
  managerServerLoop: () => import("./managers.ts"),
};

/** The name of one of the library's own targets. */
export type LibraryTarget = "poolWorkerLoop" | "managerServerLoop";

const LIBRARY_ROOT = new URL("../", import.meta.url).href;

/** A stack frame's module: a URL (a page's `blob:` ones too), or a bare path (Bun's). */
const FRAME =
  /(?:\(|at\s)((?:blob:)?(?:file|https?|jsr|npm):\/\/[^\s()]+?|\/[^()]+?):\d+:\d+\)?\s*$/;

/**
 * The URLs of the user modules on the current call stack, nearest first:
 * where a child must look for the functions and classes of this call.
 */
export function callerModules(): string[] {
  const limit = (Error as { stackTraceLimit?: number }).stackTraceLimit;
  (Error as { stackTraceLimit?: number }).stackTraceLimit = 64;
  const stack = new Error().stack ?? "";
  (Error as { stackTraceLimit?: number }).stackTraceLimit = limit;
  const modules: string[] = [];
  for (const line of stack.split("\n")) {
    const match = FRAME.exec(line);
    if (!match) continue;
    const url = match[1].startsWith("/") ? fileUrl(match[1]) : match[1];
    if (url.startsWith(LIBRARY_ROOT) || modules.includes(url)) continue;
    modules.push(url);
  }
  return modules;
}

/** Describes a function or class for {@linkcode rebuildCallable}; throws for one that has no source. */
export function describeCallable(
  fn: (...args: never[]) => unknown,
  modules: string[],
): CallableSpec {
  const source = Function.prototype.toString.call(fn);
  if (NATIVE.test(source)) {
    throw new TypeError(
      `the function '${
        fn.name || "<anonymous>"
      }' is native or bound and cannot be rebuilt in another process; ` +
        `pass a function declared in your module instead`,
    );
  }
  return { modules, name: fn.name, source };
}

const NATIVE = /\{\s*\[native code\]\s*\}\s*$/;

function where(spec: CallableSpec): string {
  return spec.modules[0] ?? "the module that started the process";
}

function cannotRebuild(spec: CallableSpec, why: string): TypeError {
  return new TypeError(
    `Cannot rebuild '${spec.name || "<anonymous>"}' in the child: ${why}. ` +
      `Export it from ${
        where(spec)
      } so the child can import it, or pass the values it uses through args`,
  );
}

function fromSource(spec: CallableSpec): (...args: unknown[]) => unknown {
  const source = spec.source;
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw cannotRebuild(spec, "it is a native or bound function, which has no source");
  }
  const indirectEval = eval;
  const attempts = [
    () => indirectEval(`(${source})`),
    () => indirectEval(`({${source}})`)[spec.name],
  ];
  for (const attempt of attempts) {
    try {
      const fn = attempt();
      if (typeof fn === "function") return fn;
    } catch {
      // try the next form
    }
  }
  throw cannotRebuild(spec, "its source text does not compile on its own");
}

function explainMissing(spec: CallableSpec, error: unknown): unknown {
  if (error instanceof ReferenceError) {
    return new ReferenceError(
      `${error.message} in '${
        spec.name || "<anonymous>"
      }', which the child rebuilt from its source ` +
        `because it is not exported from ${
          where(spec)
        }: export it, or pass the values it uses through args`,
      { cause: error },
    );
  }
  return error;
}

/** The modules this process has imported for {@linkcode rebuildCallable}, once imported. */
const imported = new Set<string>();
/** The modules being imported for {@linkcode rebuildCallable} now, first started first. */
const importing: string[] = [];

/**
 * The module this process is importing to find a function, when it is
 * evaluated for the first time here (its top-level code runs), or null: a
 * child importing the module of its target (its bootstrapping phase).
 */
export function moduleBeingImported(): string | null {
  return importing[0] ?? null;
}

async function importModule(url: string): Promise<Record<string, unknown>> {
  if (imported.has(url)) return await import(url);
  importing.push(url);
  try {
    const namespace = await import(url);
    imported.add(url);
    return namespace;
  } finally {
    importing.splice(importing.indexOf(url), 1);
  }
}

/**
 * Finds, in the child, the function or class `spec` describes: the export
 * of one of its modules with the same name and source, else a copy rebuilt
 * from the source whose `ReferenceError`s explain what to do.
 */
export async function rebuildCallable(
  spec: CallableSpec,
): Promise<(...args: unknown[]) => unknown> {
  if (spec.library) {
    const namespace = await LIBRARY_TARGETS[spec.library]();
    return namespace[spec.library] as (...args: unknown[]) => unknown;
  }
  for (const url of spec.modules) {
    const namespace = await importModule(url);
    const named = namespace[spec.name];
    if (typeof named === "function" && Function.prototype.toString.call(named) === spec.source) {
      return named as (...args: unknown[]) => unknown;
    }
    const matches = Object.entries(namespace).filter(([, value]) =>
      typeof value === "function" && Function.prototype.toString.call(value) === spec.source
    );
    if (matches.length > 1) {
      // Closures made by one factory share their source: the child cannot
      // tell which one the parent meant, so it refuses rather than guess.
      throw new TypeError(
        `Cannot tell which function '${spec.name || "<anonymous>"}' is meant: ${
          matches.map(([k]) => k).join(", ")
        } in ${url} have the same source (closures made by one factory?). ` +
          `Export a function declared under its own name, and pass the values the closure captured through args`,
      );
    }
    if (matches.length === 1) return matches[0][1] as (...args: unknown[]) => unknown;
  }
  if (/^class\b/.test(spec.source)) {
    throw cannotRebuild(spec, "classes must be exported (a class is not rebuilt from its source)");
  }
  const rebuilt = fromSource(spec);
  return function (this: unknown, ...args: unknown[]) {
    try {
      const result = rebuilt.apply(this, args);
      if (result instanceof Promise) {
        return result.catch((e) => Promise.reject(explainMissing(spec, e)));
      }
      return result;
    } catch (error) {
      throw explainMissing(spec, error);
    }
  };
}

/**
 * A bare path from a stack trace (Bun's) as the URL its module has, made by
 * the host only then (Deno's traces hold URLs already).
 */
function fileUrl(path: string): string {
  return getHost().fileUrl(path);
}
