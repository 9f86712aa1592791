/**
 * Runs one JS pool (or the hand-written floor) on the applyAsync workload
 * in a process of its own, so that a pool that hangs or crashes on this
 * runtime costs a timeout, not the suite:
 *
 *     deno run -A bench/peers/run.ts '{"method": "piscina-default", "tasks": 20000, "plan": {...}}'
 *     bun --install=fallback bench/peers/run.ts '...'
 *
 * One sample is `tasks` tasks `x * x` submitted at once and every result
 * awaited. The last line of stdout is `{"samples_ms": [...]}`.
 *
 * @module
 */

import process from "node:process";
import type { PeerMethod } from "../_figures.ts";
import { type Plan, sample } from "../_measure.ts";
import {
  loadPiscina,
  loadTinypool,
  loadWorkerpool,
  peerSpecifier,
  PISCINA_TUNED,
  ROUND_ROBIN_BATCH,
  TINYPOOL_TUNED,
  TINYPOOL_TUNED_NO_ATOMICS,
} from "./_peers.ts";

/** A pool as the workload sees it. */
interface PeerPool {
  /** Submits `x * x` for x in 0 … n-1 at once and resolves with the results. */
  run(n: number): Promise<number[]>;
  close(): Promise<unknown>;
}

const SQUARE = new URL("./square.ts", import.meta.url).href;

/** Submits every task through `one` and awaits them all. */
function all(n: number, one: (x: number) => Promise<number>): Promise<number[]> {
  const results = new Array<Promise<number>>(n);
  for (let i = 0; i < n; i++) results[i] = one(i);
  return Promise.all(results);
}

async function makePool(method: PeerMethod): Promise<PeerPool> {
  switch (method) {
    case "piscina-default":
    case "piscina-tuned": {
      const { Piscina } = await loadPiscina();
      const pool = new Piscina({
        filename: SQUARE,
        minThreads: 2,
        maxThreads: 2,
        ...(method === "piscina-tuned" ? { concurrentTasksPerWorker: PISCINA_TUNED } : {}),
      });
      return { run: (n) => all(n, (x) => pool.run(x)), close: () => pool.destroy() };
    }
    case "tinypool-default":
    case "tinypool-tuned": {
      const { Tinypool } = await loadTinypool();
      const pool = new Tinypool({
        filename: SQUARE,
        minThreads: 2,
        maxThreads: 2,
        ...(method === "tinypool-tuned"
          ? {
            concurrentTasksPerWorker: TINYPOOL_TUNED,
            ...(TINYPOOL_TUNED_NO_ATOMICS ? { useAtomics: false } : {}),
          }
          : {}),
      });
      return { run: (n) => all(n, (x) => pool.run(x)), close: () => pool.destroy() };
    }
    case "workerpool-default":
    case "workerpool-tuned": {
      const loaded = await loadWorkerpool();
      const workerpool = (loaded as typeof loaded & { default?: typeof loaded }).default ?? loaded;
      process.env.BENCH_WORKERPOOL_URL = import.meta.resolve(peerSpecifier("workerpool"));
      const script = new URL("./workerpool_worker.ts", import.meta.url);
      const pool = method === "workerpool-default"
        ? workerpool.pool(script.pathname, { minWorkers: 2, maxWorkers: 2 })
        : workerpool.pool(script.href, {
          minWorkers: 2,
          maxWorkers: 2,
          workerType: "web",
          workerOpts: { type: "module" },
        });
      return {
        run: (n) => all(n, (x) => pool.exec("square", [x]) as Promise<number>),
        close: async () => {
          await pool.terminate(true);
        },
      };
    }
    case "round-robin":
    case "round-robin-batched":
      return roundRobin(method === "round-robin" ? 1 : ROUND_ROBIN_BATCH);
  }
}

/**
 * The floor: two Web Workers, tasks dealt to them in turn, `batch` tasks per
 * message, one promise per task settled by its answer.
 */
function roundRobin(batch: number): PeerPool {
  const url = new URL("./round_robin_worker.ts", import.meta.url);
  const workers = [0, 1].map(() => new Worker(url, { type: "module" }));
  let settle: ((value: number) => void)[] = [];
  for (const worker of workers) {
    worker.onmessage = (event: MessageEvent) => {
      const answers = event.data as number[];
      for (let i = 0; i < answers.length; i += 2) settle[answers[i]](answers[i + 1]);
    };
  }
  return {
    run(n) {
      settle = new Array(n);
      const results = new Array<Promise<number>>(n);
      let next = 0;
      let pending: number[] = [];
      for (let i = 0; i < n; i++) {
        results[i] = new Promise<number>((resolve) => (settle[i] = resolve));
        pending.push(i, i);
        if (pending.length === 2 * batch || i === n - 1) {
          workers[next].postMessage(pending);
          next = 1 - next;
          pending = [];
        }
      }
      return Promise.all(results);
    },
    close: () => Promise.resolve(workers.forEach((w) => w.terminate())),
  };
}

async function main(): Promise<void> {
  const { method, tasks, plan } = JSON.parse(process.argv[2]) as {
    method: PeerMethod;
    tasks: number;
    plan: Plan;
  };
  const pool = await makePool(method);
  const check = (results: number[], n: number) => {
    if (results.length !== n || results[n - 1] !== (n - 1) * (n - 1)) {
      throw new Error(`${method} answered something else`);
    }
  };
  check(await pool.run(8), 8); // every worker is up
  console.log("ready");
  const samples = await sample(`pool.apply_async_20k ${method}`, async () => {
    check(await pool.run(tasks), tasks);
  }, plan);
  console.log(JSON.stringify({ samples_ms: samples }));
  // Some pools take long to close, or never do on this runtime: the figure is out already.
  await Promise.race([pool.close().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
}

try {
  await main();
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  process.exit(1);
}
