/**
 * `deno task docs [TypeDoc options]`: the docs site, TypeDoc's pages then the
 * playground (`<out>/playground/`, see playground/build.ts).
 *
 * TypeDoc runs as its own command, with this config and its lock
 * (lessons/_docs/docs.deno.json), so that its options (`--out <dir>`, ...)
 * are TypeDoc's own and typedoc.json stays its only configuration; the
 * playground goes into the directory TypeDoc wrote (`--out`, else
 * typedoc.json's `"docs"`).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
import { buildPlayground } from "../../playground/build.ts";

/** TypeDoc, pinned: the same specifier as docs.deno.json's and the plugin's. */
export const TYPEDOC = "npm:typedoc@0.28.20";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CONFIG = fileURLToPath(new URL("./docs.deno.json", import.meta.url));

/** The directory TypeDoc writes to: `--out <dir>` / `-o <dir>` / `--out=<dir>`, else `docs`. */
function outDir(args: readonly string[]): string {
  let out = "docs";
  args.forEach((arg, i) => {
    if ((arg === "--out" || arg === "-o") && i + 1 < args.length) out = args[i + 1];
    else if (arg.startsWith("--out=")) out = arg.slice("--out=".length);
  });
  return resolve(ROOT, out);
}

if (import.meta.main) {
  const typedoc = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, TYPEDOC, ...Deno.args],
    cwd: ROOT,
  }).spawn().status;
  if (!typedoc.success) Deno.exit(typedoc.code || 1);
  const playground = await buildPlayground(outDir(Deno.args));
  console.log(`[info] playground generated at ${playground}`);
}
