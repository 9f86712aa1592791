/**
 * The table: one Markdown table, a row per figure, grouped by workload.
 *
 * @module
 */

import type { Figure } from "./_figures.ts";

/** A number with about three significant digits, never in exponent form (k, M above 10^4). */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${formatNumber(value / 1e6)}M`;
  if (abs >= 1e4) return `${formatNumber(value / 1e3)}k`;
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toFixed(digits);
}

/**
 * "2.31× slower" / "1.20× faster" / "same", from a ratio of medians (or
 * "—"); for a resident size (MiB), "2.31× more" / "1.20× less".
 */
function ratioText(r: number | null | undefined, better: Figure["better"], unit: string): string {
  if (r === null || r === undefined) return "—";
  const worse = better === "lower" ? r > 1 : r < 1;
  const factor = r >= 1 ? r : 1 / r;
  if (factor < 1.005) return "same";
  // A speed-up is compared as such: "0.80× as much" reads better than "slower".
  if (unit === "×") return `${r.toFixed(2)}× as much`;
  if (unit === "MiB") return `${factor.toFixed(2)}× ${r > 1 ? "more" : "less"}`;
  return `${factor.toFixed(2)}× ${worse ? "slower" : "faster"}`;
}

/** "2.31× slower" / "1.20× faster" / "reference", from a ratio of medians. */
export function formatRatio(figure: Figure): string {
  if (figure.runtime === "cpython" && figure.method === "fork") return "reference";
  return ratioText(figure.vsCpythonFork, figure.better, figure.unit);
}

/** The same against the best JS peer, for the rows that have one. */
export function formatPeerRatio(figure: Figure): string {
  if (figure.vsBestPeer === undefined) return "";
  if (figure.vsBestPeer !== null && Math.abs(figure.vsBestPeer - 1) < 1e-12) {
    return "best JS peer";
  }
  return ratioText(figure.vsBestPeer, figure.better, figure.unit);
}

/**
 * The figures as a Markdown table: `compact` for the terminal, or
 * `markdown` laid out as `deno fmt` lays out a table (bench/README.md).
 */
export function formatTable(figures: Figure[], style: "compact" | "markdown" = "compact"): string {
  const peers = figures.some((f) => f.vsBestPeer !== undefined);
  const rows: string[][] = [[
    "workload",
    "runs on",
    "median",
    "min",
    "max",
    "samples",
    "vs CPython fork",
    ...(peers ? ["vs best JS peer"] : []),
  ]];
  let previous = "";
  for (const f of figures) {
    const title = f.workload === previous ? "" : `${f.title} (${f.unit})`;
    previous = f.workload;
    const label = f.note ? `${f.label} (${f.note})` : f.label;
    const peer = peers ? [f.median === null ? "" : formatPeerRatio(f)] : [];
    if (f.median === null) {
      rows.push([title, label, "—", "—", "—", "0", `cannot run: ${f.skipped}`, ...peer]);
    } else {
      rows.push([
        title,
        label,
        formatNumber(f.median),
        formatNumber(f.min!),
        formatNumber(f.max!),
        String(f.samples),
        formatRatio(f),
        ...peer,
      ]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => [...r[c]].length)));
  const numeric = [false, false, true, true, true, true, false, false];
  const line = (r: string[]) =>
    `| ${
      r.map((cell, c) =>
        numeric[c]
          ? cell.padStart(widths[c])
          : cell.padEnd(widths[c] + cell.length - [...cell].length)
      ).join(" | ")
    } |`;
  const rule = style === "markdown"
    ? `| ${
      widths.map((w, c) => (numeric[c] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")
    } |`
    : `|${
      widths.map((w, c) => (numeric[c] ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")
    }|`;
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}
