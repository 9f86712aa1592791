/**
 * Every lesson in lessons/ passes under Deno and Bun and under both start
 * methods (one test per lesson, so a failure names it and shows its diff),
 * and the lesson runner reads, runs and reports a fixture lesson
 * (tests/testdata/lesson_fixture.md).
 *
 * Runs under `deno test` only: the Deno run already runs each lesson under
 * Bun, and the runner needs npm packages that Deno resolves.
 */
import { test } from "node:test";
import assert from "node:assert/strict";

const SKIP_REASON = "lessons run under `deno test` only: it runs each lesson under Bun as well, " +
  "and the lesson runner needs npm packages that Deno resolves";

if (!("Deno" in globalThis) || "Bun" in globalThis) {
  test.skip(`lessons: ${SKIP_REASON}`, () => {});
} else {
  const { findLessons, LessonFormatError, parseLesson, readLesson, START_METHODS } = await import(
    "../lessons/_runner/parse.ts"
  );
  const { checkLesson } = await import("../lessons/_runner/check.ts");
  const { LIBRARY_URL, rewriteImports } = await import("../lessons/_runner/program.ts");
  const { formatFailure, formatRunLine } = await import("../lessons/_runner/report.ts");
  const { RUNTIMES } = await import("../lessons/_runner/run.ts");
  type Lesson = ReturnType<typeof readLesson>;

  const fixture = new URL("./testdata/lesson_fixture.md", import.meta.url).pathname;
  const runner = new URL("../lessons/_runner/main.ts", import.meta.url).pathname;
  const lessonsDir = new URL("../lessons/", import.meta.url).pathname;

  /** Runs the lesson under every runtime and start method; fails with every failed run's report. */
  const assertLessonPasses = async (lesson: Lesson): Promise<void> => {
    const reports: string[] = [];
    for (const runtime of RUNTIMES) {
      for (const method of START_METHODS) {
        const run = await checkLesson(lesson, runtime, method);
        if (run.verdict === "fail") reports.push(`${formatRunLine(run)}\n${formatFailure(run)}`);
      }
    }
    assert.equal(reports.length, 0, `\n${reports.join("\n")}`);
  };

  /** Runs the runner's command line and returns its exit code and output. */
  const runRunner = async (...args: string[]): Promise<{ code: number; stdout: string }> => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", runner, ...args],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stderr: "inherit",
    }).output();
    return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
  };

  test("lesson runner: parses the fixture lesson", () => {
    const lesson = readLesson(fixture);
    assert.equal(lesson.id, "lesson_fixture");
    assert.equal(lesson.title, "Runner fixture");
    assert.equal(
      lesson.program,
      'import { cpuCount } from "@procs/multiprocessing";\nconsole.log(`cpus: ${cpuCount()}`);',
    );
    assert.equal(lesson.expected, "cpus: <int>");
    assert.equal(lesson.mergeStderr, false);
    assert.deepEqual(lesson.startMethods, ["spawn", "worker"]);
    assert.equal(lesson.exitCode, 0);
  });

  test("lesson runner: reads settings and skips prose blocks", () => {
    const lesson = parseLesson(
      [
        "# 07. Seven",
        "<!-- start-methods: spawn -->",
        "```sh\ndeno task lesson 07\n```",
        "```text\nnot the expected output: no 'Expected output' paragraph before it\n```",
        "```ts\nconsole.log(1);\n```",
        "```python\nprint(1)\n```",
        "```ts\nconsole.log('second ts block: prose');\n```",
        "Expected output (stdout and stderr):",
        "```python\nnot text\n```",
        "```text\n1\n```",
        "Expected output:\n\n```text\nnot this one\n```",
        "<!-- exit-code: 2 -->",
      ].join("\n\n"),
      "lessons/07_seven.md",
    );
    assert.equal(lesson.id, "07_seven");
    assert.equal(lesson.program, "console.log(1);");
    assert.equal(lesson.programLine, 13);
    assert.equal(lesson.expected, "1");
    assert.equal(lesson.mergeStderr, true);
    assert.deepEqual(lesson.startMethods, ["spawn"]);
    assert.equal(lesson.exitCode, 2);
  });

  test("lesson runner: rejects lessons that break the format, saying why", () => {
    const broken: [string, RegExp][] = [
      ["No heading\n\n```ts\nx\n```", /no heading '# NN\. Title'/],
      [
        "## 07. Seven\n\n```ts\nx\n```",
        /first heading must be '# NN\. Title', found '## 07\. Seven'/,
      ],
      [
        "# 08. Eight\n\n```ts\nx\n```\n\nExpected output:\n\n```text\nx\n```",
        /numbered 08 but the file 07/,
      ],
      ["# 07. Seven\n\nExpected output:\n\n```text\nx\n```", /no program/],
      ["# 07. Seven\n\n```ts\nx\n```\n\n```text\nx\n```", /no expected output/],
      [
        "# 07. Seven\n\n<!-- start-methods: fork -->\n\n```ts\nx\n```\n\nExpected output:\n\n```text\n```",
        /start-methods/,
      ],
    ];
    for (const [markdown, message] of broken) {
      assert.throws(() => parseLesson(markdown, "lessons/07_seven.md"), (error: unknown) => {
        assert.ok(error instanceof LessonFormatError);
        assert.match(error.message, /^lessons\/07_seven\.md: /);
        assert.match(error.message, message);
        return true;
      });
    }
  });

  test("lesson runner: points the library's specifier at this repository's mod.ts", () => {
    assert.match(LIBRARY_URL, /^file:\/\/.*\/mod\.ts$/);
    assert.equal(
      rewriteImports(
        `import { Pipe } from "@procs/multiprocessing";\nconst m = await import('@procs/multiprocessing');`,
      ),
      `import { Pipe } from "${LIBRARY_URL}";\nconst m = await import('${LIBRARY_URL}');`,
    );
    assert.equal(rewriteImports(`"@procs/multiprocessing-x"`), `"@procs/multiprocessing-x"`);
  });

  test("lesson runner: the fixture passes under Deno and Bun, both start methods", async () => {
    await assertLessonPasses(readLesson(fixture));
  });

  test("lesson runner: its command line reports passes, and a failure with a diff and exit code 1", async () => {
    const passing = await runRunner("--method", "both", fixture);
    assert.equal(passing.code, 0, passing.stdout);
    assert.match(passing.stdout, /^ok {3}lesson_fixture \[deno spawn\] \d+\.\ds$/m);
    assert.match(passing.stdout, /^ok {3}lesson_fixture \[deno worker\] \d+\.\ds$/m);
    assert.match(passing.stdout, /^lessons: 2 passed, 0 failed$/m);

    const dir = await Deno.makeTempDir();
    try {
      const failing = `${dir}/lesson_failing.md`;
      await Deno.writeTextFile(
        failing,
        (await Deno.readTextFile(fixture)).replace("cpus: <int>", "cpus: <int>\nno such line"),
      );
      const result = await runRunner("--method", "spawn", failing);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, /^FAIL lesson_failing \[deno spawn\] /m);
      assert.match(result.stdout, /The output ended before expected line 2/);
      assert.match(result.stdout, /^ {4}> 2 \| no such line$/m);
      assert.match(result.stdout, /^lessons: 0 passed, 1 failed$/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  for (const file of findLessons(lessonsDir)) {
    const id = file.split("/").pop()!.replace(/\.md$/, "");
    test(`lesson ${id} passes under Deno and Bun, both start methods`, async () => {
      await assertLessonPasses(readLesson(file));
    });
  }
}
