/**
 * The benchmark suite runs: `bench/main.ts --quick --smoke` (a handful of
 * samples) in a subprocess of this runtime writes its JSON with every
 * workload, and the library's own rows have figures. Under `bun test` it
 * runs the Bun variant (`bun --install=fallback`, which fetches the pinned
 * tinybench and JS pools into Bun's cache on first use). Every workload file
 * is in the registry bench/main.ts loops over, and bench/README.md's
 * generated table is what bench/report.ts makes of the runs it names.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const RUNTIME: "deno" | "bun" = "Bun" in globalThis ? "bun" : "deno";
const MAIN = fileURLToPath(new URL("../bench/main.ts", import.meta.url));
/** The benchmarks' own config: their npm packages stay out of the root import map and lock. */
const CONFIG = fileURLToPath(new URL("../bench/bench.deno.json", import.meta.url));
const WORKLOADS_DIR = fileURLToPath(new URL("../bench/workloads/", import.meta.url));

/** The JS pools next to the library's applyAsync: any of them may hang or fail on a runtime. */
const PEERS = [
  "piscina-default",
  "piscina-tuned",
  "tinypool-default",
  "tinypool-tuned",
  "workerpool-default",
  "workerpool-tuned",
];

/** Every row the suite reports: the library's and the floor's for this runtime, and CPython's. */
const EXPECTED = [
  ...[
    "process.start_join",
    "pipe.round_trip",
    "pipe.throughput_1mib",
    "pipe.large_64mib",
    "queue.one_producer",
    "queue.two_by_two",
    "queue.large_64mib",
    "lock.uncontended",
    "value.locked_increments",
    "pool.map_200k",
    "pool.map_20k_chunk1",
    "pool.apply_async_20k",
    "pool.create_first_map",
    "pool.first_map_200k",
    "pool.close_join",
    "manager.dict_pair",
    "cpu.speedup",
    "memory.idle_worker",
    "memory.parent_pool8",
  ].flatMap((w) => [
    `${w}/${RUNTIME}-spawn`,
    `${w}/${RUNTIME}-worker`,
    `${w}/cpython-fork`,
    `${w}/cpython-spawn`,
  ]),
  `lock.uncontended/${RUNTIME}-owner`,
  `objects.make_free/${RUNTIME}-spawn`,
  `objects.make_free/${RUNTIME}-worker`,
  ...[...PEERS, "round-robin", "round-robin-batched"].map((m) =>
    `pool.apply_async_20k/${RUNTIME}-${m}`
  ),
  `floor.unix_socket/${RUNTIME}-process-native`,
  `floor.unix_socket/${RUNTIME}-process-node-net`,
  `floor.unix_socket/${RUNTIME}-process-same-cpu`,
  `floor.unix_socket/${RUNTIME}-process-cross-cpu`,
  `floor.unix_socket/${RUNTIME}-thread`,
  `floor.unix_socket_throughput_1mib/${RUNTIME}-process-native`,
  `floor.unix_socket_throughput_1mib/${RUNTIME}-process-node-net`,
  `floor.post_message/${RUNTIME}-worker`,
  `floor.worker_start/${RUNTIME}-empty`,
  `floor.worker_start/${RUNTIME}-library`,
];

interface Figure {
  id: string;
  workload: string;
  runtime: string;
  method: string;
  median: number | null;
  min: number | null;
  max: number | null;
  samples: number;
  skipped?: string;
}

function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let output = "";
    child.stdout!.on("data", (d: Uint8Array) => (output += new TextDecoder().decode(d)));
    child.stderr!.on("data", (d: Uint8Array) => (output += new TextDecoder().decode(d)));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test(`bench --quick --smoke writes its JSON with every workload [${RUNTIME}]`, {
  timeout: 90_000,
}, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "procs-bench-smoke-"));
  const out = path.join(dir, "smoke.json");
  try {
    const flags = ["--quick", "--smoke", "--out", out];
    const args = RUNTIME === "deno"
      ? ["run", "-A", "--config", CONFIG, MAIN, ...flags]
      : ["--install=fallback", MAIN, ...flags];
    // A deadline against a hang, not a speed target (targets live in the benchmarks).
    const { code, output } = await run(process.execPath, args, 80_000);
    assert.equal(code, 0, `the suite failed:\n${output}`);
    assert.match(output, /\| workload +\| runs on/, "the table was printed");

    const report = JSON.parse(fs.readFileSync(out, "utf8"));
    assert.equal(report.runtime, RUNTIME);
    assert.equal(report.mode, "smoke");
    assert.match(report.version, /^\d+\.\d+\.\d+/);
    assert.ok(report.cores >= 1);
    assert.ok(!Number.isNaN(Date.parse(report.date)));

    const figures = report.figures as Figure[];
    assert.deepEqual(figures.map((f) => f.id).sort(), [...EXPECTED].sort());
    for (const f of figures) {
      if (f.skipped !== undefined) {
        // Only CPython (no python3 here), the pinned floors (no taskset, one
        // vCPU), the JS pools (some hang or fail on some runtimes) and, off
        // Linux, the memory rows (they read /proc) may be missing; the reason
        // says why.
        assert.ok(
          f.runtime === "cpython" || f.id.endsWith("-cpu") || PEERS.includes(f.method) ||
            (f.workload === "memory.idle_worker" || f.workload === "memory.parent_pool8") &&
              process.platform !== "linux",
          `${f.id} did not run: ${f.skipped}`,
        );
        assert.ok(f.skipped.length > 0);
        assert.equal(f.median, null);
        continue;
      }
      assert.ok(f.samples > 0, `${f.id} has no samples`);
      for (const key of ["median", "min", "max"] as const) {
        assert.ok(typeof f[key] === "number" && f[key]! > 0, `${f.id}: ${key} is ${f[key]}`);
      }
      assert.ok(f.min! <= f.median! && f.median! <= f.max!, `${f.id}: min ≤ median ≤ max`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("every file under bench/workloads/ exports a suite that bench/workloads/mod.ts lists", async () => {
  const { SUITES } = await import("../bench/workloads/mod.ts");
  const files = fs.readdirSync(WORKLOADS_DIR).filter((f) =>
    f.endsWith(".ts") && !f.startsWith("_") && f !== "mod.ts"
  );
  assert.ok(files.length >= 7, `only ${files.length} workload files`);
  const suites = [];
  for (const file of files) {
    const module = await import(new URL(`../bench/workloads/${file}`, import.meta.url).href);
    assert.ok(module.suite, `bench/workloads/${file} exports no suite`);
    assert.ok(SUITES.includes(module.suite), `bench/workloads/${file} is not in mod.ts`);
    suites.push(module.suite);
  }
  assert.equal(SUITES.length, suites.length, "mod.ts lists a suite of no workload file");
  const ids = SUITES.flatMap((s) => s.workloads.map((w) => w.id));
  assert.equal(new Set(ids).size, ids.length, "a workload is in two files");
});

test("bench/README.md's generated table is up to date with bench/published/", async () => {
  const { README, regenerate } = await import("../bench/report.ts");
  const readme = fs.readFileSync(README, "utf8");
  assert.match(readme, /<!-- report:begin \S[^>]* -->/);
  assert.equal(
    regenerate(readme),
    readme,
    "bench/README.md is out of date: deno run -R -W bench/report.ts --write",
  );
});
