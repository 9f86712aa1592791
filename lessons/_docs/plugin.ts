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
 */
// TypeDoc imports this file itself, and Deno resolves a bare "typedoc" from there without the
// import map: hence the full specifier, the same as lessons/_docs/deno.json's (tests/docs_test.ts
// checks it).
import { readFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Application,
  Converter,
  type DocumentReflection,
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

/** Places a Markdown page at its file's path; anything else as the `"kind"` router does. */
class SourcePathRouter extends KindRouter {
  protected override getIdealBaseName(reflection: Reflection): string {
    const file = reflection.isDocument() ? sourceOf(reflection) : undefined;
    if (file === undefined || file.startsWith("..")) return super.getIdealBaseName(reflection);
    return file.replace(/\.(md|markdown)$/, "");
  }
}

/** Called by TypeDoc when it loads the plugin. */
export function load(app: Application): void {
  app.renderer.defineRouter("procs", SourcePathRouter);

  app.converter.on(Converter.EVENT_CREATE_DOCUMENT, (_context, doc: DocumentReflection) => {
    const path = doc.project.files.getReflectionPath(doc);
    const file = sourceOf(doc);
    if (path === undefined || file === undefined) return;
    const title = titleOf(readFileSync(path, "utf8"), file);
    if (title !== undefined && doc.frontmatter.title === undefined) doc.name = title;
    if (/(^|\/)README\.md$/i.test(file)) {
      const dir = dirname(path);
      for (const link of [dir, `${dir}/`]) {
        doc.project.files.registerReflectionPath(link as NormalizedPath, doc);
      }
    }
  });

  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const documents = context.project.documents ?? [];
    const index = documents.find((doc) => sourceOf(doc) === LESSONS_INDEX);
    if (index === undefined) return;
    index.frontmatter.group ??= "none"; // at the top of the navigation, not under "Documents"
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
