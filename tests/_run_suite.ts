/**
 * `deno task test`: the whole suite, in five parts, each timed:
 *
 * 1. **static**: `deno fmt --check`, `deno lint`, `deno check` (the type
 *    tests among them).
 * 2. **matrix**: every test file under Deno and under Bun, each contract under
 *    both start methods. The files are cut into runs (the contracts of
 *    `spawn_test.ts` and `worker_test.ts` in two halves each, the lessons,
 *    the other files) and the runs of both runtimes go through
 *    `PROCS_TEST_JOBS` slots (3 by default), longest first: most of a run's
 *    time is spent waiting on children and timers, not on the CPU, so three
 *    at a time keep 2 cores busy without starving the timing-sensitive tests.
 * 3. **transports**: the "worker" contracts again with the transports that
 *    are not the runtime's default (`tests/worker_transport_test.ts`, which
 *    runs three test runners of its own side by side), Deno then Bun.
 * 4. **browser**: under Deno, the contracts in Chromium (tests/browser_test.ts,
 *    in two halves) and the lessons' playground (tests/playground_test.ts),
 *    one at a time.
 * 5. **publish**: `deno publish --dry-run` and `deno doc --lint`.
 *
 * A run's output is printed whole when it ends (runs never interleave),
 * with each runner's summary as it printed it (`ok | N passed | N failed`,
 * ` N pass` / ` N fail`), so `.ci/run` can count them. It ends with each
 * part's wall time and each run's.
 *
 * @module
 */

const encoder = new TextEncoder();
const say = (line: string): void => {
  write(encoder.encode(`${line}\n`));
};
function write(bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
}

const BUN = ["npx", "--yes", "bun@1.4.5", "test", "--timeout", "120000"];
const DENO = [Deno.execPath(), "test", "-A", "--no-check"];

/** One test runner's run: its command, and the time it took when measured (to order them). */
interface Run {
  name: string;
  command: string[];
  env?: Record<string, string>;
  /** Seconds it took alone on the 2-core machine: the longest start first. */
  estimate: number;
}

interface Outcome {
  name: string;
  code: number;
  ms: number;
}

/** The files of the matrix that are not one of the runs cut out of it. */
function otherFiles(): string[] {
  const own = new Set([
    "spawn_test.ts",
    "worker_test.ts",
    "worker_transport_test.ts",
    "lessons_test.ts",
    "browser_test.ts",
    "playground_test.ts",
  ]);
  return [...Deno.readDirSync(new URL("./", import.meta.url))]
    .map((entry) => entry.name)
    .filter((name) => name.endsWith("_test.ts") && !own.has(name))
    .sort()
    .map((name) => `./tests/${name}`);
}

function matrixRuns(): Run[] {
  const runs: Run[] = [];
  // Seconds each took alone (measured on the 2-core machine, Deno 2.9.6,
  // Bun 1.4.5); only the order depends on them.
  const halves = { deno: { spawn: 58, worker: 62 }, bun: { spawn: 47, worker: 45 } };
  for (const runtime of ["deno", "bun"] as const) {
    for (const method of ["spawn", "worker"] as const) {
      for (const half of ["first", "second"] as const) {
        runs.push({
          name: `${runtime} ${method} contracts (${half} half)`,
          command: [...(runtime === "deno" ? DENO : BUN), `./tests/${method}_test.ts`],
          env: { PROCS_TEST_CONTRACTS: half },
          estimate: halves[runtime][method],
        });
      }
    }
  }
  // The lessons run under Deno only: they run each lesson under Bun too.
  runs.push({ name: "deno lessons", command: [...DENO, "./tests/lessons_test.ts"], estimate: 72 });
  runs.push({ name: "deno other files", command: [...DENO, ...otherFiles()], estimate: 60 });
  runs.push({ name: "bun other files", command: [...BUN, ...otherFiles()], estimate: 45 });
  return runs.sort((a, b) => b.estimate - a.estimate);
}

