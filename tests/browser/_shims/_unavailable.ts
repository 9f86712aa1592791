/**
 * What a web page does not have, for the `node:` module shims of the
 * contracts in a page: calling it throws, and a contract that needs it
 * skips in a page (see `PAGE` in tests/_helpers.ts).
 *
 * @module
 */

/** A function that throws: `what` is not in a web page. */
export function unavailable(what: string): (...args: unknown[]) => never {
  return () => {
    throw new Error(`${what} is not available in a web page (a test that needs it skips there)`);
  };
}
