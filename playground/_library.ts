/**
 * The library as JavaScript for a web page: `lib/mod.js` (what
 * `@procs/multiprocessing` exports), `lib/browser.js` (the page helpers of
 * `@procs/multiprocessing/browser`) and `lib/worker.js` (the entry of a
 * page's worker children), sharing their modules through chunks, so that a
 * worker that imports the user's program, which imports `lib/mod.js`, has
 * one copy of the library.
 *
 * Built with esbuild (pinned): it bundles TypeScript as it is, splits ES
 * modules into shared chunks (which the page's workers need, see above),
 * and runs as one native binary in well under a second; its JS API works
 * under Deno from npm. Two lines of the sources name files that only exist
 * unbundled and are rewritten for the bundle: the worker entry's URL
 * (`src/adapters/_entries.ts`) and the library's root URL, which tells the
 * library's frames from the user's in a stack (`src/core/reduction.ts`).
 *
 * `deno run -A --config lessons/_docs/docs.deno.json playground/_library.ts <dir>`
 * builds into `<dir>/lib/`.
 *
 * @module
 */

import * as esbuild from "esbuild";
import { fileURLToPath as fromFileUrl } from "node:url";

const ROOT = new URL("../", import.meta.url);

/** Source lines the bundle replaces, each expected exactly once. */
const REWRITES: Record<string, [string, string][]> = {
  "src/adapters/_entries.ts": [[
    'new URL("../child/web_worker_main.ts", import.meta.url)',
    'new URL("./worker.js", import.meta.url)',
  ]],
  "src/core/reduction.ts": [[
    'const LIBRARY_ROOT = new URL("../", import.meta.url).href;',
    'const LIBRARY_ROOT = new URL("./", import.meta.url).href;',
  ]],
};

const rewrites: esbuild.Plugin = {
  name: "procs-browser-paths",
  setup(build) {
    const files = Object.keys(REWRITES).map((file) => fromFileUrl(new URL(file, ROOT)));
    const filter = new RegExp(
      `^(${files.map((f) => f.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|")})$`,
    );
    build.onLoad({ filter }, async (args) => {
      const file = Object.keys(REWRITES).find((f) => fromFileUrl(new URL(f, ROOT)) === args.path)!;
      let source = await Deno.readTextFile(args.path);
      for (const [from, to] of REWRITES[file]) {
        if (source.split(from).length !== 2) {
          throw new Error(
            `${file} no longer holds \`${from}\` once: update playground/_library.ts`,
          );
        }
        source = source.replace(from, to);
      }
      return { contents: source, loader: "ts" };
    });
  },
};

/** Builds the library for a page into `<dir>/lib/`. */
export async function bundleLibrary(dir: string): Promise<void> {
  try {
    await esbuild.build({
      entryPoints: {
        mod: fromFileUrl(new URL("mod.ts", ROOT)),
        browser: fromFileUrl(new URL("src/browser.ts", ROOT)),
        worker: fromFileUrl(new URL("src/child/web_worker_main.ts", ROOT)),
      },
      outdir: `${dir}/lib`,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      // The Deno and Bun hosts are chunks a page never loads; their `node:` imports stay as they are.
      external: ["node:*"],
      chunkNames: "chunk-[hash]",
      sourcemap: "linked",
      // The library names processes after their class (`Process-1`), as CPython does.
      keepNames: true,
      logLevel: "warning",
      plugins: [rewrites],
    });
  } finally {
    await esbuild.stop();
  }
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (!dir) {
    console.error(
      "usage: deno run -A --config lessons/_docs/docs.deno.json playground/_library.ts <dir>",
    );
    Deno.exit(2);
  }
  await bundleLibrary(dir);
  console.log(`built ${dir}/lib/mod.js, browser.js, worker.js`);
}
