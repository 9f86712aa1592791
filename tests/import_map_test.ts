/**
 * The root deno.json and deno.lock hold only what the lessons import. Every
 * `deno task` (the lessons' too) first downloads every npm package of the
 * root import map and lock, so a package only the docs site or the
 * benchmarks use lives in their own config (lessons/_docs/docs.deno.json,
 * bench/bench.deno.json, each with its lock beside it, passed with `--config` by
 * `deno task docs` and `deno task bench`): `npx --yes deno@2.9.6 task lessons`
 * on a fresh machine downloads the lessons' Markdown parser and nothing else.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** A JSON file of the repository, parsed. */
const json = (path: string) => JSON.parse(readFileSync(`${ROOT}${path}`, "utf8"));

/** The npm specifiers of an import map, by bare name. */
const npmImports = (path: string): Map<string, string> =>
  new Map(
    Object.entries<string>(json(path).imports ?? {}).filter(([, to]) => to.startsWith("npm:")),
  );

/** The bare names the lessons' runner imports. */
const runnerImports = (): Set<string> => {
  const dir = `${ROOT}lessons/_runner/`;
  const names = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const source = readFileSync(dir + file, "utf8");
    for (const [, name] of source.matchAll(/\bfrom "([^".][^"]*)"/g)) {
      if (!name.startsWith("node:")) names.add(name);
    }
  }
  return names;
};

test("the root import map has only the npm packages the lessons' runner imports", () => {
  const imports = npmImports("deno.json");
  assert.deepEqual([...imports.keys()].sort(), [...runnerImports()].sort());
});

test("the root deno.lock pins only the root import map's npm packages", () => {
  const pinned = Object.keys(json("deno.lock").specifiers ?? {}).sort();
  assert.deepEqual(pinned, [...npmImports("deno.json").values()].sort());
});

test("the docs and the benchmarks pin their npm packages in their own config and lock", () => {
  const config = json("deno.json");
  assert.match(config.tasks.docs, /--config lessons\/_docs\/docs\.deno\.json /);
  assert.match(config.tasks.bench, /--config bench\/bench\.deno\.json /);
  for (
    const [path, names] of [
      [
        "lessons/_docs/docs.deno.json",
        [
          // TypeDoc; the lessons' parser, which the playground's build reads the lessons with
          "typedoc",
          "mdast-util-from-markdown",
          "unist-util-visit",
          // the playground: its bundler, editor, TypeScript stripper, service worker, test driver
          "esbuild",
          "codemirror",
          "@codemirror/lang-javascript",
          "@codemirror/state",
          "@codemirror/view",
          "sucrase",
          "coi-serviceworker",
          "playwright-core",
        ],
      ],
      ["bench/bench.deno.json", ["piscina", "tinybench", "tinypool", "workerpool"]],
    ] as const
  ) {
    const imports = npmImports(path);
    assert.deepEqual([...imports.keys()].sort(), [...names].sort(), path);
    const lock = json(path.replace(/[^/]*$/, "deno.lock"));
    assert.deepEqual(Object.keys(lock.specifiers).sort(), [...imports.values()].sort(), path);
  }
});
