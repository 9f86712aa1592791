/**
 * TypeDoc plugin for the docs site (`deno task docs`, configured in
 * `typedoc.json`; TypeDoc runs under Deno, which loads this file as it is).
 *
 * - A Markdown page is named after its first `# ` heading: `01. A child
 *   answers through a Pipe, ...` rather than `01_pipe_hello`; for a page that
 *   is not a lesson, the heading up to its first colon (`Lessons`).
 * - The lessons, and any other page under `lessons/`, become children of the
 *   lessons index (`lessons/README.md`), in file name order: numeric order.
 * - A link to a directory leads to the page made from its `README.md`.
 * - Pages made from Markdown files keep their file's path in the site
 *   (`lessons/01_pipe_hello.html`), whatever their title; the `"procs"`
 *   router (`"router": "procs"` in typedoc.json) places everything else as
 *   TypeDoc's default router does (`classes/Process.html`).
 * - Every export of mod.ts is filed under a category named after what a user
 *   looks for (`Processes`, `Pipes and connections`, `Queues`, ...): the
 *   category of the module that defines it (`CATEGORY_BY_MODULE`), or for
 *   the internal bases (`SemLock`, `SynchronizedBase`, `BaseProxy`) `Bases`,
 *   listed last (`CATEGORY_BY_NAME`). An explicit `@category` tag in an
 *   export's JSDoc wins. typedoc.json orders the categories and shows them
 *   in the sidebar.
 * - A lesson's page begins with a link to its playground
 *   (`playground/index.html?lesson=NN`, built by playground/build.ts after
 *   TypeDoc).
 */
// TypeDoc imports this file itself, and Deno resolves a bare "typedoc" from there without the
// import map: hence the full specifier, the same as lessons/_docs/docs.deno.json's (tests/docs_test.ts
// checks it).
import { readFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Application,
  Comment,
  CommentTag,
  type Context,
  Converter,
  type DeclarationReflection,
  type DefaultThemeRenderContext,
  type DocumentReflection,
  JSX,
  KindRouter,
  type NormalizedPath,
  type Reflection,
} from "npm:typedoc@0.28.20";

/** The repository root: page paths are relative to it. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The lessons index; every other page under its directory becomes its child. */
const LESSONS_INDEX = "lessons/README.md";
/** A lesson file: `lessons/NN_slug.md`. */
const LESSON = /^lessons\/\d\d_[^/]*\.md$/;

/**
 * The sidebar's category of each public module's exports, by the module's
 * file name under src/core/ (typedoc.json's `categoryOrder` orders them).
 */
const CATEGORY_BY_MODULE: Readonly<Record<string, string>> = {
  "process.ts": "Processes",
  "connection.ts": "Pipes and connections",
  "queues.ts": "Queues",
  "synchronize.ts": "Synchronization",
  "sharedctypes.ts": "Shared memory",
  "pool.ts": "Pool",
  "managers.ts": "Managers",
  "listener.ts": "Listener and Client",
  "errors.ts": "Errors",
  "context.ts": "Contexts and start methods",
  "types.ts": "Argument types",
};

/** Exports filed elsewhere than their module's category. */
const CATEGORY_BY_NAME: Readonly<Record<string, string>> = {
  // The classes the public ones extend: what they offer is on each subclass's page.
  SemLock: "Bases",
  SynchronizedBase: "Bases",
  BaseProxy: "Bases",
  // Python's multiprocessing.RawValue / RawArray: made by a context, but shared memory.
  RawValue: "Shared memory",
  RawArray: "Shared memory",
};

/**
 * The files an export passes through, from mod.ts to its declaration (`export { x } from ...`
 * hops, then where it is declared), as far as the compiler knows.
 */
const exportChain = (
  context: Context,
  reflection: DeclarationReflection,
): string[] => {
  const files: string[] = [];
  // TypeDoc hands over the declaration's own symbol: find the export of mod.ts by its name.
  const entry = context.getSymbolFromReflection(context.project);
  let symbol = entry === undefined
    ? context.getSymbolFromReflection(reflection)
    : context.checker.getExportsOfModule(entry).find((s) => s.name === reflection.name);
  for (let hops = 0; symbol !== undefined && hops < 10; hops++) {
    const file = symbol.declarations?.[0]?.getSourceFile().fileName;
    if (file !== undefined) files.push(file);
    if ((symbol.flags & 2097152) === 0) break; // 2097152: ts.SymbolFlags.Alias
    symbol = context.checker.getImmediateAliasedSymbol(symbol);
  }
  return files;
};

