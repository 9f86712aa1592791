/// <reference lib="dom" />
/**
 * The playground page (index.html; bundled to `<out>/playground/app.js`):
 * a lesson's program in an editor, Run / Stop / Reset, the output as it
 * comes, and the lesson's expected output beside it, compared by the lesson
 * runner's own matcher (lessons/_runner/match.ts).
 *
 * For checks from outside: `index.html?lesson=NN&run=1` opens lesson NN and
 * runs it; `document.body.dataset.status` is `"running"`, then `"passed"` or
 * `"failed"` (`"skipped"` for a lesson marked not runnable in a page,
 * `"stopped"` after Stop); `#output`'s text is what the program printed.
 * `window.playground` lets a test drive the page ({@linkcode PlaygroundHooks}).
 *
 * @module
 */

import { matchOutput } from "../../lessons/_runner/match.ts";
import { createEditor } from "./editor.ts";
import type { PlaygroundLesson } from "./lesson_data.ts";
import { OutputPane } from "./output.ts";
import { Run } from "./run.ts";

/** What the page offers a test on `window.playground`. */
export interface PlaygroundHooks {
  /** The program in the editor. */
  program(): string;
  /** Replaces the program in the editor. */
  setProgram(text: string): void;
  /** Runs the editor's program; resolves with the final status. */
  run(): Promise<string>;
  /** Stops the running program. */
  stop(): void;
  /** Puts the lesson's program back. */
  reset(): void;
  /** How many runner workers are alive (0 or 1). */
  runners(): number;
}

/** The page's status, as `document.body.dataset.status` shows it. */
type Status = "loading" | "ready" | "running" | "passed" | "failed" | "stopped" | "skipped";

const STATUS_TEXT: Record<Status, string> = {
  loading: "loading",
  ready: "ready",
  running: "running…",
  passed: "passed: matches",
  failed: "failed",
  stopped: "stopped",
  skipped: "not run in a page",
};

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const base = new URL(".", location.href);
const params = new URLSearchParams(location.search);

/** A `<code>` element. */
const code = (text: string): HTMLElement =>
  Object.assign(document.createElement("code"), { textContent: text });

/** Text with its `backquoted` parts as code. */
const withCode = (text: string): (string | HTMLElement)[] =>
  text.split("`").map((part, i) => i % 2 === 1 ? code(part) : part);

const setStatus = (status: Status): void => {
  document.body.dataset.status = status;
  const badge = byId("status");
  badge.textContent = STATUS_TEXT[status];
  badge.className = `badge ${status}`;
};

/**
 * Waits while coi-serviceworker.js makes the page cross-origin isolated: on
 * a server that does not send COOP/COEP, its service worker adds them, and
 * the page reloads itself once it controls it. Resolves false when that
 * reload is coming (the page must not start a run it would cut).
 */
const settleIsolation = async (): Promise<boolean> => {
  if (crossOriginIsolated || !isSecureContext || !("serviceWorker" in navigator)) return true;
  if (navigator.serviceWorker.controller !== null) return true; // controlled, yet not isolated
  const registration = await Promise.race([
    navigator.serviceWorker.ready,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), 5000)),
  ]);
  return registration === null; // registered: the script reloads the page
};

