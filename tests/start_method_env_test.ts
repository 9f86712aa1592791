/**
 * PROCS_MP_START_METHOD picks the default start method of a program (read
 * through the host, with no permission prompt); an unknown name is
 * CPython's ValueError. One program per case, under this test's runtime.
 */

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runScript, testdata } from "./_helpers.ts";

const SCRIPT = testdata("print_start_method.ts");
const T = { timeout: 60_000 };

describe("PROCS_MP_START_METHOD", () => {
  it("unset: the default is spawn", T, async () => {
    const result = await runScript(SCRIPT, [], { env: { PROCS_MP_START_METHOD: undefined } });
    assert.match(result.stdout, /^default spawn$/m, result.stderr);
    assert.match(result.stdout, /^child in another$/m);
  });

  it("worker: the default is worker, and children are started that way", T, async () => {
    const result = await runScript(SCRIPT, [], { env: { PROCS_MP_START_METHOD: "worker" } });
    assert.match(result.stdout, /^default worker$/m, result.stderr);
    assert.match(result.stdout, /^child in this process$/m);
  });

  it("an unknown name fails with CPython's message", T, async () => {
    const result = await runScript(SCRIPT, [], { env: { PROCS_MP_START_METHOD: "fork" } });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Cannot find context for 'fork'/);
  });
});
