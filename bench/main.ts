/**
 * The benchmark suite: the library's workloads under both start methods,
 * the raw floor of this machine, and CPython's equivalents, in one table.
 *
 *     deno task bench [--quick] [--smoke] [--no-python] [--only TEXT] [--out FILE]
 *     deno task bench:bun [same options]
 *
 * Every file under bench/workloads/ describes its workloads (bench/_workload.ts):
 * their rows, their parameters in each mode and CPython's scripts for them;
 * bench/workloads/mod.ts lists them, and this file runs them in turn.
 *
 * See bench/README.md for how to read the table.
 *
 * @module
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { higherIsBetter, stats, toUnit } from "./_measure.ts";
import { pythonExecutable, type PythonRun, runPython } from "./_python.ts";
import { TINYBENCH_VERSION } from "./_tinybench.ts";
import { killLibraryChildren } from "./workloads/library.ts";
import { killFloorPeers } from "./workloads/floor.ts";
import { killPeerProcesses } from "./workloads/_peers.ts";
import { killFreshPrograms } from "./workloads/_fresh.ts";
import { PEER_VERSIONS } from "./peers/_peers.ts";
import { formatTable } from "./_table.ts";
import { type Figure, PEER_METHODS, type WorkloadId, WORKLOADS } from "./_figures.ts";
import type { AnySuite, CommonPlan, Measured, Mode, Row, Size } from "./_workload.ts";
import { SUITES } from "./workloads/mod.ts";

/** The parameters of no one file: the deadline of one measurement. */
const COMMON: Record<Mode, CommonPlan> = {
  full: { deadline: 300_000 },
  quick: { deadline: 120_000 },
  smoke: { deadline: 30_000 },
};

/** The whole plan of a mode: every file's part, then the common part (the JSON's `plan`). */
function planOf(mode: Mode, suites: readonly AnySuite[]): Record<string, unknown> {
  return Object.assign({}, ...suites.map((s) => s.plans[mode]), COMMON[mode]);
}

const USAGE = `Usage: bench/main.ts [--quick] [--smoke] [--no-python] [--only TEXT] [--out FILE]
  --quick      fewer samples (well under two minutes)
  --smoke      a handful of samples: checks the suite runs, measures nothing
  --no-python  leave out CPython (its rows say so)
  --only TEXT  run only the figures whose id contains TEXT (e.g. round_trip, worker)
  --out FILE   write the JSON there instead of bench/results/<runtime>-<date>.json
  --wait-idle SECONDS
               first wait, up to SECONDS, until the machine's CPUs are idle`;

interface Options {
  mode: Mode;
  python: boolean;
  only: string | null;
  out: string | null;
  waitIdle: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { mode: "full", python: true, only: null, out: null, waitIdle: 0 };
  let quick = false;
  let smoke = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") quick = true;
    else if (arg === "--smoke") smoke = true;
    else if (arg === "--no-python") options.python = false;
    else if (arg === "--only" && i + 1 < argv.length) options.only = argv[++i];
    else if (arg === "--out" && i + 1 < argv.length) options.out = argv[++i];
    else if (arg === "--wait-idle" && i + 1 < argv.length) options.waitIdle = Number(argv[++i]);
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`Unknown argument ${arg}\n${USAGE}`);
      process.exit(2);
    }
  }
  options.mode = smoke ? "smoke" : quick ? "quick" : "full";
  return options;
}

const RUNTIME: "deno" | "bun" = "Bun" in globalThis ? "bun" : "deno";
const RUNTIME_VERSION: string = RUNTIME === "bun"
  ? (globalThis as unknown as { Bun: { version: string } }).Bun.version
  : Deno.version.deno;
const RUNTIME_NAME = { deno: "Deno", bun: "Bun", cpython: "CPython" } as const;

function skeleton(
  workload: WorkloadId,
  runtime: Figure["runtime"],
  method: string,
  place: string = method,
): Figure {
  const w = WORKLOADS[workload];
  return {
    id: `${workload}/${runtime}-${method}`,
    workload,
    title: w.title,
    runtime,
    method,
    label: `${RUNTIME_NAME[runtime]} · ${place}`,
    unit: w.unit,
    better: higherIsBetter(w.unit) ? "higher" : "lower",
    median: null,
    min: null,
    max: null,
    samples: 0,
    vsCpythonFork: null,
  };
}

function fill(figure: Figure, latencyMs: number[], size: Size = {}): Figure {
  const w = WORKLOADS[figure.workload] as {
    nominal?: number;
    nominalBytes?: number;
    scaled?: boolean;
  };
  const perSample = figure.unit === "MB/s" ? size.bytes : size.items;
  let values = toUnit(latencyMs, figure.unit, perSample);
  let note: string | undefined;
  if (w.nominal !== undefined && size.items !== undefined && size.items !== w.nominal) {
    if (w.scaled) {
      // A total over fewer items, scaled to the nominal count (the cost is linear in it).
      const factor = w.nominal / size.items;
      values = values.map((v) => v * factor);
      note = `measured on ${count(size.items)}, ×${formatFactor(factor)}`;
    } else note = `${count(size.items)} per sample`;
  }
  if (w.nominalBytes !== undefined && size.bytes !== undefined && size.bytes !== w.nominalBytes) {
    note = `${formatFactor(size.bytes / 2 ** 20)} MiB per sample`;
  }
  const s = stats(values);
  return {
    ...figure,
    ...s,
    ...(size.bytes ? { bytesPerSample: size.bytes } : {}),
    ...(size.items ? { itemsPerSample: size.items } : {}),
    ...(note ? { note } : {}),
  };
}

