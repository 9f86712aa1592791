/**
 * `node:process` in a web page: `pid` is the page's (its workers are
 * threads of it), `env` is empty, `argv` names no program, `exit()` in one
 * of the library's workers ends it with that code (as `process.exit` in a
 * Deno or Bun child does); the rest is not there (see _unavailable.ts).
 *
 * @module
 */
import { currentProcess } from "../../../mod.ts";
import { SystemExit } from "../../../src/core/_exit.ts";
import { unavailable } from "./_unavailable.ts";

const process = {
  get pid(): number {
    return currentProcess().pid ?? 0;
  },
  env: {} as Record<string, string | undefined>,
  argv: ["browser", "page"],
  platform: "browser",
  exit(code = 0): never {
    throw new SystemExit(code);
  },
  kill: unavailable("node:process kill"),
  memoryUsage: unavailable("node:process memoryUsage"),
  on: unavailable("node:process on"),
};
export default process;
