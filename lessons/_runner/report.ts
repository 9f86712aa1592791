/**
 * Puts lesson results into words: one line per run, a readable diff for a
 * failure, and the summary line.
 *
 * @module
 */

import { relative } from "node:path";
import process from "node:process";
import type { LessonRun } from "./check.ts";

/** Lines shown around a mismatch when a side has more than `2 * CONTEXT + 1` lines. */
const CONTEXT = 12;

/** How long the tail of stderr shown with a failure may be, in lines. */
const STDERR_TAIL = 30;

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** `ok   03_pipe_pid [deno spawn] 1.2s`, `FAIL ...` or `skip ... (start-methods: spawn)`. */
export function formatRunLine(run: LessonRun): string {
  const where = `${run.lesson.id} [${run.runtime} ${run.startMethod}]`;
  if (run.verdict === "skip") {
    return `skip ${where} (start-methods: ${run.lesson.startMethods.join(", ")})`;
  }
  const time = run.output ? ` ${seconds(run.output.durationMs)}` : "";
  const note = run.output?.lingered ? " (processes it started outlived it and were killed)" : "";
  return `${run.verdict === "ok" ? "ok  " : "FAIL"} ${where}${time}${note}`;
}

/** The line for a lesson file that does not follow the format. */
export function formatFormatError(id: string, message: string): string {
  return `FAIL ${id} [format]\n    ${message}`;
}

/** Numbered lines with `>` at `mark`, cut to the lines around it when long. */
export function numbered(lines: readonly string[], mark: number | null): string[] {
  if (lines.length === 0) return ["      (nothing)"];
  const width = String(lines.length).length;
  const row = (i: number) =>
    `    ${i === mark ? ">" : " "} ${String(i + 1).padStart(width)} | ${lines[i]}`;
  const focus = mark ?? lines.length - 1;
  const from = lines.length > 2 * CONTEXT + 1 ? Math.max(0, focus - CONTEXT) : 0;
  const to = lines.length > 2 * CONTEXT + 1
    ? Math.min(lines.length, focus + CONTEXT + 1)
    : lines.length;
  const shown: string[] = [];
  if (from > 0) shown.push(`      ... ${from} lines before`);
  for (let i = from; i < to; i++) shown.push(row(i));
  if (to < lines.length) shown.push(`      ... ${lines.length - to} lines after`);
  if (mark !== null && mark >= lines.length) {
    shown.push(`    > ${"".padStart(width)} | (end of output)`);
  }
  return shown;
}

/** What a failed run did wrong: its problems, expected against actual with the first mismatch marked, stderr. */
export function formatFailure(run: LessonRun): string {
  const out: string[] = run.problems.map((problem) => `    ${problem}`);
  const { match, output, lesson } = run;
  const what = lesson.mergeStderr
    ? `stdout and stderr${output && !output.merged ? ", stderr after stdout" : ""}`
    : "stdout";
  if (match && !match.ok) {
    const mismatch = match.mismatch;
    const actualMark = mismatch ? (mismatch.actualIndex ?? match.actual.length) : null;
    const expectedMark = mismatch ? (mismatch.expectedIndex ?? match.expected.length) : null;
    out.push(`  expected (${relative(process.cwd(), lesson.path)}, line ${lesson.expectedLine}):`);
    out.push(...numbered(match.expected, expectedMark));
    out.push(`  actual (${what}):`);
    out.push(...numbered(match.actual, actualMark));
  } else if (match && match.actual.length > 0) {
    out.push(`  actual (${what}, as expected):`);
    out.push(...numbered(match.actual, null));
  }
  if (output && !lesson.mergeStderr && output.stderr.trim() !== "") {
    const lines = output.stderr.trimEnd().split("\n");
    const tail = lines.slice(-STDERR_TAIL);
    out.push(
      `  stderr${
        lines.length > tail.length ? ` (last ${tail.length} of ${lines.length} lines)` : ""
      }:`,
    );
    out.push(...tail.map((line) => `      ${line}`));
  }
  return out.join("\n");
}

/** `lessons: N passed, M failed` (`, K skipped` when some were). */
export function formatSummary(passed: number, failed: number, skipped: number): string {
  return `lessons: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
}
