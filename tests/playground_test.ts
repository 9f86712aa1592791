/**
 * The playground in a real browser: the docs site is built into a temporary
 * directory (`deno task docs --out <dir>`), served on 127.0.0.1 with the
 * COOP/COEP headers, and Debian's Chromium (`/usr/bin/chromium`, or
 * `$CHROMIUM`) opens `playground/index.html?lesson=NN&run=1` for every
 * lesson: each one a page can run passes, each other says why and is
 * skipped. Then: a server without the headers, where coi-serviceworker's
 * service worker makes the page cross-origin isolated and a lesson passes;
 * Stop ends the runner and every worker, and a Run after it passes; an edited
 * program runs, and Reset restores the lesson; a lesson's page links to its
 * playground.
 *
 * Runs under `deno test` only, and only where Chromium is installed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

// The page's globals, as the functions the page evaluates use them (this file is checked without
// the DOM's types; `playground` is the page's test hooks, see playground/_app/main.ts).
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  getElementById(id: string): { textContent: string | null } | null;
};
declare const crossOriginIsolated: boolean;
declare const navigator: { serviceWorker: { controller: unknown } };
declare const playground: { program(): string; setProgram(text: string): void };

/** What this file uses of playwright-core's API (its types are not imported: see below). */
interface Chromium {
  launch(options: { executablePath: string; args: string[] }): Promise<Browser>;
}
interface Browser {
  newPage(): Promise<Page>;
  newContext(): Promise<{ newPage(): Promise<Page>; close(): Promise<void> }>;
  close(): Promise<void>;
}
interface Page {
  goto(url: string): Promise<unknown>;
  waitForFunction<A>(
    fn: (arg: A) => unknown,
    arg?: A,
    options?: { timeout?: number },
  ): Promise<unknown>;
  evaluate<R, A = undefined>(fn: (arg: A) => R, arg?: A): Promise<R>;
  click(selector: string): Promise<void>;
  keyboard: { press(key: string): Promise<void>; type(text: string): Promise<void> };
  locator(selector: string): {
    textContent(): Promise<string | null>;
    isVisible(): Promise<boolean>;
  };
  workers(): { waitForEvent(event: "close"): Promise<unknown> }[];
  url(): string;
  close(): Promise<void>;
}

const SKIP_REASON = "the browser is driven once, from Deno (`deno task docs` builds the site " +
  "under Deno, and the page's library is the same bundle whichever runtime builds it)";
const CHROMIUM = ("Deno" in globalThis && Deno.env.get("CHROMIUM")) || "/usr/bin/chromium";

/** Whether a file exists. */
const exists = (path: string): boolean => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
};

