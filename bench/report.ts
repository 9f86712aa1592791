/**
 * Merges the runs of several runtimes into one Markdown table (the one in
 * bench/README.md):
 *
 *     deno run -R bench/report.ts                 # newest deno-*.json and bun-*.json
 *     deno run -R bench/report.ts a.json b.json   # these runs
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
export function report(runs: Run[]): string {
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
  return `${lines.join("\n")}\n\n${formatTable(rows)}`;
}

if (import.meta.main) {
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
