/**
 * The private directory (`procs-mp-*` in the temp directory) is removed
 * however the program ends that the library can see: SIGINT, SIGTERM, an
 * uncaught error, an unhandled rejection. The program still ends as it
 * would have: killed by the signal, or status 1 with the error printed; a
 * "spawn" child still goes once its parent is gone. Each case runs a real
 * program (tests/testdata/exit_cleanup.ts) with `TMPDIR` pointed at a fresh
 * directory, under the runtime running the tests, for both start methods.
 * A program that listens to a signal itself keeps it. (SIGKILL cannot be
 * seen: its directory stays.)
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pidAlive, runScript, RUNTIME, testdata, waitFor } from "./_helpers.ts";

const PROGRAM = testdata("exit_cleanup.ts");

/** How a program ended. */
interface Ended {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the program; `onStdout` sees its output so far and may signal it.
 * Under Deno through `Deno.Command`: Deno's `node:child_process` reports
 * the signal it sent as the way a child ended, even when the child caught
 * it and exited 0.
 */
async function runProgram(
  args: string[],
  env: Record<string, string>,
  onStdout: (text: string, kill: (signal: NodeJS.Signals) => void) => void,
): Promise<Ended> {
  if (RUNTIME !== "deno") {
    return await runScript(PROGRAM, args, { env, onStdout });
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PROGRAM, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let stdout = "";
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      onStdout(stdout, (signal) => child.kill(signal as Deno.Signal));
    }
  })();
  const stderr = new Response(child.stderr).text();
  const status = await child.status;
  await reading;
  return {
    code: status.signal ? null : status.code,
    signal: status.signal,
    stdout,
    stderr: await stderr,
  };
}

/** Runs the program in a fresh temp directory; `signal` is sent once it printed "ready". */
async function run(method: string, how: string, signal?: NodeJS.Signals) {
  const tmp = mkdtempSync(join(tmpdir(), "exit-cleanup-test-"));
  let sent = false;
  try {
    const result = await runProgram([method, how], { TMPDIR: tmp }, (text, kill) => {
      if (signal && !sent && /^ready \d+$/m.test(text)) {
        sent = true;
        kill(signal);
      }
    });
    const ready = result.stdout.match(/^ready (\d+)$/m);
    assert.ok(ready, `the program never got ready: ${result.stderr}`);
    return { ...result, child: Number(ready[1]), left: readdirSync(tmp) };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

for (const method of ["spawn", "worker"]) {
  describe(`the private directory on every way out [${method}] [${RUNTIME}]`, () => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      test(`${signal}: removed, and the program dies by ${signal}`, {
        timeout: 60_000,
      }, async () => {
        const r = await run(method, "signal", signal);
        assert.equal(r.signal, signal, `code ${r.code}: ${r.stderr}`);
        assert.deepEqual(r.left.filter((name) => name.startsWith("procs-mp-")), []);
        if (method === "spawn") await waitFor(() => !pidAlive(r.child), "the child to go");
      });
    }

    test("a SIGINT the program listens to is its own: it runs on, and cleans up at its end", {
      timeout: 60_000,
    }, async () => {
      const r = await run(method, "handled", "SIGINT");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^caught SIGINT$/m);
      assert.deepEqual(r.left.filter((name) => name.startsWith("procs-mp-")), []);
    });

    for (
      const [how, message] of [
        ["throw", "boom from the parent"],
        ["reject", "rejected in the parent"],
      ]
    ) {
      test(
        `${
          how === "throw" ? "an uncaught error" : "an unhandled rejection"
        }: removed, printed, status 1`,
        {
          timeout: 60_000,
        },
        async () => {
          const r = await run(method, how);
          assert.equal(r.code, 1, r.stderr);
          assert.ok(r.stderr.includes(message), r.stderr);
          assert.deepEqual(r.left.filter((name) => name.startsWith("procs-mp-")), []);
          if (method === "spawn") await waitFor(() => !pidAlive(r.child), "the child to go");
        },
      );
    }
  });
}
