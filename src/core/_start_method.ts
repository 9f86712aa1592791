import type { StartMethod } from "./host.ts";
import { ValueError } from "./errors.ts";
import { getHost } from "./host.ts";

/** Every start method, the default first. */
export const START_METHODS: readonly StartMethod[] = ["spawn", "worker"];

let chosen: StartMethod | null = null;

/** Checks a start method name, with CPython's message for an unknown one. */
export function checkStartMethod(method: unknown): StartMethod {
  if (!START_METHODS.includes(method as StartMethod)) {
    throw new ValueError(
      `Cannot find context for '${String(method)}': the start methods are ${
        START_METHODS.map((m) => `'${m}'`).join(", ")
      }`,
    );
  }
  const unavailable = getHost().launchers[method as StartMethod].unavailable;
  if (unavailable) {
    throw new ValueError(
      `The '${String(method)}' start method is not available here: ${unavailable}`,
    );
  }
  return method as StartMethod;
}

/** The start methods this host can use, in the order of {@linkcode START_METHODS}. */
export function availableStartMethods(): StartMethod[] {
  const launchers = getHost().launchers;
  return START_METHODS.filter((method) => !launchers[method].unavailable);
}

/** The environment variable that picks the default start method, if set. */
export const START_METHOD_ENV = "PROCS_MP_START_METHOD";

function fromEnvironment(): StartMethod | null {
  try {
    const value = getHost().env(START_METHOD_ENV);
    return value ? checkStartMethod(value) : null;
  } catch (error) {
    if (error instanceof ValueError) throw error;
    return null; // no permission to read the environment: use the default
  }
}

/**
 * The default start method; fixed on first use unless set: to the value of
 * `PROCS_MP_START_METHOD` when it names one, else "spawn".
 */
export function defaultStartMethod(allowNone = false): StartMethod | null {
  if (chosen === null && !allowNone) chosen = fromEnvironment() ?? availableStartMethods()[0];
  return chosen;
}

/** Sets the default start method (CPython's `set_start_method`). */
export function setDefaultStartMethod(method: StartMethod | null, force: boolean): void {
  if (chosen !== null && !force) {
    throw new ValueError(
      `The context has already been set to '${chosen}': pass { force: true } to change it`,
    );
  }
  chosen = method === null ? null : checkStartMethod(method);
}
