/**
 * Deno only: a "spawn" child gets the permissions of its parent and no
 * more. (Bun has no permission system; a worker shares its parent's.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runScript, RUNTIME, testdata } from "./_helpers.ts";

test("a Deno child has its parent's permissions and no more", { timeout: 60_000 }, async (t) => {
  if (RUNTIME !== "deno") return t.skip("permissions are a Deno feature");
  const result = await runScript(testdata("permissions_parent.ts"), [], {
    // The machinery needs read, write and net (unix sockets) and run (spawn).
    denoFlags: [
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-run",
      "--allow-env=PROCS_MP_START_METHOD",
    ],
  });
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(report.parent, report.child);
  assert.equal(report.child.read, "granted");
  assert.equal(report.child.run, "granted");
  assert.equal(report.child.net, "granted");
  assert.notEqual(report.child.ffi, "granted");
  assert.notEqual(report.child.sys, "granted");
  assert.notEqual(report.child.env, "granted");
});
