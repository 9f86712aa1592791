/**
 * Checks one lesson under one runtime and one start method: writes its
 * program out, runs it, and compares what it printed with what the lesson
 * expects.
 *
 * @module
 */

import { matchOutput, type MatchResult } from "./match.ts";
import type { Lesson, StartMethod } from "./parse.ts";
import { REPO_ROOT, writeProgram } from "./program.ts";
import { type RunOutput, runProgram, type Runtime } from "./run.ts";

/** How one lesson fared under one runtime and start method. */
export interface LessonRun {
  lesson: Lesson;
  runtime: Runtime;
  startMethod: StartMethod;
  /** `skip` when the lesson does not run under this start method. */
  verdict: "ok" | "fail" | "skip";
  /** Why it failed, in words; empty unless `verdict` is `fail`. */
  problems: string[];
  /** What the program did; `null` when skipped. */
  output: RunOutput | null;
  /** The comparison of its output; `null` when skipped. */
  match: MatchResult | null;
}

/** Options for {@linkcode checkLesson}. */
export interface CheckOptions {
  timeoutMs?: number;
  /** Echo the program's output as it comes. */
  live?: boolean;
  /** Where the program file goes (default `.lessons-out/`). */
  outDir?: string;
}

/** Runs a lesson under a runtime and start method and judges the result. */
export async function checkLesson(
  lesson: Lesson,
  runtime: Runtime,
  startMethod: StartMethod,
  options: CheckOptions = {},
): Promise<LessonRun> {
  if (!lesson.startMethods.includes(startMethod)) {
    return {
      lesson,
      runtime,
      startMethod,
      verdict: "skip",
      problems: [],
      output: null,
      match: null,
    };
  }
  const file = writeProgram(lesson, options.outDir);
  const output = await runProgram(file, {
    runtime,
    startMethod,
    mergeStderr: lesson.mergeStderr,
    timeoutMs: options.timeoutMs,
    live: options.live,
    cwd: REPO_ROOT,
  });
  const actual = lesson.mergeStderr && !output.merged
    ? output.stdout + output.stderr
    : output.stdout;
  const match = matchOutput(lesson.expected, actual);

  const problems: string[] = [];
  if (output.startError !== null) problems.push(output.startError);
  if (output.timedOut) {
    problems.push(
      `Killed after ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s without ending`,
    );
  } else if (output.signal !== null) {
    problems.push(`Ended by ${output.signal}`);
  } else if (output.code !== null && output.code !== lesson.exitCode) {
    problems.push(`Exited with code ${output.code}, expected ${lesson.exitCode}`);
  }
  if (!match.ok) problems.push(match.mismatch?.reason ?? "The output differs");
  return {
    lesson,
    runtime,
    startMethod,
    verdict: problems.length === 0 ? "ok" : "fail",
    problems,
    output,
    match,
  };
}
