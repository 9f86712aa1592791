/**
 * `deno task test`: the whole suite. Says up front what runs and about how
 * long it takes, runs the static checks, then the Deno half (`deno task
 * test:deno`) and the Bun half (`deno task test:bun`) one after the other
 * (side by side with `PROCS_TEST_PARALLEL=1`), then the
 * publish checks, and ends with each part's wall time.
 *
 * The two halves run at once because most of their time is spent waiting on
 * children, not on the CPU; each runs its files in parallel too (`deno test
 * --parallel` with three at a time, the slowest files named first so the three
 * longest start at once; `bun test
 * --parallel=2`). Their output is not interleaved: the Deno half's
 * streams as it runs; the Bun half's is held until the Deno half is done,
 * then printed and streamed from there. Each half's summary (`ok | N passed
 * | N failed`, ` N pass` / ` N fail`) is printed as the runner printed it, so
 * `.ci/run` can count them.
 *
 * @module
 */

const encoder = new TextEncoder();
const say = (line: string): void => {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
};

/** One part of the suite: a `deno task` name and what it is called in the report. */
interface Part {
  name: string;
  task: string;
}

interface Outcome {
  name: string;
  code: number;
  ms: number;
}

const STATIC: Part = { name: "static", task: "test:static" };
/**
 * `PROCS_TEST_PARALLEL=1`: the halves side by side, each running its files in
 * parallel (about 5 minutes on 2 cores instead of 14). Not the default yet: on
 * 2 cores the load makes three timing-sensitive tests fail now and then (a
 * manager server's RSS falling back, a pool's give-up window, queue chaos).
 */
const PARALLEL = Deno.env.get("PROCS_TEST_PARALLEL") === "1";
const DENO: Part = { name: "deno", task: PARALLEL ? "test:deno:parallel" : "test:deno" };
const BUN: Part = { name: "bun", task: PARALLEL ? "test:bun:parallel" : "test:bun" };
const PUBLISH: Part = { name: "publish", task: "test:publish" };

function formatMs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/**
 * Runs `part`, handing each chunk of its output (stdout and stderr, in the
 * order they arrive) to `sink`.
 */
async function run(part: Part, sink: (chunk: Uint8Array) => void): Promise<Outcome> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", part.task],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) sink(chunk);
  };
  const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
  return { name: part.name, code: status.code, ms: performance.now() - started };
}

const live = (chunk: Uint8Array): void => {
  let written = 0;
  while (written < chunk.length) written += Deno.stdout.writeSync(chunk.subarray(written));
};

function report(outcome: Outcome): void {
  const verdict = outcome.code === 0 ? "passed" : `FAILED (exit code ${outcome.code})`;
  say(`=== ${outcome.name}: ${verdict} in ${formatMs(outcome.ms)}`);
}

say(
  `Running the test suite: static checks, then the Deno and Bun halves ${
    PARALLEL ? "side by side" : "one after the other"
  } (every contract under both start methods, "spawn" and "worker"), then the publish checks; ` +
    `about ${PARALLEL ? 5 : 14} minutes on 2 cores (more on a busy machine).`,
);
const outcomes: Outcome[] = [];
const started = performance.now();

const staticChecks = await run(STATIC, live);
report(staticChecks);
outcomes.push(staticChecks);

if (staticChecks.code === 0) {
  // The Bun half's output waits in `held` until the Deno half is done.
  let held: Uint8Array[] | null = [];
  const bunSink = (chunk: Uint8Array) => held === null ? live(chunk) : held.push(chunk);
  const bunFirst = PARALLEL ? run(BUN, bunSink) : null;
  const denoRun = await run(DENO, live);
  report(denoRun);
  for (const chunk of held) live(chunk);
  held = null;
  const bunDone = await (bunFirst ?? run(BUN, live));
  report(bunDone);
  outcomes.push(denoRun, bunDone);
  if (denoRun.code === 0 && bunDone.code === 0) {
    const publish = await run(PUBLISH, live);
    report(publish);
    outcomes.push(publish);
  }
}

const failed = outcomes.filter((o) => o.code !== 0);
say(
  `=== parts: ${outcomes.map((o) => `${o.name} ${formatMs(o.ms)}`).join(", ")} ` +
    `(deno and bun ${PARALLEL ? "side by side" : "one after the other"}); total ${
      formatMs(performance.now() - started)
    }`,
);
if (failed.length > 0) {
  say(`=== FAILED: ${failed.map((o) => o.name).join(", ")}`);
  Deno.exit(1);
}
