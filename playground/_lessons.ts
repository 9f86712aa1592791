/**
 * The lessons as the playground gets them (`lessons.json`): read with the
 * lesson runner's parser, each marked runnable in a web page or not, and why.
 *
 * @module
 */

import { basename } from "node:path";
import { findLessons, readLesson } from "../lessons/_runner/parse.ts";
import type { PlaygroundLesson } from "./_app/lesson_data.ts";

/**
 * The lessons a web page cannot run, by id, and why; found by running every
 * lesson in Chromium (tests/playground_test.ts runs all the others there).
 * The page says why and shows the command that runs the lesson as written.
 */
export const NOT_IN_A_PAGE: Readonly<Record<string, string>> = {
  "03_pid_and_is_alive":
    "it asks the operating system whether each child's pid exists (`process.kill(pid, 0)` from " +
    "`node:process`), and a page's processes are Web Workers with made-up pids",
  "10_pool_of_three":
    "it runs a TCP server and its clients (`node:net`), and a page has no sockets",
  "35_pid_and_ppid":
    "it compares the library's pids with the OS's (`process.pid`, `process.ppid` from " +
    "`node:process`), and a page has no OS processes",
  "36_pool_two_callback":
    "it prints the main program's OS process id (`process.pid` from `node:process`), and a page " +
    "has no OS processes",
  "64_lock_file":
    "its processes append to a file in a temporary directory (`node:fs/promises`, `node:os`), " +
    "and a page has no files",
};

/**
 * Reads every lesson of `dir` into what the playground shows.
 *
 * @param dir The lessons' directory (`lessons/`).
 * @returns The lessons in numeric order.
 */
export function playgroundLessons(dir: string): PlaygroundLesson[] {
  return findLessons(dir).map((path) => {
    const lesson = readLesson(path);
    const number = basename(path).slice(0, 2);
    const workerless = lesson.startMethods.includes("worker")
      ? undefined
      : 'it runs only under the "spawn" start method, and a page has only "worker"';
    const reason = NOT_IN_A_PAGE[lesson.id] ?? workerless;
    return {
      id: lesson.id,
      number,
      title: lesson.title,
      program: lesson.program,
      expected: lesson.expected,
      mergeStderr: lesson.mergeStderr,
      page: `../lessons/${lesson.id}.html`,
      browser: reason === undefined,
      ...(reason === undefined ? {} : { reason }),
    };
  });
}
