/**
 * Reads a lesson file (`lessons/NN_slug.md`) into its program, its expected
 * output and its settings. The format is described in lessons/_runner/README.md.
 *
 * @module
 */

import { fromMarkdown } from "mdast-util-from-markdown";
import { visit } from "unist-util-visit";
import { basename, join } from "node:path";
import { readdirSync, readFileSync } from "node:fs";

/** A start method a lesson can run under. */
export type StartMethod = "spawn" | "worker";

/** Every start method, in the order lessons run under them. */
export const START_METHODS: readonly StartMethod[] = ["spawn", "worker"];

/** A lesson, as read from its Markdown file. */
export interface Lesson {
  /** The file name without `.md`: `"03_pipe_pid"`. */
  id: string;
  /** The file's path. */
  path: string;
  /** The title from the first heading `# NN. Title`. */
  title: string;
  /** The program: the first fenced code block with lang `ts`. */
  program: string;
  /** The 1-based line of the Markdown file where the program's fence opens. */
  programLine: number;
  /** The expected output: the first `text` block after a paragraph starting "Expected output". */
  expected: string;
  /** The 1-based line of the Markdown file where the expected output's fence opens. */
  expectedLine: number;
  /** Whether stderr is compared too ("Expected output (stdout and stderr):"). */
  mergeStderr: boolean;
  /** The start methods the lesson runs under (`<!-- start-methods: spawn -->`); both by default. */
  startMethods: StartMethod[];
  /** The exit code the program must end with (`<!-- exit-code: 1 -->`); 0 by default. */
  exitCode: number;
}

/** Thrown when a lesson file does not follow the format. */
export class LessonFormatError extends Error {
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "LessonFormatError";
  }
}

/** The names lesson files have: two digits, an underscore, a slug. */
export const LESSON_FILE = /^(\d\d)_[A-Za-z0-9_-]+\.md$/;

const HEADING = /^(\d\d)\.\s+(\S.*)$/;
const EXPECTED_PARAGRAPH = /^expected output/i;
const MERGED_PARAGRAPH = /^expected output\s*\(\s*stdout and stderr\s*\)/i;
const COMMENT = /<!--\s*([a-z-]+)\s*:\s*(.*?)\s*-->/gi;

/** The lesson files of a directory, sorted by name. */
export function findLessons(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && LESSON_FILE.test(entry.name))
    .map((entry) => join(dir, entry.name))
    .sort();
}

/** Reads and parses a lesson file. */
export function readLesson(path: string): Lesson {
  return parseLesson(readFileSync(path, "utf8"), path);
}

interface AnyNode {
  type: string;
  value?: string;
  children?: AnyNode[];
}

function plainText(node: AnyNode): string {
  if (node.type === "text" || node.type === "inlineCode") return node.value ?? "";
  return (node.children ?? []).map(plainText).join("");
}

/** Parses the Markdown of a lesson; `path` names it in errors and gives its id. */
export function parseLesson(markdown: string, path: string): Lesson {
  const fail = (message: string): never => {
    throw new LessonFormatError(path, message);
  };
  const id = basename(path).replace(/\.md$/, "");
  const fileNumber = LESSON_FILE.exec(basename(path))?.[1] ?? null;

  const found: {
    title: string | null;
    program: { text: string; line: number } | null;
    expected: { text: string; line: number; merged: boolean } | null;
    expecting: { merged: boolean } | null;
  } = { title: null, program: null, expected: null, expecting: null };
  const settings = new Map<string, string>();

  visit(fromMarkdown(markdown), (node) => {
    const line = node.position?.start.line ?? 0;
    if (node.type === "heading" && found.title === null) {
      const text = plainText(node).trim();
      const heading = HEADING.exec(text);
      if (node.depth !== 1 || !heading) {
        return fail(
          `line ${line}: the first heading must be '# NN. Title', found '${
            "#".repeat(node.depth)
          } ${text}'`,
        );
      }
      if (fileNumber !== null && heading[1] !== fileNumber) {
        fail(`line ${line}: the heading is numbered ${heading[1]} but the file ${fileNumber}`);
      }
      found.title = heading[2];
    } else if (node.type === "paragraph" && found.expected === null) {
      const text = plainText(node).trim();
      if (EXPECTED_PARAGRAPH.test(text)) found.expecting = { merged: MERGED_PARAGRAPH.test(text) };
    } else if (node.type === "code") {
      if (node.lang === "ts" && found.program === null) found.program = { text: node.value, line };
      if (node.lang === "text" && found.expecting !== null && found.expected === null) {
        found.expected = { text: node.value, line, merged: found.expecting.merged };
      }
    } else if (node.type === "html") {
      for (const [, key, value] of node.value.matchAll(COMMENT)) {
        const name = key.toLowerCase();
        if (settings.has(name)) fail(`line ${line}: '<!-- ${name}: ... -->' is given twice`);
        settings.set(name, value);
      }
    }
  });

  const { title, program, expected } = found;
  if (title === null) return fail("no heading '# NN. Title'");
  if (program === null) {
    return fail("no program: the first fenced code block with lang 'ts' is the program");
  }
  if (expected === null) {
    return fail(
      "no expected output: a ```text block after a paragraph starting 'Expected output:'",
    );
  }

  let startMethods = [...START_METHODS];
  const methods = settings.get("start-methods");
  if (methods !== undefined) {
    const names = methods.split(/[\s,]+/).filter((name) => name !== "");
    const unknown = names.filter((name) => !START_METHODS.includes(name as StartMethod));
    if (names.length === 0 || unknown.length > 0) {
      fail(
        `'<!-- start-methods: ${methods} -->' must list start methods among ${
          START_METHODS.join(", ")
        }`,
      );
    }
    startMethods = START_METHODS.filter((method) => names.includes(method));
  }
  let exitCode = 0;
  const code = settings.get("exit-code");
  if (code !== undefined) {
    if (!/^\d+$/.test(code)) fail(`'<!-- exit-code: ${code} -->' must give a non-negative integer`);
    exitCode = Number(code);
  }

  return {
    id,
    path,
    title,
    program: program.text,
    programLine: program.line,
    expected: expected.text,
    expectedLine: expected.line,
    mergeStderr: expected.merged,
    startMethods,
    exitCode,
  };
}
