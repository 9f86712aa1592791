/**
 * What `lessons.json` holds for each lesson: written by playground/build.ts
 * from the lesson files, read by the page.
 *
 * @module
 */

/** One lesson as the playground shows it. */
export interface PlaygroundLesson {
  /** The file name without `.md`: `"01_pipe_hello"`. */
  id: string;
  /** The lesson's number, two digits: `"01"`. */
  number: string;
  /** The title from its heading. */
  title: string;
  /** The program (TypeScript), as the lesson gives it. */
  program: string;
  /** The expected output, with the runner's markers. */
  expected: string;
  /** Whether stderr is compared too. */
  mergeStderr: boolean;
  /** The lesson's page in the docs site, relative to the playground's directory. */
  page: string;
  /** False when the lesson needs what a web page cannot give. */
  browser: boolean;
  /** Why the lesson cannot run in a page (when `browser` is false). */
  reason?: string;
}
