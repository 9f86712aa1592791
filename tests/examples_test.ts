/**
 * Every `@example` in the JSDoc of mod.ts and src/: it is one ```` ```ts ````
 * block that asserts with `node:assert/strict` (never `console.assert`, which
 * only logs), it type-checks (`deno check`, under Deno), and it runs as a
 * program of its own to exit code 0 — with `deno run -A` when this file runs
 * under `deno test`, with `bun` when it runs under `bun test`.
 *
 * Each block is written to `.examples-out/<pid>/` (gitignored) with its
 * `"@procs/multiprocessing"` imports pointed at this repository's mod.ts, so
 * it is a real module: the children an example starts import it by its URL,
 * as they import any user's program. The programs run a few at a time.
 *
 * Not `deno test --doc`: it wraps each block in a test function inside a
 * module whose URL (`connection.ts#436-446.ts`) a child cannot import, so
 * an example that starts a process (an exported target under
 * `if (import.meta.main)`, as the docs teach) cannot run there; and it is
 * Deno's alone.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import process from "node:process";
import { rewriteImports } from "../lessons/_runner/program.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OUT_DIR = join(ROOT, ".examples-out", String(process.pid));
const RUNTIME: "deno" | "bun" = "Bun" in globalThis ? "bun" : "deno";
/** How many example programs run at once (each may start children of its own). */
const CONCURRENCY = 4;
/** A program still running after this long is killed and fails (none comes near it). */
const RUN_LIMIT_MS = 90_000;

/** One fenced code block of an `@example` tag. */
interface Example {
  /** The source file, relative to the repository root. */
  file: string;
  /** The line of the `@example` tag (1-based). */
  line: number;
  /** The fence's info string (`ts`, `ts ignore`, ...), or null when the tag has no block. */
  info: string | null;
  /** The block's code, with the comment's `*` gutter removed. */
  code: string;
}

/** mod.ts and every .ts file under src/, relative to the repository root. */
function sourceFiles(): string[] {
  const files = ["mod.ts"];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  walk("src");
  return files.sort();
}

/**
 * The `@example` blocks of one file's JSDoc comments: a tag's section runs
 * until the next tag outside a code fence or the comment's end.
 */