// Chromium is driven from Deno only (the files skip under Bun and say why): the library's
// contracts in a page, in halves as the other contract runs, and the lessons' playground. They run
// one at a time after the rest: a browser beside the timing-sensitive runs (the lessons that time
// parallel against serial, the chaos tests) slowed them past what they assume on 2 cores.
const BROWSER_RUNS: Run[] = [
  ...(["first", "second"] as const).map((half) => ({
    name: `deno browser contracts (${half} half)`,
    command: [...DENO, "./tests/browser_test.ts"],
    env: { PROCS_TEST_CONTRACTS: half },
    estimate: half === "first" ? 100 : 125,
  })),
  { name: "deno playground", command: [...DENO, "./tests/playground_test.ts"], estimate: 90 },
];

const TRANSPORT_RUNS: Run[] = [
  { name: "deno", command: [...DENO, "./tests/worker_transport_test.ts"], estimate: 80 },
  { name: "bun", command: [...BUN, "./tests/worker_transport_test.ts"], estimate: 52 },
];

const STATIC: Run = { name: "static", command: ["deno", "task", "test:static"], estimate: 7 };
const PUBLISH: Run = { name: "publish", command: ["deno", "task", "test:publish"], estimate: 2 };

function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** Runs `run`, holding its output (stdout and stderr as they arrive) until it ends, then printing it. */
async function execute(run: Run): Promise<Outcome> {
  const started = performance.now();
  const [program, ...args] = run.command;
  const child = new Deno.Command(program === "deno" ? Deno.execPath() : program, {
    args,
    env: run.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const chunks: Uint8Array[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) chunks.push(chunk);
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  const outcome = { name: run.name, code: status.code, ms: performance.now() - started };
  for (const chunk of chunks) write(chunk);
  const verdict = outcome.code === 0 ? "passed" : `FAILED (exit code ${outcome.code})`;
  say(`=== ${run.name}: ${verdict} in ${formatMs(outcome.ms)}`);
  return outcome;
}

/** Runs `runs` through `slots` at a time, in order; resolves with every outcome. */
async function throughSlots(runs: Run[], slots: number): Promise<Outcome[]> {
  const queue = [...runs];
  const outcomes: Outcome[] = [];
  const slot = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) outcomes.push(await execute(run));
  };
  await Promise.all(Array.from({ length: Math.min(slots, runs.length) }, slot));
  return outcomes;
}

const JOBS = Math.max(1, Number(Deno.env.get("PROCS_TEST_JOBS") ?? 3) || 3);
const matrix = matrixRuns();

say(
  `Running the test suite: static checks; the matrix (every file under Deno and Bun, every ` +
    `contract under "spawn" and "worker": ${matrix.length} runs, ${JOBS} at a time); the ` +
    `"worker" contracts again over the other transports; the contracts and the lessons in ` +
    `Chromium; the publish checks. About 16 minutes ` +
    `on 2 cores (more on a busy machine); each run's output is printed when it ends.`,
);
const started = performance.now();
const parts: { name: string; ms: number; outcomes: Outcome[] }[] = [];
/** Runs a part and records it; false if anything in it failed. */
async function part(name: string, body: () => Promise<Outcome[]>): Promise<boolean> {
  const t0 = performance.now();
  const outcomes = await body();
  parts.push({ name, ms: performance.now() - t0, outcomes });
  return outcomes.every((o) => o.code === 0);
}

const ok = await part("static", async () => [await execute(STATIC)]) &&
  await part("matrix", () => throughSlots(matrix, JOBS)) &&
  await part("transports", () => throughSlots(TRANSPORT_RUNS, 1)) &&
  await part("browser", () => throughSlots(BROWSER_RUNS, 1)) &&
  await part("publish", async () => [await execute(PUBLISH)]);

for (const p of parts) {
  if (p.outcomes.length > 1) {
    say(`=== ${p.name}: ${p.outcomes.map((o) => `${o.name} ${formatMs(o.ms)}`).join(", ")}`);
  }
}
say(
  `=== parts: ${parts.map((p) => `${p.name} ${formatMs(p.ms)}`).join(", ")} ` +
    `(matrix: ${JOBS} runs at a time); total ${formatMs(performance.now() - started)}`,
);
const failed = parts.flatMap((p) => p.outcomes).filter((o) => o.code !== 0);
if (!ok || failed.length > 0) {
  say(`=== FAILED: ${failed.map((o) => o.name).join(", ")}`);
  Deno.exit(1);
}
