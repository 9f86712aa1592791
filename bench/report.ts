/**
 * Merges the runs of several runtimes into one Markdown table, and writes
 * the generated sections of bench/README.md:
 *
 *     deno run -R bench/report.ts                      # newest deno-*.json and bun-*.json
 *     deno run -R bench/report.ts a.json b.json        # these runs
 *     deno run -R -W bench/report.ts --write           # rewrite bench/README.md's sections
 *     deno run -R -W bench/report.ts --write a.json b.json
 *                                                      # copy these runs to bench/published/
 *                                                      # and show them in the README
 *     deno run -R bench/report.ts --check              # fail if the README is out of date
 *
 * A generated section of the README lies between `<!-- report:begin FILES -->`
 * and `<!-- report:end -->`, where FILES are the runs it shows (paths
 * relative to bench/, committed under bench/published/); everything outside
 * the markers is written by hand.
 *
 * Each run's rows keep the ratio to the CPython fork measured in the same
 * run; CPython's rows are shown once per run, so their spread shows too.
 *
 * @module
 */

import * as fs from "node:fs";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Figure, WORKLOADS } from "./_figures.ts";
import { formatTable } from "./_table.ts";

/** The JSON a run writes (the fields the report reads). */
export interface Run {
  runtime: "deno" | "bun";
  version: string;
  cores: number;
  cpu: string;
  date: string;
  mode: string;
  seconds: number;
  commit: string | null;
  python: { version: string } | null;
  load?: { busyBefore?: number; before: number; after: number };
  figures: Figure[];
}

function newest(dir: string, runtime: string): string | null {
  if (!fs.existsSync(dir)) return null;
  const files = fs.readdirSync(dir).filter((f) =>
    f.startsWith(`${runtime}-`) && f.endsWith(".json")
  )
    .sort();
  return files.length ? path.join(dir, files[files.length - 1]) : null;
}

/** The Markdown for `runs`: a line per run, then the merged table. */
export function report(runs: Run[], style: "compact" | "markdown" = "compact"): string {
  const name = { deno: "Deno", bun: "Bun" };
  const lines = runs.map((r) =>
    `- ${name[r.runtime]} ${r.version}` +
    (r.python ? ` with CPython ${r.python.version}` : "") +
    `: ${
      r.date.slice(0, 16).replace("T", " ")
    } UTC, ${r.mode} run of ${r.seconds} s, ${r.cores} cores (${r.cpu})` +
    (r.commit ? `, library at ${r.commit}` : "") +
    (r.load?.busyBefore !== undefined
      ? `, ${Math.round(r.load.busyBefore * 100)}% busy before`
      : "") +
    (r.load ? `, load average ${r.load.before} → ${r.load.after}` : "")
  );
  const rows: Figure[] = [];
  for (const workload of Object.keys(WORKLOADS)) {
    for (const cpython of [false, true]) {
      for (const run of runs) {
        for (const f of run.figures) {
          if (f.workload !== workload || (f.runtime === "cpython") !== cpython) continue;
          rows.push(
            cpython && runs.length > 1
              ? { ...f, label: `${f.label} (${name[run.runtime]} run)` }
              : f,
          );
        }
      }
    }
  }
  const items = style === "markdown" ? lines.map((l) => wrap(l, 100)) : lines;
  return `${items.join("\n")}\n\n${formatTable(rows, style)}`;
}

/** A list item wrapped at `width` columns as `deno fmt` wraps it (continuation lines indented). */
function wrap(item: string, width: number): string {
  const out: string[] = [];
  let line = "";
  for (const word of item.split(" ")) {
    const next = line === "" ? word : `${line} ${word}`;
    if ([...next].length > width && line !== "") {
      out.push(line);
      line = `  ${word}`;
    } else line = next;
  }
  out.push(line);
  return out.join("\n");
}

const BENCH = path.dirname(fileURLToPath(import.meta.url));
/** The README whose sections `--write` generates. */
export const README: string = path.join(BENCH, "README.md");
/** Where the runs a README section shows are kept (committed, unlike bench/results/). */
export const PUBLISHED: string = path.join(BENCH, "published");

const SECTION = /<!-- report:begin ([^>]*?) -->\n[\s\S]*?<!-- report:end -->/g;

/**
 * `readme` with each generated section rebuilt from the runs its marker
 * names (paths relative to `bench`), or from `files` for the first section
 * when given.
 */
export function regenerate(readme: string, bench: string = BENCH, files?: string[]): string {
  let first = true;
  return readme.replace(SECTION, (_, names: string) => {
    const list = first && files ? files : names.trim().split(/\s+/);
    first = false;
    const runs = list.map((f) => JSON.parse(fs.readFileSync(path.join(bench, f), "utf8")) as Run);
    return `<!-- report:begin ${list.join(" ")} -->\n\n${
      report(runs, "markdown")
    }\n\n<!-- report:end -->`;
  });
}

/** Copies runs to bench/published/ and returns their names relative to bench/. */
function publish(files: string[]): string[] {
  fs.mkdirSync(PUBLISHED, { recursive: true });
  return files.map((f) => {
    const name = path.basename(f);
    const to = path.join(PUBLISHED, name);
    if (path.resolve(f) !== to) fs.copyFileSync(f, to);
    return path.relative(BENCH, to);
  });
}

function readmeMain(args: string[]): void {
  const write = args.includes("--write");
  const files = args.filter((a) => !a.startsWith("--"));
  const before = fs.readFileSync(README, "utf8");
  if (before.search(SECTION) < 0) {
    console.error(`No <!-- report:begin FILES --> ... <!-- report:end --> section in ${README}`);
    process.exit(1);
  }
  const after = regenerate(before, BENCH, write && files.length ? publish(files) : undefined);
  if (write) {
    if (after !== before) fs.writeFileSync(README, after);
    console.log(after === before ? `${README} is up to date` : `Wrote ${README}`);
  } else if (after !== before) {
    console.error(`${README} is out of date: deno run -R -W bench/report.ts --write`);
    process.exit(1);
  }
}

if (import.meta.main && process.argv.some((a) => a === "--write" || a === "--check")) {
  readmeMain(process.argv.slice(2));
} else if (import.meta.main) {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");
  const args = process.argv.slice(2);
  const files = args.length
    ? args
    : ["deno", "bun"].map((r) => newest(dir, r)).filter((f): f is string => f !== null);
  if (files.length === 0) {
    console.error(`No runs in ${dir}: run \`deno task bench\` first`);
    process.exit(1);
  }
  const runs = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")) as Run);
  console.log(report(runs));
}