const main = async (): Promise<void> => {
  setStatus("loading");
  const lessons: PlaygroundLesson[] = await (await fetch(new URL("lessons.json", base))).json();
  const wanted = params.get("lesson") ?? lessons[0].number;
  const lesson = lessons.find((l) => l.number === wanted || l.id === wanted) ?? lessons[0];

  document.title = `${lesson.number}. ${lesson.title} | Playground`;
  byId("title").textContent = `${lesson.number}. ${lesson.title}`;
  byId<HTMLAnchorElement>("lesson-page").href = lesson.page;
  const select = byId<HTMLSelectElement>("lesson");
  for (const each of lessons) {
    const option = new Option(`${each.number}. ${each.title}`, each.number);
    option.selected = each === lesson;
    select.append(option);
  }
  select.addEventListener("change", () => {
    location.search = `?lesson=${select.value}`;
  });

  if (!lesson.browser) {
    const notice = byId("notice");
    notice.hidden = false;
    notice.append(
      "This lesson needs what a web page cannot give: ",
      ...withCode(`${lesson.reason}. `),
      "Run it as written with ",
      code(`npx --yes deno@2.9.6 task lesson ${lesson.number}`),
      " from a clone of the repository; here, Run runs what a page can.",
    );
  }
  byId("isolation").textContent = crossOriginIsolated
    ? "cross-origin isolated: shared memory on"
    : "not cross-origin isolated: no SharedArrayBuffer (values and arrays in shared memory fail)";
  byId("expected").textContent = lesson.expected;
  byId("compared").textContent = lesson.mergeStderr ? "stdout and stderr" : "stdout";

  const output = new OutputPane(byId("output"));
  const runButton = byId<HTMLButtonElement>("run");
  const stopButton = byId<HTMLButtonElement>("stop");
  const edited = byId("edited");
  let current: Run | null = null;

  const editor = createEditor(byId("editor"), () => {
    edited.hidden = editor.text() === lesson.program;
  }, () => void run());
  editor.setText(lesson.program);

  const showVerdict = (passed: boolean, why: string): void => {
    const verdict = byId("verdict");
    verdict.textContent = why;
    verdict.className = passed ? "verdict passed" : "verdict failed";
  };

  /** Marks the expected line at `index` (0-based). */
  const markExpected = (index: number | null): void => {
    const pre = byId("expected");
    const lines = lesson.expected.split("\n");
    if (index === null || index >= lines.length) return;
    pre.textContent = "";
    lines.forEach((line, i) => {
      const span = document.createElement("span");
      span.textContent = `${line}\n`;
      if (i === index) span.className = "mismatch";
      pre.append(span);
    });
  };

  const run = async (): Promise<string> => {
    current?.stop();
    output.clear();
    byId("expected").textContent = lesson.expected;
    showVerdict(true, "");
    setStatus("running");
    runButton.disabled = true;
    stopButton.disabled = false;
    const started = performance.now();
    const thisRun = new Run(new URL("runner.js", base), editor.text(), (text, stream) => {
      if (current === thisRun) output.append(text, stream);
    });
    current = thisRun;
    document.body.dataset.runners = "1";
    const end = await thisRun.ended;
    document.body.dataset.runners = current === thisRun || current === null ? "0" : "1";
    if (current !== thisRun) return document.body.dataset.status ?? "";
    current = null;
    runButton.disabled = false;
    stopButton.disabled = true;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (end === "stopped") {
      output.note(`[stopped after ${seconds} s: the runner and every worker it started ended]`);
      showVerdict(false, "stopped");
      setStatus("stopped");
    } else {
      const match = matchOutput(lesson.expected, output.text(lesson.mergeStderr));
      if (end === "failed") output.note(`[the program failed after ${seconds} s]`);
      else output.note(`[finished in ${seconds} s]`);
      if (!match.ok) {
        output.markMismatch(match.mismatch?.actualIndex ?? null, lesson.mergeStderr);
        markExpected(match.mismatch?.expectedIndex ?? null);
      }
      const passed = match.ok && end === "done";
      showVerdict(
        passed,
        match.ok
          ? (end === "done" ? "matches" : "matches, but the program failed")
          : `differs: ${match.mismatch?.reason ?? "the output differs"}`,
      );
      setStatus(passed ? "passed" : "failed");
    }
    return document.body.dataset.status ?? "";
  };

  const stop = (): void => current?.stop();
  const reset = (): void => editor.setText(lesson.program);
  runButton.addEventListener("click", () => void run());
  stopButton.addEventListener("click", stop);
  byId("reset").addEventListener("click", reset);

  const hooks: PlaygroundHooks = {
    program: () => editor.text(),
    setProgram: (text) => editor.setText(text),
    run,
    stop,
    reset,
    runners: () => current?.alive ? 1 : 0,
  };
  (globalThis as unknown as { playground: PlaygroundHooks }).playground = hooks;

  if (!await settleIsolation()) return; // the page reloads itself, isolated
  setStatus("ready");
  if (params.get("run") === "1") {
    if (lesson.browser) void run();
    else setStatus("skipped");
  }
};

main().catch((error) => {
  byId("output").textContent = `The playground failed to start: ${error}`;
  setStatus("failed");
});