function count(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function formatFactor(f: number): string {
  return Number.isInteger(f) ? String(f) : f.toFixed(1);
}

function describe(error: unknown): string {
  const text = error instanceof Error
    ? (error.name === "Error" ? error.message : `${error.name}: ${error.message}`)
    : String(error);
  return text.split("\n")[0];
}

/** Runs one measurement with a deadline; a failure or a timeout becomes the row's reason. */
async function measure(
  figure: Figure,
  run: () => Promise<number[] | Measured>,
  deadline: number,
  size: Size = {},
): Promise<Figure> {
  const started = performance.now();
  log(`  ${figure.id} ...`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const work = run();
  work.catch(() => {}); // a late failure after a timeout is not an unhandled rejection
  try {
    const measured = await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${deadline / 1000} s`)),
          deadline,
        );
      }),
    ]);
    const { samples, beside } = Array.isArray(measured) ? { samples: measured } : measured;
    const filled = fill(figure, samples, size);
    const done = beside === undefined
      ? filled
      : { ...filled, note: filled.note ? `${filled.note}; ${beside}` : beside };
    log(
      `  ${figure.id}: ${done.median?.toFixed(2)} ${figure.unit} (${done.samples} samples, ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s)`,
    );
    return done;
  } catch (error) {
    await killLibraryChildren().catch(() => {});
    killFloorPeers();
    killPeerProcesses();
    killFreshPrograms();
    const reason = describe(error);
    log(`  ${figure.id}: skipped: ${reason}`);
    return { ...figure, skipped: reason };
  } finally {
    clearTimeout(timer);
  }
}

/** The share of the machine's CPU time that was busy over the next `ms`. */
async function busy(ms: number): Promise<number> {
  const sum = () =>
    os.cpus().reduce(
      (acc, c) => {
        const t = c.times;
        acc.total += t.user + t.nice + t.sys + t.idle + t.irq;
        acc.idle += t.idle;
        return acc;
      },
      { total: 0, idle: 0 },
    );
  const a = sum();
  await new Promise((r) => setTimeout(r, ms));
  const b = sum();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

/** Waits until the CPUs were under 10% busy for a second, or `seconds` passed; returns the last reading. */
async function settle(seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let reading = await busy(1000);
  while (reading > 0.1 && performance.now() < deadline) {
    log(`  waiting for an idle machine: ${(reading * 100).toFixed(0)}% busy`);
    reading = await busy(1000);
  }
  return reading;
}

function log(text: string): void {
  console.error(text);
}

function pythonFigures(
  run: PythonRun,
  workloads: readonly WorkloadId[],
  contexts: string[],
  sizeOf: (w: WorkloadId) => Size,
): Figure[] {
  const figures: Figure[] = [];
  for (const workload of workloads) {
    for (const context of contexts) {
      const figure = skeleton(workload, "cpython", context);
      if (!run.ok) {
        figures.push({ ...figure, skipped: run.reason });
        continue;
      }
      const result = run.results[context]?.[workload];
      if (!result) figures.push({ ...figure, skipped: "the script reported nothing" });
      else if ("error" in result) figures.push({ ...figure, skipped: result.error });
      else {
        const filled = fill(figure, result.samples_ms, sizeOf(workload));
        const beside = result.beside;
        figures.push(
          beside === undefined
            ? filled
            : { ...filled, note: filled.note ? `${filled.note}; ${beside}` : beside },
        );
      }
    }
  }
  return figures;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2).filter((a) => a !== "--"));
  const plan = planOf(options.mode, SUITES);
  const began = performance.now();
  const date = new Date();
  const wanted = (id: string) => options.only === null || id.includes(options.only);
  const figures: Figure[] = [];
  let pythonVersion: string | null = null;

  log(
    `${RUNTIME_NAME[RUNTIME]} ${RUNTIME_VERSION}, ${os.cpus().length} cores, ${options.mode} run`,
  );
  const busyBefore = await settle(options.waitIdle);
  const loadBefore = os.loadavg()[0];
  if (busyBefore > 0.1) {
    log(
      `  warning: the machine is busy (${(busyBefore * 100).toFixed(0)}% of its CPU time, ` +
        `load average ${loadBefore.toFixed(2)}): figures will be slower and noisier than on ` +
        `an idle machine (--wait-idle SECONDS waits for quiet)`,
    );
  }

  /** The size of one sample of each workload in this mode (the same for every runtime). */
  const sizes = new Map<WorkloadId, Size>();
  /** The workloads this mode leaves out (`measured` said no). */
  const leftOut = new Set<WorkloadId>();
  for (const suite of SUITES) {
    for (const w of suite.workloads) {
      sizes.set(w.id, w.size?.(plan as never) ?? {});
      if (w.measured?.(plan as never) === false) leftOut.add(w.id);
    }
  }
  const sizeOf = (w: WorkloadId): Size => sizes.get(w) ?? {};
  const deadline = plan.deadline as number;

  for (const suite of SUITES) {
    for (const workload of suite.workloads) {
      for (const row of workload.rows as Row<unknown>[]) {
        const f = skeleton(workload.id, RUNTIME, row.method, row.label);
        if (!wanted(f.id) || leftOut.has(workload.id)) continue;
        const problem = row.cannotRun?.() ?? null;
        if (problem !== null) {
          figures.push({ ...f, skipped: problem });
          continue;
        }
        figures.push(
          await measure(
            f,
            () => row.measure(plan),
            row.deadline?.(plan) ?? deadline,
            sizeOf(workload.id),
          ),
        );
      }
      // CPython's script for these workloads, once the last of them ran here.
      for (const baseline of suite.python ?? []) {
        if (baseline.workloads[baseline.workloads.length - 1] !== workload.id) continue;
        const contexts = ["fork", "spawn"];
        const measured = baseline.workloads.filter((w) => !leftOut.has(w));
        const ids = measured.flatMap((w) => contexts.map((c) => `${w}/cpython-${c}`));
        if (!ids.some(wanted)) continue;
        let run: PythonRun;
        if (!options.python) run = { ok: false, reason: "left out by --no-python" };
        else {
          log(`  ${baseline.script} (CPython: ${contexts.join(", ")}) ...`);
          run = await runPython(
            baseline.script,
            { contexts, ...baseline.args(plan as never) },
            deadline * 2,
          );
          if (run.ok) pythonVersion = run.version;
          else log(`  ${baseline.script}: ${run.reason}`);
        }
        figures.push(
          ...pythonFigures(run, measured, contexts, sizeOf).filter((f) => wanted(f.id)),
        );
      }
    }
  }

  // Ratios to CPython fork, workload by workload, and to the best JS pool.
  const order = Object.keys(WORKLOADS);
  figures.sort((a, b) => order.indexOf(a.workload) - order.indexOf(b.workload));
  for (const figure of figures) {
    const reference = figures.find((f) =>
      f.workload === figure.workload && f.id.endsWith("/cpython-fork")
    );
    if (figure.median !== null && reference?.median) {
      figure.vsCpythonFork = figure.median / reference.median;
    }
  }
  const peers = figures.filter((f) =>
    f.workload === "pool.apply_async_20k" && f.median !== null &&
    (PEER_METHODS as readonly string[]).includes(f.method)
  );
  const bestPeer = peers.reduce<Figure | null>(
    (best, f) => (best === null || f.median! > best.median! ? f : best),
    null,
  );
  for (const figure of figures) {
    if (figure.workload !== "pool.apply_async_20k") continue;
    figure.vsBestPeer = figure.median !== null && bestPeer
      ? figure.median / bestPeer.median!
      : null;
  }

  const seconds = (performance.now() - began) / 1000;
  const report = {
    schema: 1,
    runtime: RUNTIME,
    version: RUNTIME_VERSION,
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "unknown",
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: date.toISOString(),
    mode: options.mode,
    only: options.only,
    python: pythonVersion ? { executable: pythonExecutable(), version: pythonVersion } : null,
    tinybench: TINYBENCH_VERSION,
    peers: PEER_VERSIONS,
    commit: gitCommit(),
    /** How busy the machine was before the run (share of CPU time over 1 s), and its load averages. */
    load: {
      busyBefore: Number(busyBefore.toFixed(2)),
      before: Number(loadBefore.toFixed(2)),
      after: Number(os.loadavg()[0].toFixed(2)),
    },
    seconds: Number(seconds.toFixed(1)),
    plan,
    figures,
  };

  const out = options.out ?? path.join(
    path.dirname(fileURLToPath(import.meta.url)),
    "results",
    `${RUNTIME}-${date.toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z")}.json`,
  );
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + "\n");

  console.log(
    `\n${RUNTIME_NAME[RUNTIME]} ${RUNTIME_VERSION}` +
      (pythonVersion ? `, CPython ${pythonVersion}` : "") +
      `, ${report.cores} cores, ${report.date.slice(0, 10)}, ${options.mode} run (${
        seconds.toFixed(0)
      } s, ${
        (busyBefore * 100).toFixed(0)
      }% busy before, load average ${report.load.before} → ${report.load.after})\n`,
  );
  console.log(formatTable(figures));
  console.log(`\nWrote ${out}`);
}

/** The library's commit, with "+edits" when its sources differ from that commit. */
function gitCommit(): string | null {
  try {
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], { stdio: ["ignore", "pipe", "ignore"] })
        .toString().trim();
    const commit = git("rev-parse", "--short", "HEAD");
    const edited = git("status", "--porcelain", "--", "../src", "../mod.ts") !== "";
    return edited ? `${commit}+edits` : commit;
  } catch {
    return null;
  }
}

if (import.meta.main) {
  try {
    await main();
    process.exit(0);
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}
