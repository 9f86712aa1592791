/**
 * The docs site (`deno task docs`: typedoc.json, with the plugin in
 * lessons/_docs/): built into a temporary directory, it has a page or an
 * anchor for every export of mod.ts, README.md as its home page, a page for
 * the lessons index and for every lesson, the lessons in the navigation in
 * numeric order under their titles, the API in the sidebar by category (the
 * bases last), code blocks that wrap rather than clip in a column that holds
 * 100 columns at 1280 px, and no relative link that leads nowhere (each
 * lesson's link to its playground included: the build writes the playground
 * too, which tests/playground_test.ts runs in a browser).
 *
 * Runs under `deno test` only: TypeDoc runs under Deno.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";

const SKIP_REASON = "the docs site is built with TypeDoc under Deno (`deno task docs`)";

if (!("Deno" in globalThis) || "Bun" in globalThis) {
  test.skip(`docs site: ${SKIP_REASON}`, () => {});
} else {
  const { inflateSync } = await import("node:zlib");
  const { Buffer } = await import("node:buffer");

  const root = new URL("../", import.meta.url).pathname;
  const decoder = new TextDecoder();

  /** One entry of TypeDoc's navigation tree (assets/navigation.js). */
  type NavItem = { text: string; path?: string; children?: NavItem[] };
  /** The built site: its directory, its pages (paths relative to it) and the build's log. */
  type Site = { dir: string; pages: Map<string, string>; log: string };

  /** Runs `deno task docs` into a temporary directory and reads every page it wrote. */
  const buildSite = async (): Promise<Site> => {
    const dir = await Deno.makeTempDir({ prefix: "procs-docs-" });
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["task", "docs", "--out", dir],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const log = decoder.decode(output.stdout) + decoder.decode(output.stderr);
    assert.equal(output.code, 0, `deno task docs failed:\n${log}`);
    const pages = new Map<string, string>();
    const walk = async (sub: string): Promise<void> => {
      for await (const entry of Deno.readDir(`${dir}/${sub}`)) {
        const path = sub === "" ? entry.name : `${sub}/${entry.name}`;
        if (entry.isDirectory) await walk(path);
        else if (path.endsWith(".html")) pages.set(path, await Deno.readTextFile(`${dir}/${path}`));
      }
    };
    await walk("");
    return { dir, pages, log };
  };

  let built: Promise<Site> | undefined;
  /** The site, built once for all the tests of this file. */
  const site = (): Promise<Site> => built ??= buildSite();

  /** Whether a file exists. */
  const exists = (path: string): boolean => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  };

  /** The names mod.ts exports: its runtime values, and its types as `deno doc` lists them. */
  const exportedNames = async (): Promise<string[]> => {
    const names = new Set(Object.keys(await import("../mod.ts")));
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["doc", "--json", "mod.ts"],
      cwd: root,
      stdin: "null",
    }).output();
    assert.equal(output.code, 0, decoder.decode(output.stderr));
    const doc = JSON.parse(decoder.decode(output.stdout));
    // `deno doc --json` version 2: { nodes: { [module]: { symbols: [{ name }] } } }
    for (const node of Object.values<{ symbols?: { name: string }[] }>(doc.nodes ?? {})) {
      for (const symbol of node.symbols ?? []) names.add(symbol.name);
    }
    return [...names].sort();
  };

  /** The lesson files, `lessons/NN_slug.md`, in numeric order. */
  const lessonFiles = (): string[] =>
    [...Deno.readDirSync(`${root}lessons`)]
      .map((entry) => entry.name)
      .filter((name) => /^\d\d_.*\.md$/.test(name))
      .sort();

  /** A lesson's title: its first `# ` heading, as the plugin takes it. */
  const titleOf = (file: string): string =>
    /^# +(.+?)\s*$/m.exec(Deno.readTextFileSync(`${root}lessons/${file}`))![1].replaceAll("`", "");

  /** The text of a page's `<title>`, entities decoded. */
  const pageTitle = (html: string): string =>
    (/<title>(.*?)<\/title>/s.exec(html)?.[1] ?? "")
      .replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)))
      .replace(/&#x([0-9a-f]+);/gi, (_, code) => String.fromCharCode(parseInt(code, 16)))
      .replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">")
      .replaceAll("&amp;", "&");

  /** TypeDoc's navigation tree: base64 of deflated JSON in assets/navigation.js. */
  const navigation = async (dir: string): Promise<NavItem[]> => {
    const script = await Deno.readTextFile(`${dir}/assets/navigation.js`);
    const data = /"(?:data:[^,]*,)?([A-Za-z0-9+/=]+)"/.exec(script)![1];
    return JSON.parse(inflateSync(Buffer.from(data, "base64")).toString("utf8"));
  };

  /** Every item of the navigation tree, depth first. */
  const flatten = (items: NavItem[]): NavItem[] =>
    items.flatMap((item) => [item, ...flatten(item.children ?? [])]);

  describe("docs site", () => {
    after(async () => {
      if (built) await Deno.remove((await built).dir, { recursive: true });
    });

    test("builds with `deno task docs`, without warnings", { timeout: 120_000 }, async () => {
      const { log } = await site();
      const warnings = log.split("\n").filter((line) => /\[(warning|error)\]/.test(line));
      assert.deepEqual(warnings, [], log);
    });

    test("every export of mod.ts has a page or an anchor", { timeout: 120_000 }, async () => {
      const { pages } = await site();
      const anchors = new Set<string>(); // of the API pages: not the README's or a lesson's
      for (const [path, html] of pages) {
        if (path === "index.html" || path.startsWith("lessons/")) continue;
        for (const [, id] of html.matchAll(/\sid="([^"]+)"/g)) anchors.add(id.toLowerCase());
      }
      const missing = (await exportedNames()).filter((name) => {
        const page = [...pages.keys()].find((path) => path.endsWith(`/${name}.html`));
        if (page !== undefined) return !pageTitle(pages.get(page)!).startsWith(`${name} |`);
        return !anchors.has(name.toLowerCase());
      });
      assert.deepEqual(missing, [], `exports without a page or anchor: ${missing.join(", ")}`);
    });

    test("README.md is the home page", { timeout: 120_000 }, async () => {
      const { pages } = await site();
      const readme = Deno.readTextFileSync(`${root}README.md`);
      const home = pages.get("index.html");
      assert.ok(home, "no index.html");
      const text = home.replace(/<[^>]*>/g, "").replaceAll("&#39;", "'").replaceAll("&amp;", "&");
      for (const [, heading] of readme.matchAll(/^#{1,2} +(.+?)\s*$/gm)) {
        const plain = heading.replaceAll("`", "");
        assert.ok(text.includes(plain), `the home page lacks the README heading "${plain}"`);
      }
      assert.match(home, /href="lessons\/README\.html"/, "the home page does not link the lessons");
    });

    test("the lessons index and every lesson have a page", { timeout: 120_000 }, async () => {
      const { pages } = await site();
      assert.ok(pages.has("lessons/README.html"), "no page for lessons/README.md");
      for (const file of lessonFiles()) {
        const page = pages.get(`lessons/${file.replace(/\.md$/, ".html")}`);
        assert.ok(page, `no page for lessons/${file}`);
        assert.ok(pageTitle(page).startsWith(`${titleOf(file)} |`), `title of lessons/${file}`);
      }
    });

    test("the navigation lists the lessons in numeric order", { timeout: 120_000 }, async () => {
      const { dir } = await site();
      const index = flatten(await navigation(dir)).find((item) =>
        item.path === "lessons/README.html"
      );
      assert.ok(index, "the lessons index is not in the navigation");
      const listed = (index.children ?? [])
        .filter((item) => /^lessons\/\d\d_/.test(item.path ?? ""))
        .map((item) => ({ path: item.path, text: item.text }));
      const expected = lessonFiles().map((file) => ({
        path: `lessons/${file.replace(/\.md$/, ".html")}`,
        text: titleOf(file),
      }));
      assert.deepEqual(listed, expected);
    });

    test("the task, the import map, the build and the plugin run the same TypeDoc", () => {
      const config = JSON.parse(Deno.readTextFileSync(`${root}deno.json`));
      const docsConfig = JSON.parse(Deno.readTextFileSync(`${root}lessons/_docs/docs.deno.json`));
      const plugin = Deno.readTextFileSync(`${root}lessons/_docs/plugin.ts`);
      const build = Deno.readTextFileSync(`${root}lessons/_docs/build.ts`);
      const pinned = docsConfig.imports.typedoc as string;
      assert.match(pinned, /^npm:typedoc@\d+\.\d+\.\d+$/);
      // The task runs the site's build (TypeDoc, then the playground) with the docs config.
      assert.equal(
        config.tasks.docs,
        "deno run -A --config lessons/_docs/docs.deno.json lessons/_docs/build.ts",
      );
      assert.ok(build.includes(`"${pinned}"`), `the build does not run ${pinned}`);
      assert.ok(plugin.includes(`from "${pinned}"`), `the plugin does not import ${pinned}`);
    });

    test("the docs config pins every npm package the site's build uses, esbuild as the library's", () => {
      const docsConfig = JSON.parse(Deno.readTextFileSync(`${root}lessons/_docs/docs.deno.json`));
      const library = Deno.readTextFileSync(`${root}playground/_library.ts`);
      for (const [name, specifier] of Object.entries<string>(docsConfig.imports)) {
        assert.match(specifier, /^npm:(@[^/]+\/)?[^@]+@\d+\.\d+\.\d+$/, `${name} is not pinned`);
      }
      // The library's browser build runs under the docs config, which resolves the bare name.
      assert.ok(library.includes(`from "esbuild"`), "playground/_library.ts does not use esbuild");
      assert.match(docsConfig.imports.esbuild, /^npm:esbuild@/);
    });

    test("the sidebar lists the API by category, with the bases last", {
      timeout: 120_000,
    }, async () => {
      const { dir } = await site();
      const top = await navigation(dir);
      const categories = top.filter((item) => item.path === undefined).map((item) => item.text);
      assert.deepEqual(categories, [
        "Processes",
        "Pipes and connections",
        "Queues",
        "Synchronization",
        "Shared memory",
        "Pool",
        "Managers",
        "Listener and Client",
        "Contexts and start methods",
        "Errors",
        "Argument types",
        "Bases",
      ], 'every export has a category of its own (no "Other"), in typedoc.json\'s order');
      const under = (category: string): string[] =>
        (top.find((item) => item.text === category)?.children ?? []).map((item) => item.text);
      assert.deepEqual(under("Bases").sort(), ["BaseProxy", "SemLock", "SynchronizedBase"]);
      for (
        const [category, name] of [
          ["Processes", "Process"],
          ["Pipes and connections", "Pipe"],
          ["Queues", "Queue"],
          ["Synchronization", "Lock"],
          ["Shared memory", "Value"],
          ["Shared memory", "RawArray"],
          ["Pool", "Pool"],
          ["Managers", "Manager"],
          ["Listener and Client", "Listener"],
          ["Contexts and start methods", "getContext"],
          ["Errors", "ProcessError"],
        ]
      ) assert.ok(under(category).includes(name), `${name} is not under ${category}`);
      assert.equal(top[0].path, "lessons/README.html", "the lessons come first");
    });

    test("a code block wraps rather than clipping, in a column wide enough for 100 columns", {
      timeout: 120_000,
    }, async () => {
      const { dir } = await site();
      const css = (await Deno.readTextFile(`${dir}/assets/custom.css`)).replace(
        /\/\*.*?\*\//gs,
        "",
      );
      const pre = /(?:^|\})\s*pre\s*\{([^}]*)\}/.exec(css)?.[1] ?? "";
      assert.match(pre, /white-space:\s*pre-wrap/, "pre lines wrap");
      assert.match(pre, /overflow-wrap:\s*anywhere/, "a long word breaks too");
      assert.match(pre, /font-size:\s*0\.75rem/, "12 px code: 100 columns are about 725 px");
      // From 1200 px the sidebars have fixed widths: 1200 - 2 * 32 px padding - 14rem - 13rem
      // leaves 704 px, and 1280 px (a common laptop) 784 px, for a 100-column line's 740 px.
      const grid =
        /grid-template-columns:\s*minmax\(0,\s*(\d+)rem\)\s*minmax\(0,\s*1fr\)\s*minmax\(0,\s*(\d+)rem\)/
          .exec(css);
      assert.ok(grid, "the content column takes what the fixed-width sidebars leave");
      const content = 1280 - 64 - (Number(grid[1]) + Number(grid[2])) * 16;
      assert.ok(content >= 760, `the content column is ${content} px at 1280 px`);
      for (const file of lessonFiles()) {
        const html = await Deno.readTextFile(`${dir}/lessons/${file.replace(/\.md$/, ".html")}`);
        assert.ok(!/<pre[^>]*\sstyle=/.test(html), `a code block of ${file} has its own style`);
      }
    });

    test("every relative link leads to a page, file or anchor of the site", {
      timeout: 120_000,
    }, async () => {
      const { dir, pages } = await site();
      const ids = new Map<string, Set<string>>();
      for (const [path, html] of pages) {
        ids.set(path, new Set([...html.matchAll(/\sid="([^"]+)"/g)].map(([, id]) => id)));
      }
      const broken: string[] = [];
      for (const [path, html] of pages) {
        for (const [, link] of html.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
          if (/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(link)) continue; // absolute: https:, data:, ...
          const [target, anchor] = link.split("#", 2);
          const url = new URL(target, `file:///site/${path}`);
          const resolved = decodeURIComponent(url.pathname).slice("/site/".length);
          const why = target.endsWith(".md")
            ? "a Markdown file, not a page"
            : !(pages.has(resolved) || exists(`${dir}/${resolved}`))
            ? "no such file"
            : anchor && pages.has(resolved) && !ids.get(resolved)!.has(anchor)
            ? "no such anchor"
            : undefined;
          if (why) broken.push(`${path}: ${link} (${why})`);
        }
      }
      assert.deepEqual(broken, []);
    });
  });
}