/** An export's category: by name, else by the first public module it passes through. */
const categoryOf = (
  context: Context,
  reflection: DeclarationReflection,
): string | undefined =>
  CATEGORY_BY_NAME[reflection.name] ??
    exportChain(context, reflection)
      .map((file) => CATEGORY_BY_MODULE[file.split("/").pop()!])
      .find((category) => category !== undefined);

/** The page's Markdown file, relative to the repository root (`lessons/01_pipe_hello.md`). */
const sourceOf = (doc: Reflection): string | undefined => {
  const path = doc.project.files.getReflectionPath(doc);
  return path === undefined ? undefined : relative(ROOT, path);
};

/** The page's title: its first `# ` heading, or for a page that is not a lesson its start. */
const titleOf = (text: string, file: string): string | undefined => {
  const heading = /^# +(.+?)\s*$/m.exec(text)?.[1].replaceAll("`", "");
  if (heading === undefined || LESSON.test(file)) return heading;
  return heading.split(":")[0];
};

/** The link to a lesson's playground, at the top of its page (nothing on other pages). */
const playgroundLink = (context: DefaultThemeRenderContext): JSX.Element => {
  const model = context.page.model;
  const file = model.isDocument() ? sourceOf(model) : undefined;
  if (file === undefined || !LESSON.test(file)) return JSX.createElement(JSX.Fragment, null);
  const number = file.slice("lessons/".length, "lessons/".length + 2);
  return JSX.createElement(
    "a",
    {
      class: "playground-link",
      href: `${context.relativeURL("playground/index.html")}?lesson=${number}`,
    },
    "▶ Run this lesson in the playground",
  );
};

/** Places a Markdown page at its file's path; anything else as the `"kind"` router does. */
class SourcePathRouter extends KindRouter {
  protected override getIdealBaseName(reflection: Reflection): string {
    const file = reflection.isDocument() ? sourceOf(reflection) : undefined;
    if (file === undefined || file.startsWith("..")) {
      return super.getIdealBaseName(reflection);
    }
    return file.replace(/\.(md|markdown)$/, "");
  }
}

/** Called by TypeDoc when it loads the plugin. */
export function load(app: Application): void {
  app.renderer.defineRouter("procs", SourcePathRouter);
  app.renderer.hooks.on("content.begin", playgroundLink);

  app.converter.on(
    Converter.EVENT_CREATE_DECLARATION,
    (context: Context, reflection: DeclarationReflection) => {
      if (!reflection.parent?.isProject()) return;
      if (reflection.comment?.getTag("@category") !== undefined) return;
      const category = categoryOf(context, reflection);
      if (category === undefined) return;
      reflection.comment ??= new Comment();
      reflection.comment.blockTags.push(
        new CommentTag("@category", [{ kind: "text", text: category }]),
      );
    },
  );

  app.converter.on(
    Converter.EVENT_CREATE_DOCUMENT,
    (_context, doc: DocumentReflection) => {
      const path = doc.project.files.getReflectionPath(doc);
      const file = sourceOf(doc);
      if (path === undefined || file === undefined) return;
      const title = titleOf(readFileSync(path, "utf8"), file);
      if (title !== undefined && doc.frontmatter.title === undefined) {
        doc
          .name = title;
      }
      if (/(^|\/)README\.md$/i.test(file)) {
        const dir = dirname(path);
        for (const link of [dir, `${dir}/`]) {
          doc.project.files.registerReflectionPath(link as NormalizedPath, doc);
        }
      }
    },
  );

  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const documents = context.project.documents ?? [];
    const index = documents.find((doc) => sourceOf(doc) === LESSONS_INDEX);
    if (index === undefined) return;
    // At the top of the navigation, not under "Documents" or a category.
    index.frontmatter.group ??= "none";
    index.frontmatter.category ??= "none";
    const indexDir = `${dirname(LESSONS_INDEX)}/`;
    const pages = documents
      .map((doc) => ({ doc, file: sourceOf(doc) ?? "" }))
      .filter(({ doc, file }) => doc !== index && file.startsWith(indexDir))
      .sort((a, b) => a.file < b.file ? -1 : a.file > b.file ? 1 : 0);
    for (const { doc } of pages) {
      context.project.removeChild(doc);
      doc.parent = index;
      index.addChild(doc);
    }
  });
}