if (!("Deno" in globalThis) || "Bun" in globalThis) {
  test.skip(`playground: ${SKIP_REASON}`, () => {});
} else if (!exists(CHROMIUM)) {
  test.skip(`playground: no Chromium at ${CHROMIUM} (set CHROMIUM to a Chromium binary)`, () => {});
} else {
  // playwright-core is pinned in the docs config (lessons/_docs/docs.deno.json), not imported as
  // `npm:` here: that would pin it in the root deno.lock, which every `deno task` (the lessons'
  // too) downloads (tests/import_map_test.ts). The site's build installs it into
  // lessons/_docs/node_modules/, where it is loaded from once the site is built (see `before`).
  const { createRequire } = await import("node:module");
  let chromium: Chromium;
  const { playgroundLessons } = await import("../playground/_lessons.ts");
  const { staticHandler } = await import("../playground/_static.ts");

  const root = new URL("../", import.meta.url).pathname;
  const lessons = playgroundLessons(`${root}lessons`);
  /** How long a lesson may take in the page (the CLI runner's default timeout). */
  const RUN_TIMEOUT = 60_000;
  /** A test's own limit: a run, plus loading the page. */
  const TEST_TIMEOUT = 120_000;

  /** The status a run ends with (`running` and before are not an end). */
  const FINAL = ["passed", "failed", "stopped", "skipped"];

  let dir = "";
  let browser: Browser;
  const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
  /** The site's address with the isolation headers, and without. */
  let isolated = "";
  let plain = "";

  /** Serves the site; `isolate` adds the COOP/COEP headers. */
  const serve = (isolate: boolean): string => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      handler: staticHandler(dir, isolate),
      onListen() {},
    });
    servers.push(server);
    return `http://127.0.0.1:${server.addr.port}/`;
  };

  /** Waits until the page's run has ended; returns its status and output. */
  const ended = async (page: Page): Promise<{ status: string; output: string }> => {
    await page.waitForFunction(
      (final: string[]) => final.includes(document.body.dataset.status ?? ""),
      FINAL,
      { timeout: RUN_TIMEOUT },
    );
    return await page.evaluate(() => ({
      status: document.body.dataset.status ?? "",
      output: document.getElementById("output")?.textContent ?? "",
    }));
  };

  /** Opens a lesson's playground in a new page; `run` adds `&run=1`. */
  const open = async (base: string, number: string, run: boolean): Promise<Page> => {
    const page = await browser.newPage();
    await page.goto(`${base}playground/index.html?lesson=${number}${run ? "&run=1" : ""}`);
    await page.waitForFunction(() => document.body.dataset.status !== "loading");
    return page;
  };

  describe("playground", () => {
    before(async () => {
      dir = await Deno.makeTempDir({ prefix: "procs-playground-" });
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["task", "docs", "--out", dir],
        cwd: root,
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const decoder = new TextDecoder();
      assert.equal(
        output.code,
        0,
        `deno task docs failed:\n${decoder.decode(output.stdout)}${decoder.decode(output.stderr)}`,
      );
      ({ chromium } = createRequire(import.meta.url)(
        `${root}lessons/_docs/node_modules/playwright-core`,
      ) as { chromium: Chromium });
      isolated = serve(true);
      plain = serve(false);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    }, { timeout: 180_000 });

    after(async () => {
      await browser?.close();
      for (const server of servers) await server.shutdown();
      if (dir !== "") await Deno.remove(dir, { recursive: true });
    });

    test("the site holds the page, its bundles, the library and lessons.json", async () => {
      for (
        const file of [
          "index.html",
          "app.js",
          "app-style.css",
          "runner.js",
          "coi-serviceworker.js",
          "lib/mod.js",
          "lib/browser.js",
        ]
      ) assert.ok(exists(`${dir}/playground/${file}`), `no playground/${file}`);
      const json = JSON.parse(await Deno.readTextFile(`${dir}/playground/lessons.json`));
      assert.deepEqual(json, lessons);
      const html = await Deno.readTextFile(`${dir}/playground/index.html`);
      assert.match(
        html,
        /<head>[^]*?<script src="coi-serviceworker\.js"><\/script>/,
        "the service worker's script is loaded first",
      );
      assert.ok(
        html.indexOf("coi-serviceworker.js") < html.indexOf("app.js"),
        "the service worker's script comes before the page's",
      );
    });

    for (const lesson of lessons) {
      const name = lesson.browser
        ? `lesson ${lesson.id} passes in Chromium`
        : `lesson ${lesson.id} is not run in a page, and the page says why`;
      test(name, { timeout: TEST_TIMEOUT }, async () => {
        const page = await open(isolated, lesson.number, true);
        try {
          assert.equal(await page.evaluate(() => crossOriginIsolated), true);
          const { status, output } = await ended(page);
          if (lesson.browser) {
            assert.equal(status, "passed", `output:\n${output}`);
          } else {
            assert.equal(status, "skipped", `output:\n${output}`);
            const notice = await page.locator("#notice").textContent();
            assert.ok(notice?.includes(lesson.reason!.replaceAll("`", "")), `notice: ${notice}`);
            assert.ok(notice?.includes(`npx --yes deno@2.9.6 task lesson ${lesson.number}`));
          }
        } finally {
          await page.close();
        }
      });
    }

    test("without COOP/COEP headers, the service worker isolates the page and a lesson passes", {
      timeout: TEST_TIMEOUT,
    }, async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(`${plain}playground/index.html?lesson=01&run=1`);
        // The first load registers the service worker and reloads; the second is isolated.
        await page.waitForFunction(
          () => crossOriginIsolated && document.body.dataset.status === "passed",
          null,
          { timeout: RUN_TIMEOUT },
        );
        const controlled = await page.evaluate(() => navigator.serviceWorker.controller !== null);
        assert.equal(controlled, true, "the service worker controls the page");
      } finally {
        await context.close();
      }
    });

    test("Stop ends the runner and every worker it started; a Run after it passes", {
      timeout: TEST_TIMEOUT,
    }, async () => {
      const page = await open(isolated, "01", false);
      try {
        await page.evaluate(() => {
          playground.setProgram([
            'import { Process } from "@procs/multiprocessing";',
            "export async function forever(n: number) {",
            "  console.log(`child ${n} runs`);",
            "  await new Promise(() => {});",
            "}",
            "if (import.meta.main) {",
            "  const children = [1, 2].map((n) => new Process({ target: forever, args: [n] }));",
            "  for (const p of children) p.start();",
            "  for (const p of children) await p.join();",
            "}",
          ].join("\n"));
        });
        await page.click("#run");
        await page.waitForFunction(
          () => {
            const text = document.getElementById("output")?.textContent ?? "";
            return text.includes("child 1 runs") && text.includes("child 2 runs");
          },
          null,
          { timeout: RUN_TIMEOUT },
        );
        const workers = page.workers();
        assert.ok(workers.length >= 3, `the runner and two children: ${workers.length} workers`);
        const closed = Promise.all(workers.map((worker) => worker.waitForEvent("close")));
        await page.click("#stop");
        assert.equal((await ended(page)).status, "stopped");
        await closed;
        assert.equal(page.workers().length, 0, "no worker is left");
        assert.equal(await page.evaluate(() => document.body.dataset.runners ?? "0"), "0");

        await page.click("#reset");
        await page.click("#run");
        const { status, output } = await ended(page);
        assert.equal(status, "passed", `output:\n${output}`);
      } finally {
        await page.close();
      }
    });

    test("an edited program runs, and Reset restores the lesson", {
      timeout: TEST_TIMEOUT,
    }, async () => {
      const page = await open(isolated, "12", false);
      try {
        const program = () => page.evaluate(() => playground.program());
        const lesson = lessons.find((l) => l.number === "12")!;
        assert.equal(await program(), lesson.program);
        // Typed into the editor: a line at the end of the program.
        await page.click("#editor .cm-content");
        await page.keyboard.press("Control+End");
        await page.keyboard.press("Enter");
        await page.keyboard.type('console.log("typed in the playground");');
        assert.ok((await program()).endsWith('console.log("typed in the playground");'));
        assert.equal(await page.locator("#edited").isVisible(), true, "the page says 'edited'");
        await page.click("#run");
        const { status, output } = await ended(page);
        assert.equal(status, "failed", "the output no longer matches the lesson's");
        assert.ok(output.includes("typed in the playground\n"), `output:\n${output}`);
        const verdict = await page.locator("#verdict").textContent();
        assert.match(verdict ?? "", /^differs: /);

        await page.click("#reset");
        assert.equal(await program(), lesson.program);
        assert.equal(await page.locator("#edited").isVisible(), false);
        await page.click("#run");
        assert.equal((await ended(page)).status, "passed");
      } finally {
        await page.close();
      }
    });

    test("a program that does not compile or throws fails, with the error in the output", {
      timeout: TEST_TIMEOUT,
    }, async () => {
      const page = await open(isolated, "01", false);
      try {
        const runProgram = async (text: string) => {
          await page.evaluate((text: string) => playground.setProgram(text), text);
          await page.click("#run");
          return await ended(page);
        };
        let { status, output } = await runProgram("const x: = 1;");
        assert.equal(status, "failed");
        assert.match(output, /^error: SyntaxError: /m);
        ({ status, output } = await runProgram('throw new Error("boom");'));
        assert.equal(status, "failed");
        assert.match(output, /Uncaught Error: boom/);
        ({ status, output } = await runProgram('import { readFile } from "node:fs/promises";'));
        assert.equal(status, "failed");
        assert.match(output, /Cannot import "node:fs\/promises" in a web page/);
      } finally {
        await page.close();
      }
    });

    test("lessons/README.md lists the lessons a page cannot run", () => {
      const readme = Deno.readTextFileSync(`${root}lessons/README.md`);
      const section = readme.split("## In the browser")[1]?.split("\n## ")[0] ?? "";
      const listed = [...section.matchAll(/^\| \[\d\d\. [^\]]*\]\(([^)]+)\.md\)/gm)].map(([, id]) =>
        id
      );
      assert.deepEqual(listed, lessons.filter((l) => !l.browser).map((l) => l.id));
    });

    test("a lesson's page links to its playground", { timeout: TEST_TIMEOUT }, async () => {
      for (const lesson of lessons) {
        const html = await Deno.readTextFile(`${dir}/lessons/${lesson.id}.html`);
        assert.ok(
          html.includes(`href="../playground/index.html?lesson=${lesson.number}"`),
          `lessons/${lesson.id}.html does not link its playground`,
        );
      }
      const page = await browser.newPage();
      try {
        await page.goto(`${isolated}lessons/01_pipe_hello.html`);
        await page.click("a.playground-link");
        await page.waitForFunction(() => document.body.dataset.status === "ready");
        assert.match(page.url(), /\/playground\/index\.html\?lesson=01$/);
        assert.match(await page.locator("#title").textContent() ?? "", /^01\. /);
      } finally {
        await page.close();
      }
    });
  });
}
