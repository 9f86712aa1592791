/**
 * The entry a "spawn" child starts from: `deno run` / `bun` runs this file,
 * reads its bootstrap line from stdin, and becomes the child.
 *
 * @module
 */

import "../install.ts";
import { getHost } from "../core/host.ts";
import { runChild } from "../core/_child.ts";

await runChild(await getHost().child.readBootstrap());
