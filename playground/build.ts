/**
 * Builds the playground into `<site>/playground/`: the page (index.html, its
 * script and style bundled with esbuild), the runner worker, `lessons.json`,
 * coi-serviceworker's script, and the library's page bundle (`lib/`, from
 * playground/_library.ts).
 *
 * Runs under Deno with lessons/_docs/docs.deno.json, whose pinned npm
 * packages Deno installs into lessons/_docs/node_modules/ (its
 * `"nodeModulesDir": "auto"`): esbuild resolves the page's imports there.
 * `deno task docs` calls it after TypeDoc; by hand:
 * `deno run -A --config lessons/_docs/docs.deno.json playground/build.ts <site>`.
 *
 * @module
 */

import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { playgroundLessons } from "./_lessons.ts";
import { bundleLibrary } from "./_library.ts";

const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/** Where Deno installs the docs config's npm packages. */
const NODE_MODULES = here("../lessons/_docs/node_modules");

/**
 * Writes the playground into `<site>/playground/`.
 *
 * @param site The docs site's directory (`docs/`).
 * @returns The playground's directory.
 */
export async function buildPlayground(site: string): Promise<string> {
  const out = join(site, "playground");
  await mkdir(out, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: {
        app: here("_app/main.ts"),
        runner: here("_app/runner.ts"),
        "app-style": here("_app/style.css"),
      },
      outdir: out,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "none",
      nodePaths: [NODE_MODULES],
      logLevel: "warning",
    });
  } finally {
    await esbuild.stop();
  }
  await copyFile(here("index.html"), join(out, "index.html"));
  await copyFile(
    join(NODE_MODULES, "coi-serviceworker/coi-serviceworker.js"),
    join(out, "coi-serviceworker.js"),
  );
  const lessons = playgroundLessons(here("../lessons"));
  await writeFile(join(out, "lessons.json"), JSON.stringify(lessons, null, 1));
  await bundleLibrary(out);
  return out;
}

if (import.meta.main) {
  const site = Deno.args[0] ?? "docs";
  console.log(`playground: ${await buildPlayground(site)}`);
}
