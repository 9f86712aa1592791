/**
 * The lesson runner: runs every lesson (`lessons/NN_slug.md`) under each
 * runtime and start method asked for, and checks its output.
 *
 * ```sh
 * deno task lessons                          # every lesson, Deno, both start methods
 * deno task lesson 03                        # lesson 03 only, its output shown live
 * deno task lessons --runtime both --method spawn
 * deno run -A lessons/_runner/main.ts some/lesson.md   # given files instead of lessons/
 * ```
 *
 * Prints one line per lesson, runtime and start method, a diff for each
 * failure, and `lessons: N passed, M failed`; exits 1 when any failed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { checkLesson } from "./check.ts";
import {
  findLessons,
  type Lesson,
  LessonFormatError,
  readLesson,
  START_METHODS,
  type StartMethod,
} from "./parse.ts";
import { formatFailure, formatFormatError, formatRunLine, formatSummary } from "./report.ts";
import { DEFAULT_TIMEOUT_MS, killRunning, type Runtime, RUNTIMES } from "./run.ts";

/** The folder lessons live in. */
export const LESSONS_DIR: string = fileURLToPath(new URL("../", import.meta.url));

const USAGE = `Usage: deno task lessons [options] [lesson.md ...]

Runs every lessons/NN_slug.md (or the files given) and checks its output.

Options:
  --only <NN|text>          only the lessons numbered NN or whose name contains text;
                            their programs' output is shown as it comes
  --runtime deno|bun|both   the runtimes to run under (default: deno)
  --method spawn|worker|both
                            the start methods to run under (default: both)
  --timeout <seconds>       kill a program that runs longer (default: ${DEFAULT_TIMEOUT_MS / 1000})
  -h, --help                show this help`;

/** The command line, understood. */
export interface Settings {
  only: string | null;
  runtimes: Runtime[];
  methods: StartMethod[];
  timeoutMs: number;
  files: string[];
}

/** Reads the command line; throws an `Error` whose message says what is wrong. */
export function parseCommandLine(args: string[]): Settings | "help" {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      only: { type: "string" },
      runtime: { type: "string", default: "deno" },
      method: { type: "string", default: "both" },
      timeout: { type: "string", default: String(DEFAULT_TIMEOUT_MS / 1000) },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  const pick = <T extends string>(flag: string, value: string, all: readonly T[]): T[] => {
    if (value === "both") return [...all];
    if (all.includes(value as T)) return [value as T];
    throw new Error(`--${flag} must be ${all.join(", ")} or both: received '${value}'`);
  };
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) {
    throw new Error(`--timeout must be a positive number of seconds: received '${values.timeout}'`);
  }
  return {
    only: values.only ?? null,
    runtimes: pick("runtime", values.runtime, RUNTIMES),
    methods: pick("method", values.method, START_METHODS),
    timeoutMs: timeout * 1000,
    files: positionals,
  };
}

/** Whether a lesson file is picked by `--only`: its number, or a part of its name. */
export function isPicked(id: string, only: string): boolean {
  if (/^\d{1,2}$/.test(only)) return id.startsWith(`${only.padStart(2, "0")}_`);
  return id.toLowerCase().includes(only.toLowerCase());
}

function idOf(path: string): string {
  return (path.split(/[\\/]/).pop() ?? path).replace(/\.md$/, "");
}

/** Runs the lessons the settings name and returns the exit code. */
export async function runLessons(settings: Settings): Promise<number> {
  let files = settings.files.length > 0 ? settings.files : findLessons(LESSONS_DIR);
  if (settings.only !== null) {
    const only = settings.only;
    files = files.filter((file) => isPicked(idOf(file), only));
    if (files.length === 0) {
      console.error(
        `No lesson matches '${only}' (a lesson number, or a part of a lesson's file name)`,
      );
      return 1;
    }
  }
  if (files.length === 0) console.log("No lessons to run");
  const live = settings.only !== null;
  let passed = 0, failed = 0, skipped = 0;
  for (const file of files) {
    let lesson: Lesson;
    try {
      lesson = readLesson(file);
    } catch (error) {
      if (!(error instanceof LessonFormatError)) throw error;
      console.log(formatFormatError(idOf(file), error.message));
      failed++;
      continue;
    }
    for (const runtime of settings.runtimes) {
      for (const method of settings.methods) {
        const runnable = lesson.startMethods.includes(method);
        if (live && runnable) console.log(`--- ${lesson.id} [${runtime} ${method}] output:`);
        const run = await checkLesson(lesson, runtime, method, {
          timeoutMs: settings.timeoutMs,
          live,
        });
        console.log(formatRunLine(run));
        if (run.verdict === "fail") console.log(formatFailure(run));
        if (run.verdict === "ok") passed++;
        else if (run.verdict === "fail") failed++;
        else skipped++;
      }
    }
  }
  console.log(formatSummary(passed, failed, skipped));
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  let settings: Settings | "help";
  try {
    settings = parseCommandLine(Deno.args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    Deno.exit(2);
  }
  if (settings === "help") {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (Deno.build.os !== "windows") {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => {
        killRunning();
        Deno.exit(130);
      });
    }
  }
  Deno.exit(await runLessons(settings));
}
