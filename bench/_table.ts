/**
 * The table: one Markdown table, a row per figure, grouped by workload.
 *
 * @module
 */

import type { Figure } from "./_figures.ts";

/** A number with about three significant digits, never in exponent form. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toFixed(digits);
}

/** "2.31× slower" / "1.20× faster" / "reference", from a ratio of medians. */
export function formatRatio(figure: Figure): string {
  if (figure.runtime === "cpython" && figure.method === "fork") return "reference";
  const r = figure.vsCpythonFork;
  if (r === null) return "—";
  const worse = figure.better === "lower" ? r > 1 : r < 1;
  const factor = r >= 1 ? r : 1 / r;
  if (factor < 1.005) return "same";
  return `${factor.toFixed(2)}× ${worse ? "slower" : "faster"}`;
}

/** The figures as a Markdown table. */
export function formatTable(figures: Figure[]): string {
  const rows: string[][] = [[
    "workload",
    "runs on",
    "median",
    "min",
    "max",
    "samples",
    "vs CPython fork",
  ]];
  let previous = "";
  for (const f of figures) {
    const title = f.workload === previous ? "" : `${f.title} (${f.unit})`;
    previous = f.workload;
    if (f.median === null) {
      rows.push([title, f.label, "—", "—", "—", "0", `cannot run: ${f.skipped}`]);
    } else {
      rows.push([
        title,
        f.label,
        formatNumber(f.median),
        formatNumber(f.min!),
        formatNumber(f.max!),
        String(f.samples),
        formatRatio(f),
      ]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => [...r[c]].length)));
  const numeric = [false, false, true, true, true, true, false];
  const line = (r: string[]) =>
    `| ${
      r.map((cell, c) =>
        numeric[c]
          ? cell.padStart(widths[c])
          : cell.padEnd(widths[c] + cell.length - [...cell].length)
      ).join(" | ")
    } |`;
  const rule = `|${
    widths.map((w, c) => (numeric[c] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")
  }|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}
