/**
 * PROCS_MP_TRANSPORT picks how "worker" children talk to the threads of
 * their OS process: `ring` (connected through MessagePorts via the
 * process's hub, the bytes through shared-memory rings; the default),
 * `message-port` (the bytes posted on the ports) or `socket` (unix sockets
 * in the private directory, as "spawn" children always do). Each case runs
 * a program whose worker child starts a worker and a spawn grandchild, and
 * counts the streams opened through the hub; then the "worker" contracts
 * (tests/worker_test.ts, which run with the default) run again with the
 * other transports, in test runners of their own side by side (the
 * variable is read once, when the host is built): every contract with
 * `socket`, and with `message-port` the half of them this runtime takes
 * (Deno the first, Bun the second: the two runtimes together cover every
 * contract, in half the time).
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { runScript, RUNTIME, testdata } from "./_helpers.ts";

const SCRIPT = testdata("print_transport.ts");
const T = { timeout: 120_000 };
/** The default of each runtime (see src/adapters/deno_host.ts and bun_host.ts). */
const DEFAULT: Record<typeof RUNTIME, "ring" | "message-port" | "socket"> = {
  deno: "ring",
  bun: "ring",
};
/** The half of the contracts this runtime runs with `message-port` (see the module doc). */
const PORT_HALF: Record<typeof RUNTIME, "first" | "second"> = { deno: "first", bun: "second" };

/**
 * Runs half of the contracts of tests/worker_test.ts (`half`, see there) in
 * a test runner of its own with PROCS_MP_TRANSPORT=`transport`: its exit
 * code, its output and how many tests ran.
 */
async function runWorkerContracts(
  transport: string,
  half: "first" | "second",
): Promise<{ code: number | null; output: string; ran: number }> {
  const file = new URL("./worker_test.ts", import.meta.url).pathname;
  const args = RUNTIME === "deno"
    ? ["test", "-A", "--no-check", file]
    : ["test", "--timeout", "120000", file];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      NO_COLOR: "1",
      PROCS_MP_TRANSPORT: transport,
      PROCS_TEST_CONTRACTS: half,
    },
  });
  let output = "";
  child.stdout.on("data", (d: Uint8Array) => (output += new TextDecoder().decode(d)));
  child.stderr.on("data", (d: Uint8Array) => (output += new TextDecoder().decode(d)));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  // Deno counts steps ("| 9 passed (319 steps)"), Bun tests ("320 pass").
  const ran = Number(
    /\((\d+) steps\)/.exec(output)?.[1] ?? /^\s*(\d+) pass$/m.exec(output)?.[1],
  );
  return { code, output, ran };
}

describe("PROCS_MP_TRANSPORT", () => {
  it(
    "ring: worker children's streams are connected through the hub, their bytes in shared memory",
    T,
    async () => {
      const result = await runScript(SCRIPT, [], { env: { PROCS_MP_TRANSPORT: "ring" } });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^transports ring,unix$/m);
      assert.match(result.stdout, /^children worker, spawn; exitcode 0$/m);
      const main = Number(/^main port streams (\d+)$/m.exec(result.stdout)?.[1]);
      const child = Number(/^child port streams (\d+)$/m.exec(result.stdout)?.[1]);
      assert.ok(main >= 1, result.stdout);
      assert.ok(child >= 1, result.stdout);
    },
  );

  it("message-port: worker children talk through MessagePorts", T, async () => {
    const result = await runScript(SCRIPT, [], { env: { PROCS_MP_TRANSPORT: "message-port" } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^transports message-port,unix$/m);
    assert.match(result.stdout, /^children worker, spawn; exitcode 0$/m);
    // The main thread accepted its worker child's channel over a port, and
    // the child its own worker child's; the spawn grandchild used a socket.
    const main = Number(/^main port streams (\d+)$/m.exec(result.stdout)?.[1]);
    const child = Number(/^child port streams (\d+)$/m.exec(result.stdout)?.[1]);
    assert.ok(main >= 1, result.stdout);
    assert.ok(child >= 1, result.stdout);
  });

  it("socket: no MessagePort stream at all", T, async () => {
    const result = await runScript(SCRIPT, [], { env: { PROCS_MP_TRANSPORT: "socket" } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^transports unix$/m);
    assert.match(result.stdout, /^children worker, spawn; exitcode 0$/m);
    assert.match(result.stdout, /^main port streams 0$/m);
    assert.match(result.stdout, /^child port streams 0$/m);
  });

  it("unset: this runtime's default", T, async () => {
    const result = await runScript(SCRIPT, [], { env: { PROCS_MP_TRANSPORT: undefined } });
    assert.equal(result.code, 0, result.stderr);
    const expected = DEFAULT[RUNTIME] === "socket" ? "unix" : `${DEFAULT[RUNTIME]},unix`;
    assert.match(result.stdout, new RegExp(`^transports ${expected}$`, "m"));
  });

  it("an unknown name fails and names the choices", T, async () => {
    const result = await runScript(SCRIPT, [], { env: { PROCS_MP_TRANSPORT: "carrier-pigeon" } });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /PROCS_MP_TRANSPORT must be 'ring', 'message-port' or 'socket'/);
  });

  it(
    'every "worker" contract holds with the other transports',
    { timeout: 900_000 },
    async () => {
      // Runners side by side, each taking half of the contracts.
      const runs: [string, "first" | "second"][] = [
        ["socket", "first"],
        ["socket", "second"],
        ["message-port", PORT_HALF[RUNTIME]],
      ];
      assert.equal(
        DEFAULT[RUNTIME],
        "ring",
        "the runs above are the transports besides the default",
      );
      const groups = await Promise.all(
        runs.map(([transport, half]) => runWorkerContracts(transport, half)),
      );
      for (const [i, { code, output, ran }] of groups.entries()) {
        assert.equal(code, 0, `${runs[i].join(", ")}:\n${output.slice(-4000)}`);
        assert.ok(ran >= 30, `only ${ran} contract tests ran:\n${output.slice(-2000)}`);
      }
    },
  );
});
