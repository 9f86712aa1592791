/**
 * Deno only: a "spawn" child gets the permissions of its parent and no
 * more, and a program without the permissions the library needs fails once,
 * before it starts anything, listing every flag missing. (Bun has no
 * permission system; a worker shares its parent's.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { runScript, RUNTIME, testdata } from "./_helpers.ts";

/** The repository (the library and the tests). */
const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The library's own sources, without the tests. */
const LIBRARY = `${REPO}/src,${REPO}/mod.ts`;

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

/** The flags each start method needs (see the README's "Permissions (Deno)"). */
const NEEDS: Record<string, string[]> = {
  spawn: ["--allow-read", "--allow-write", "--allow-net", "--allow-run"],
  worker: ["--allow-read", "--allow-write", "--allow-net"],
  listener: ["--allow-read", "--allow-write", "--allow-net"],
};

/**
 * Runs permissions_needed.ts with `flags` (stdin is not a terminal, so Deno
 * never prompts). Through `Deno.Command`: Deno's `node:child_process` grants
 * all permissions to a `deno` it starts without permission flags.
 */
async function runNeeded(what: string, flags: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, testdata("permissions_needed.ts"), what],
    stdin: "null",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(output.stdout);
  const stderr = decoder.decode(output.stderr);
  return { code: output.code, stdout, stderr, output: stdout + stderr };
}

/** Asserts the run failed once, with a PermissionError naming exactly `missing`. */
function assertRefused(
  result: Awaited<ReturnType<typeof runNeeded>>,
  what: string,
  missing: string[],
): void {
  assert.notEqual(result.code, 0, result.output);
  assert.doesNotMatch(result.stdout, /ok/);
  const line = result.stderr.split("\n").find((l) => l.includes("PermissionError"));
  assert.ok(line, `expected a PermissionError:\n${result.stderr}`);
  const listed = line.slice(line.indexOf("needs")).match(/--allow-[a-z]+/g) ?? [];
  assert.deepEqual(listed, missing, line);
  // The command to run instead holds every flag needed, and the README's table is named.
  const method = what.replace("pool-", "");
  assert.ok(
    result.stderr.includes(`deno run ${NEEDS[method].join(" ")} `),
    result.stderr,
  );
  assert.match(result.stderr, /README\.md#permissions-deno/);
  // One failure, from the library, not Deno's own per-permission error.
  assert.doesNotMatch(result.stderr, /NotCapable|Requires \w+ access/);
}

for (const what of ["spawn", "worker", "pool-spawn", "pool-worker", "listener"]) {
  test(`without flags, ${what} fails once listing every permission`, {
    timeout: 60_000,
  }, async (t) => {
    if (RUNTIME !== "deno") return t.skip("permissions are a Deno feature");
    const method = what.replace("pool-", "");
    assertRefused(await runNeeded(what, []), what, NEEDS[method]);
    assertRefused(await runNeeded(what, ["--no-prompt"]), what, NEEDS[method]);
  });
}

test("with some flags, only the missing ones are listed", { timeout: 60_000 }, async (t) => {
  if (RUNTIME !== "deno") return t.skip("permissions are a Deno feature");
  assertRefused(
    await runNeeded("spawn", ["--no-prompt", "--allow-read", "--allow-net"]),
    "spawn",
    ["--allow-write", "--allow-run"],
  );
  assertRefused(await runNeeded("worker", ["--allow-write", "--allow-net"]), "worker", [
    "--allow-read",
  ]);
  // Write granted, but not where the private directory is made.
  assertRefused(
    await runNeeded("worker", ["--allow-read", "--allow-net", `--allow-write=${REPO}`]),
    "worker",
    ["--allow-write"],
  );
});

test("permissions held only for the paths the library uses are enough", {
  timeout: 60_000,
}, async (t) => {
  if (RUNTIME !== "deno") return t.skip("permissions are a Deno feature");
  const tmp = mkdtempSync(join(tmpdir(), "procs-mp-perm-test-"));
  try {
    for (const what of ["spawn", "worker"]) {
      const flags = [
        "--no-prompt",
        "--allow-env=TMPDIR",
        `--allow-read=${tmp},${REPO}`,
        `--allow-write=${tmp}`,
        "--allow-net",
        ...(what === "spawn" ? [`--allow-run=${process.execPath}`] : []),
      ];
      const result = await runNeeded(what, flags, { TMPDIR: tmp });
      assert.equal(result.code, 0, result.output);
      assert.match(result.stdout, /^ok$/m);
      // The module the child imports lies outside the paths read is granted for.
      const outside = await runNeeded(
        what,
        flags.map((f) => f.startsWith("--allow-read=") ? `--allow-read=${tmp},${LIBRARY}` : f),
        { TMPDIR: tmp },
      );
      assertRefused(outside, what, ["--allow-read"]);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
