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
