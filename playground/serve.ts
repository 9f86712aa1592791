/**
 * `deno task playground [--build] [--port N]`: serves the docs site (`docs/`)
 * on 127.0.0.1 with the headers that make the playground cross-origin
 * isolated, and prints its address. Builds the site first (`deno task docs`)
 * when `docs/` has no playground, or with `--build`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { staticHandler } from "./_static.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SITE = join(ROOT, "docs");

const { values } = parseArgs({
  args: Deno.args,
  options: {
    build: { type: "boolean", default: false },
    port: { type: "string", default: "8000" },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a port number: received '${values.port}'`);
  Deno.exit(2);
}

if (values.build || !existsSync(join(SITE, "playground", "index.html"))) {
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["task", "docs"],
    cwd: ROOT,
  }).spawn().status;
  if (!status.success) Deno.exit(status.code || 1);
}

Deno.serve({
  hostname: "127.0.0.1",
  port,
  handler: staticHandler(SITE, true),
  onListen: ({ hostname, port }) => {
    console.log(`Serving docs/ at http://${hostname}:${port}/`);
    console.log(`The playground: http://${hostname}:${port}/playground/index.html`);
  },
});
