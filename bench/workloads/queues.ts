/**
 * The queue workloads: one producer process and the parent consuming, and
 * two producer processes with two consumer processes. Every child is
 * started by `../_targets.ts`; each gets commands on a pipe of its own, so
 * one sample moves a batch of items between children that are already up.
 *
 * @module
 */

import { type Connection, Pipe, type Process, Queue, type StartMethod } from "../../mod.ts";
import { consumer, producer, startChild } from "../_targets.ts";
import { type Plan, sample } from "../_measure.ts";
import { perMethod, type Suite } from "../_workload.ts";

type Target = typeof producer | typeof consumer;

/** Starts one child per target with (its end of a new pipe, `q`); runs `body`; stops them. */
async function withChildren<T>(
  method: StartMethod,
  targets: Target[],
  body: (q: Queue<number | null>, conns: Connection[]) => Promise<T>,
): Promise<T> {
  const q = new Queue<number | null>();
  const conns: Connection[] = [];
  const children: Process[] = [];
  try {
    for (const target of targets) {
      const [mine, theirs] = Pipe();
      children.push(startChild(method, target, [theirs, q]));
      theirs.close();
      conns.push(mine);
    }
    const result = await body(q, conns);
    for (const conn of conns) await conn.send(null);
    for (const p of children) {
      await p.join();
      if (p.exitcode !== 0) throw new Error(`a queue child exited with ${p.exitcode}`);
    }
    return result;
  } finally {
    for (const conn of conns) conn.close();
    for (const p of children) {
      if (p.isAlive()) {
        p.kill();
        await p.join();
      }
    }
  }
}

/** Latency (ms) of the parent getting `items` items that one producer child puts. */
export function queueOneProducer(
  method: StartMethod,
  plan: Plan,
  items: number,
): Promise<number[]> {
  return withChildren(method, [producer], async (q, [conn]) => {
    await conn.send([1, false]);
    await q.get();
    return await sample(`queue.one_producer ${method}`, async () => {
      await conn.send([items, false]);
      for (let i = 0; i < items; i++) await q.get();
    }, plan);
  });
}

/**
 * Latency (ms) of two producer children putting `items / 2` items each (and
 * an end mark) while two consumer children get them all.
 */
export function queueTwoByTwo(method: StartMethod, plan: Plan, items: number): Promise<number[]> {
  return withChildren(method, [producer, producer, consumer, consumer], async (_q, conns) => {
    const producers = conns.slice(0, 2);
    const consumers = conns.slice(2);
    const batch = async (n: number) => {
      for (const conn of consumers) await conn.send(true);
      for (const conn of producers) await conn.send([n / 2, true]);
      const counts = await Promise.all(consumers.map((c) => c.recv() as Promise<number>));
      const got = counts[0] + counts[1];
      if (got !== n) throw new Error(`the consumers got ${got} items, not ${n}`);
    };
    await batch(2);
    return await sample(`queue.two_by_two ${method}`, () => batch(items), plan);
  });
}

/** This file's part of the plan. */
export interface QueuesPlan {
  /** Queue, one producer: the plan and the items of one sample. */
  queue: Plan;
  queueItems: number;
  /** Queue, 2 producers × 2 consumers. */
  queue22: Plan;
  queue22Items: number;
}

/** The two queue workloads, and CPython's equivalents. */
export const suite: Suite<QueuesPlan> = {
  plans: {
    full: {
      queue: { iterations: 5, time: 0, warmup: 1 },
      queueItems: 100_000,
      queue22: { iterations: 3, time: 0, warmup: 0 },
      queue22Items: 100_000,
    },
    quick: {
      queue: { iterations: 3, time: 0, warmup: 1 },
      queueItems: 20_000,
      queue22: { iterations: 3, time: 0, warmup: 0 },
      queue22Items: 10_000,
    },
    smoke: {
      queue: { iterations: 2, time: 0, warmup: 0 },
      queueItems: 1000,
      queue22: { iterations: 2, time: 0, warmup: 0 },
      queue22Items: 1000,
    },
  },
  workloads: [
    {
      id: "queue.one_producer",
      size: (plan) => ({ items: plan.queueItems }),
      rows: perMethod((method, plan) => queueOneProducer(method, plan.queue, plan.queueItems)),
    },
    {
      id: "queue.two_by_two",
      size: (plan) => ({ items: plan.queue22Items }),
      rows: perMethod((method, plan) => queueTwoByTwo(method, plan.queue22, plan.queue22Items)),
    },
  ],
  python: [{
    script: "queues.py",
    workloads: ["queue.one_producer", "queue.two_by_two"],
    args: (plan) => ({
      one_producer: { plan: plan.queue, items: plan.queueItems },
      two_by_two: { plan: plan.queue22, items: plan.queue22Items },
    }),
  }],
};
