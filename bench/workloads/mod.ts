/**
 * The registry: every file under bench/workloads/ (but the private `_*.ts`)
 * exports a `suite`, listed here in run order. bench/main.ts runs them in
 * turn; tests/bench_smoke_test.ts checks that none is left out.
 *
 * @module
 */

import type { AnySuite } from "../_workload.ts";
import { suite as library } from "./library.ts";
import { suite as queues } from "./queues.ts";
import { suite as large } from "./large.ts";
import { suite as locks } from "./locks.ts";
import { suite as objects } from "./objects.ts";
import { suite as pool } from "./pool.ts";
import { suite as managers } from "./managers.ts";
import { suite as memory } from "./memory.ts";
import { suite as floor } from "./floor.ts";

/** Every file's suite, in run order. */
export const SUITES: readonly AnySuite[] = [
  library,
  queues,
  large,
  locks,
  objects,
  pool,
  managers,
  memory,
  floor,
] as AnySuite[];