function extractExamples(file: string, text: string): Example[] {
  const examples: Example[] = [];
  const lines = text.split("\n");
  let inDoc = false;
  let tag: { line: number; blocks: number } | null = null;
  let fence: { info: string; code: string[] } | null = null;
  const closeTag = (): void => {
    if (tag && tag.blocks === 0) examples.push({ file, line: tag.line, info: null, code: "" });
    tag = null;
  };
  lines.forEach((raw, i) => {
    if (!inDoc) {
      if (/^\s*\/\*\*/.test(raw) && !/\*\/\s*$/.test(raw)) inDoc = true;
      return;
    }
    if (/^\s*\*\/\s*$/.test(raw)) {
      closeTag();
      fence = null;
      inDoc = false;
      return;
    }
    const line = raw.replace(/^\s*\* ?/, "");
    if (fence) {
      if (/^```\s*$/.test(line)) {
        if (tag) {
          tag.blocks++;
          examples.push({ file, line: tag.line, info: fence.info, code: fence.code.join("\n") });
        }
        fence = null;
      } else {
        fence.code.push(line);
      }
      return;
    }
    const opening = /^```(.*)$/.exec(line);
    if (opening) {
      fence = { info: opening[1].trim(), code: [] };
      return;
    }
    if (/^@\w+/.test(line)) {
      closeTag();
      if (/^@example\b/.test(line)) tag = { line: i + 1, blocks: 0 };
    }
  });
  return examples;
}

/** Every `@example` block of mod.ts and src/. */
function allExamples(): Example[] {
  return sourceFiles().flatMap((file) =>
    extractExamples(file, readFileSync(join(ROOT, file), "utf8"))
  );
}

/** Where an example is, as `src/core/pool.ts:346`. */
const where = (example: Example): string => `${example.file}:${example.line}`;

/** What is wrong with an example's form, or null: one `ts` block that asserts with node:assert. */
function exampleProblem(example: Example): string | null {
  if (example.info === null) return "has no code block";
  if (example.info !== "ts") {
    return `is fenced as \`${example.info}\`: an example is a \`ts\` block that runs (no ignore)`;
  }
  if (example.code.includes("console.assert")) {
    return "uses console.assert, which only logs: assert with node:assert/strict";
  }
  if (!/^import assert from "node:assert\/strict";$/m.test(example.code)) {
    return 'does not import assert from "node:assert/strict"';
  }
  if (!/\bassert(\.\w+)?\(/.test(example.code)) return "asserts nothing";
  return null;
}

const examples = allExamples();
/** The examples of the right form: the ones that are checked and run. */
const runnable = examples.filter((example) => exampleProblem(example) === null);

test("every @example is a ts block that asserts with node:assert/strict", () => {
  assert.ok(
    examples.length >= 60,
    `only ${examples.length} examples found: is the extractor broken?`,
  );
  const problems = examples.flatMap((example) => {
    const problem = exampleProblem(example);
    return problem === null ? [] : [`${where(example)}: the example ${problem}`];
  });
  assert.deepEqual(problems, []);
});

test("the example checker rejects console.assert, ignore and examples that assert nothing", () => {
  const text = [
    "/**",
    " * A thing.",
    " *",
    " * @example Fine",
    " * ```ts",
    ' * import assert from "node:assert/strict";',
    " * assert.equal(1 + 1, 2);",
    " * ```",
    " * @example",
    " * ```ts",
    " * console.assert(1 + 1 === 2);",
    " * ```",
    " * @example",
    " * ```ts ignore",
    ' * import assert from "node:assert/strict";',
    " * assert.ok(true);",
    " * ```",
    " * @example",
    " * ```ts",
    ' * import assert from "node:assert/strict";',
    " * console.log(1);",
    " * ```",
    " * @example No code",
    " * @param x it",
    " */",
  ].join("\n");
  const found = extractExamples("x.ts", text);
  assert.deepEqual(found.map((e) => [e.line, e.info]), [
    [4, "ts"],
    [9, "ts"],
    [13, "ts ignore"],
    [18, "ts"],
    [23, null],
  ]);
  assert.equal(found[0].code, 'import assert from "node:assert/strict";\nassert.equal(1 + 1, 2);');
  assert.deepEqual(found.map(exampleProblem), [
    null,
    "uses console.assert, which only logs: assert with node:assert/strict",
    "is fenced as `ts ignore`: an example is a `ts` block that runs (no ignore)",
    "asserts nothing",
    "has no code block",
  ]);
});

/** The file each example is written to, by example. */
let written: Map<Example, string> | undefined;
/** Writes every runnable example as a module under OUT_DIR (once). */
const writeExamples = (): Map<Example, string> => {
  if (written) return written;
  written = new Map();
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [i, example] of runnable.entries()) {
    const stem = example.file.replace(/\.ts$/, "").replaceAll("/", "_");
    const name = `${stem}_${example.line}_${i}.ts`;
    const path = join(OUT_DIR, name);
    writeFileSync(path, `${rewriteImports(example.code)}\n`);
    written.set(example, path);
  }
  return written;
};

after(() => rmSync(OUT_DIR, { recursive: true, force: true }));

/** A finished program: its exit code (null if a signal ended it) and its output. */
interface Run {
  code: number | null;
  output: string;
}

/** Runs `args` with this runtime from the repository root; kills it after RUN_LIMIT_MS. */
function runHere(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let output = "";
  const decoder = new TextDecoder();
  child.stdout.on("data", (d: Uint8Array) => (output += decoder.decode(d)));
  child.stderr.on("data", (d: Uint8Array) => (output += decoder.decode(d)));
  const limit = setTimeout(() => {
    output += `\n[killed: still running after ${RUN_LIMIT_MS} ms]`;
    child.kill("SIGKILL");
  }, RUN_LIMIT_MS);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(limit);
      resolve({ code, output });
    });
  });
}

/** The command line that runs one example program with this runtime. */
const runArgs = (path: string): string[] => RUNTIME === "deno" ? ["run", "-A", path] : [path];

let runs: Map<Example, Promise<Run>> | undefined;
/** Starts every example program, CONCURRENCY at a time (once); each test awaits its own. */
const startRuns = (): Map<Example, Promise<Run>> => {
  if (runs) return runs;
  const files = writeExamples();
  runs = new Map();
  let slots = CONCURRENCY;
  const waiting: (() => void)[] = [];
  const slot = async (): Promise<void> => {
    if (slots > 0) slots--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else slots++;
  };
  for (const example of runnable) {
    runs.set(
      example,
      slot().then(() => runHere(runArgs(files.get(example)!)).finally(release)),
    );
  }
  return runs;
};

describe(`every @example runs under ${RUNTIME}`, () => {
  if (RUNTIME === "deno") {
    test("every @example type-checks (deno check)", async () => {
      const files = [...writeExamples().values()];
      const run = await runHere(["check", "--quiet", ...files]);
      assert.equal(run.code, 0, `deno check failed:\n${run.output}`);
    });
  }

  for (const example of runnable) {
    test(`${where(example)}`, async () => {
      const run = await startRuns().get(example)!;
      const file = relative(ROOT, writeExamples().get(example)!);
      assert.equal(
        run.code,
        0,
        `the example at ${where(example)} (run as ${file}) exited with ${run.code}:\n${run.output}`,
      );
    });
  }
});
