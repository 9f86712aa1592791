/**
 * The dependency rule of the layout: the core owns its contracts
 * (src/core/host.ts) and adapters depend on it, never the reverse. A file
 * under src/core that imports from src/adapters, names `Deno.` or `Bun.`,
 * or imports a `node:` module (statically, dynamically or through
 * `getBuiltinModule`) fails here. Comments are not code: a JSDoc example
 * may import `node:assert`, a comment may name `Deno.exit`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CORE = fileURLToPath(new URL("../src/core/", import.meta.url));

/** Every .ts file under `dir`, recursively, as paths relative to it. */
function tsFiles(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return tsFiles(dir, path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/**
 * The source with its comments blanked out (strings, template literals and
 * regular expressions kept), so rules apply to code only.
 */
export function withoutComments(source: string): string {
  let out = "";
  let i = 0;
  // Whether a `/` here starts a regular expression (after an operator) or divides.
  let regexAllowed = true;
  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end === -1 ? source.length : end + 2;
      out += " ";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < source.length && source[j] !== c) j += source[j] === "\\" ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
      regexAllowed = false;
      continue;
    }
    if (c === "/" && regexAllowed) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== "\n") {
        if (source[j] === "\\") j++;
        else if (source[j] === "[") inClass = true;
        else if (source[j] === "]") inClass = false;
        else if (source[j] === "/" && !inClass) break;
        j++;
      }
      out += source.slice(i, j + 1);
      i = j + 1;
      regexAllowed = false;
      continue;
    }
    if (!/\s/.test(c)) regexAllowed = /[(,=:[!&|?{};+\-*%<>~^]/.test(c);
    out += c;
    i++;
  }
  return out;
}

/** The rules a core file's code must keep, each with what it forbids. */
const RULES: { name: string; pattern: RegExp }[] = [
  { name: "imports from src/adapters", pattern: /["'`][./]*\/adapters\//g },
  { name: "names Deno.", pattern: /(?<![\w$.])Deno\s*\./g },
  { name: "names Bun.", pattern: /(?<![\w$.])Bun\s*\./g },
  { name: "imports a node: module", pattern: /["'`]node:[\w/]+["'`]/g },
];

/** Every rule `source` breaks, as "rule: the code that breaks it". */
function violations(source: string): string[] {
  const code = withoutComments(source);
  return RULES.flatMap(({ name, pattern }) =>
    [...code.matchAll(pattern)].map((m) => `${name}: ${m[0]}`)
  );
}

describe("architecture: src/core depends on no host", () => {
  const files = tsFiles(CORE);

  test("the core has files to check", () => {
    assert.ok(files.includes("host.ts"), "src/core/host.ts holds the host contract");
    assert.ok(files.length > 10);
  });

  for (const file of files) {
    test(`src/core/${file} imports no adapter, names no runtime, imports no node: module`, () => {
      assert.deepEqual(violations(readFileSync(join(CORE, file), "utf8")), []);
    });
  }

  test("each rule catches what it forbids, and comments and strings are not code", () => {
    assert.deepEqual(violations(`import { x } from "../adapters/deno_host.ts";`), [
      `imports from src/adapters: "../adapters/`,
    ]);
    assert.deepEqual(violations(`const e = Deno.env.get("X");`), ["names Deno.: Deno."]);
    assert.deepEqual(violations(`Bun.spawn(["x"]);`), ["names Bun.: Bun."]);
    assert.deepEqual(violations(`const m = await import("node:os");`), [
      `imports a node: module: "node:os"`,
    ]);
    assert.deepEqual(violations(`p.getBuiltinModule('node:url')`), [
      `imports a node: module: 'node:url'`,
    ]);
    assert.deepEqual(
      violations(`// Deno.exit\n/** import x from "node:os"; Bun.spawn */\nconst s = "a//b";`),
      [],
    );
    assert.deepEqual(violations(`const r = /a\/\/b/; const u = "tcp://h:1"; x.Deno.y;`), []);
  });
});
