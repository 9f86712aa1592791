/**
 * workerpool's worker: registers `square`. The parent puts the URL that
 * loads workerpool in `BENCH_WORKERPOOL_URL` (a worker cannot rely on the
 * parent's import map or Bun's auto-install).
 *
 * @module
 */

import process from "node:process";
import type * as WorkerpoolModule from "workerpool";

const loaded = await import(process.env.BENCH_WORKERPOOL_URL!) as typeof WorkerpoolModule & {
  default?: typeof WorkerpoolModule;
};
(loaded.default ?? loaded).worker({ square: (x: number) => x * x });
