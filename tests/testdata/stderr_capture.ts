/**
 * Where a test sends what the library writes to stderr when it makes a
 * process fail on purpose (a child's "Process <name>:" and stack, a pool's
 * "a pool callback threw", a server's "dropped a connection"): to a file or
 * a string the test reads and asserts, instead of the test run's output.
 * Only the sink changes; what the library writes, and when, stays the same.
 *
 * @module
 */

import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getHost } from "../../src/core/host.ts";

/**
 * From now on what the library writes to this process's (or this worker
 * thread's) stderr is appended to the file `path` instead. Called first
 * thing in a child's target, or in a manager's server through a registered
 * callable.
 */
export function captureStderr(path: string): true {
  getHost().writeStderr = (text: string) => appendFileSync(path, text);
  return true;
}

/** A fresh file for `captureStderr()`, removed when disposed. */
export class StderrFile implements Disposable {
  readonly #dir = mkdtempSync(join(tmpdir(), "procs-stderr-"));
  /** The file a child's stderr goes to. */
  readonly path: string = join(this.#dir, "stderr.txt");

  /** What was written so far ("" if nothing). */
  read(): string {
    try {
      return readFileSync(this.path, "utf8");
    } catch {
      return "";
    }
  }

  [Symbol.dispose](): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** Runs `fn` with this process's library stderr kept in a string; returns both. */
export async function capturingStderr<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; stderr: string }> {
  const host = getHost();
  const write = host.writeStderr;
  let stderr = "";
  host.writeStderr = (text: string) => void (stderr += text);
  try {
    return { value: await fn(), stderr };
  } finally {
    host.writeStderr = write;
  }
}
