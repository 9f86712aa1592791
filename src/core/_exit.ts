/**
 * `exit()` in a child, as Python's `sys.exit()`: it raises `SystemExit`, so
 * the child still delivers what it sent before it ends (CPython flushes on
 * `sys.exit()`; only `os._exit()` skips that).
 *
 * @module
 */

/** Thrown by `process.exit()` / `Deno.exit()` in a child; the child exits with `code` after flushing. */
export class SystemExit extends Error {
  /** The exit code asked for. */
  readonly code: number;
  constructor(code: number) {
    super(`exit(${code})`);
    this.name = "SystemExit";
    this.code = code;
  }
}
