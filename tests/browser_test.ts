/**
 * The library in a web page, in Debian's Chromium (`/usr/bin/chromium`, or
 * `$CHROMIUM`; `.ci/run` installs it): every contract of tests/contract/
 * under the `"worker"` start method, run in a cross-origin-isolated page
 * one test at a time (tests/browser/contracts.html, with `node:test` and
 * `node:assert/strict` shims), and the page's own behaviours
 * (tests/browser/_page_behaviours.ts: no `"spawn"`, no sockets, the
 * workers' output in order) in an isolated page and in one without
 * COOP/COEP. A contract test that needs what a page lacks (sockets, files,
 * starting programs, the environment, blocking the main thread) skips
 * there and says why (tests/contract/_page.ts); every other one must pass.
 *
 * The pages are driven by playground/_test_driver.ts, run under the docs
 * config (`lessons/_docs/docs.deno.json`, where playwright-core and esbuild
 * are pinned), so that the root lock keeps only what the lessons need.
 * `PROCS_TEST_CONTRACTS=first|second` runs half of the contracts, as for
 * the other contract runs (tests/_run_suite.ts).
 *
 * Runs under `deno test` only: the browser is driven once, from Deno (the
 * page's library is the same whichever runtime serves it).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const CHROMIUM = ("Deno" in globalThis && Deno.env.get("CHROMIUM")) || "/usr/bin/chromium";
const FIRST = ["process", "pipe", "queue", "page"];
const SECOND = ["synchronize", "sharedctypes", "pool", "manager"];

interface ContractRun {
  contract: string;
  isolated: boolean;
  results: { name: string; status: string; ms: number; error?: string; reason?: string }[];
  error?: string;
  workersLeft: number;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Runs the driver over `contracts`; resolves with each contract's run. */
async function drive(contracts: string[], isolated: boolean): Promise<Map<string, ContractRun>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      "lessons/_docs/docs.deno.json",
      "playground/_test_driver.ts",
      ...contracts,
      ...(isolated ? [] : ["--no-isolation"]),
    ],
    cwd: ROOT,
    env: { CHROMIUM },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `the browser driver failed:\n${stderr}\n${stdout}`);
  const runs = new Map<string, ContractRun>();
  for (const line of stdout.split("\n").filter((l) => l.startsWith("{"))) {
    const run = JSON.parse(line) as ContractRun;
    runs.set(run.contract, run);
  }
  return runs;
}

/** Asserts a contract's run: no failure, something passed, every skip says why. */
function check(run: ContractRun | undefined, contract: string): void {
  assert.ok(run, `no result for the ${contract} contract`);
  assert.equal(run.error, undefined, `the ${contract} page failed:\n${run.error}`);
  const failed = run.results.filter((r) => r.status === "failed");
  assert.deepEqual(
    failed.map((r) => `${r.name}\n${r.error}`),
    [],
    `${failed.length} of the ${contract} contract's tests failed in the page`,
  );
  assert.ok(run.results.some((r) => r.status === "passed"), `no ${contract} test passed`);
  for (const r of run.results.filter((r) => r.status === "skipped")) {
    assert.ok(r.reason, `'${r.name}' skips in a page without saying why`);
  }
  assert.equal(run.workersLeft, 0, `workers still running after the ${contract} contract`);
}

if (!("Deno" in globalThis) || "Bun" in globalThis) {
  test.skip("the library in a web page: Chromium is driven from Deno only", () => {});
} else if (!exists(CHROMIUM)) {
  test.skip(
    `the library in a web page: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`,
    () => {},
  );
} else {
  const half = Deno.env.get("PROCS_TEST_CONTRACTS") ?? "";
  const contracts = half === "first" ? FIRST : half === "second" ? SECOND : [...FIRST, ...SECOND];
  describe('the library in a web page (Chromium, "worker")', () => {
    let runs: Promise<Map<string, ContractRun>> | null = null;
    const all = () => runs ??= drive(contracts, true);
    for (const contract of contracts) {
      test(`the ${contract} contract passes in a cross-origin-isolated page`, {
        timeout: 20 * 60_000,
      }, async () => {
        check((await all()).get(contract), contract);
      });
    }
    if (contracts.includes("page")) {
      test("the page's own behaviours hold in a page that is not cross-origin isolated", {
        timeout: 5 * 60_000,
      }, async () => {
        const run = (await drive(["page"], false)).get("page");
        check(run, "page");
        assert.ok(
          run!.results.some((r) =>
            r.status === "passed" && /without cross-origin isolation/.test(r.name)
          ),
          "the test for a page without isolation did not run",
        );
      });
    }
  });
}
