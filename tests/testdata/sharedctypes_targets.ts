/**
 * Functions that children run in the shared values contract. They are
 * exported (and re-exported by the contract) so a child finds them by name.
 */
import type {
  Connection,
  CValue,
  Event,
  Lock,
  RLock,
  Synchronized,
  SynchronizedArray,
} from "../../mod.ts";

/** Lets the other processes run (one macrotask), so races have room to happen. */
function pause(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Sets a Value from what it held, a bigint Value, a wrapping Value and two array items. */
export async function setValuesAndItems(
  v: Synchronized,
  big: Synchronized,
  small: Synchronized,
  arr: SynchronizedArray,
): Promise<void> {
  await v.set(Number(await v.get()) + 32);
  await big.set(2n ** 62n + 1n);
  await small.set(200); // a 'b' wraps to -56
  await arr.set(1, 2.5);
  await arr.set(-1, -1);
}

/** Sends what the child sees of an array, and how an out-of-range index fails there. */
export async function reportArray(conn: Connection, arr: SynchronizedArray): Promise<void> {
  const failure = async (run: () => Promise<unknown>) => {
    try {
      await run();
      return "no error";
    } catch (error) {
      return `${(error as Error).name}:${error instanceof RangeError}`;
    }
  };
  await conn.send({
    typecode: arr.typecode,
    length: arr.length,
    all: await arr.toArray(),
    tail: await arr.slice(1),
    middle: await arr.slice(1, -1),
    last: await arr.get(-1),
    getOutOfRange: await failure(() => arr.get(arr.length)),
    setOutOfRange: await failure(() => arr.set(-arr.length - 1, 0)),
    hasLock: arr.getLock() !== null,
  });
  conn.close();
}

/** Sends the values of Values and arrays found nested in an object, then bumps each. */
export async function bumpNested(
  conn: Connection,
  holder: { counter: Synchronized; list: [SynchronizedArray, Synchronized] },
): Promise<void> {
  const [arr, flag] = holder.list;
  await conn.send([await holder.counter.get(), await arr.toArray(), await flag.get()]);
  await holder.counter.update((x) => Number(x) + 1);
  await arr.update(0, (x) => Number(x) + 1);
  await flag.update((x) => (x as bigint) + 1n);
  conn.close();
}

/** `n` read-modify-writes through `update` (each pausing while it holds the lock). */
export async function incrementWithUpdate(
  v: Synchronized,
  arr: SynchronizedArray,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    await v.update(async (x) => {
      await pause();
      return Number(x) + 1;
    });
    await arr.update(i % 2, async (x) => {
      await pause();
      return Number(x) + 1;
    });
  }
}

/** `n` read-then-write increments of `v`, each made while holding `lock`. */
export async function incrementUnderLock(
  v: Synchronized,
  lock: Lock | RLock,
  n: number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    try {
      const x = Number(await v.get());
      await pause();
      await v.set(x + 1);
    } finally {
      await lock.release();
    }
  }
}

/** Reports whether the child's `getLock()` is free, then updates the value (waiting for the lock). */
export async function tryLockThenUpdate(conn: Connection, v: Synchronized): Promise<void> {
  const lock = v.getLock();
  await conn.send(lock === null ? "no lock" : await lock.acquire({ block: false }));
  await v.update((x) => Number(x) + 1);
  conn.close();
}

/** Sends whether the child's copy of `v` has a lock. */
export async function reportHasLock(conn: Connection, v: Synchronized): Promise<void> {
  await conn.send(v.getLock() !== null);
  conn.close();
}

/** Sets `v` and an array item, says so through `ready`, and stays alive until `release`. */
export async function setThenWait(
  v: Synchronized,
  arr: SynchronizedArray,
  ready: Event,
  release: Event,
): Promise<void> {
  await v.set(1234);
  await arr.set(2, 7.25);
  await ready.set();
  await release.wait(30_000);
  // Written after the release: the parent sees it once it has joined.
  await v.set(5678);
}

/**
 * Waits (blocking its own thread) for the parent to store 1 in `control[0]`,
 * then reads and writes `v` with the parent's event loop blocked too: only
 * shared memory can answer. Stores what it read in `control[1]`, then 2 in
 * `control[0]`.
 */
export async function touchWhileParentBlocked(
  v: Synchronized,
  control: Int32Array,
  ready: Event,
): Promise<void> {
  await ready.set();
  Atomics.wait(control, 0, 0, 20_000);
  Atomics.store(control, 1, Number(await v.get()));
  await v.set(99);
  await v.update((x) => Number(x) + 1);
  Atomics.store(control, 0, 2);
  Atomics.notify(control, 0);
}

/**
 * Writes raw shared memory with no message at all: the ints with Atomics,
 * the floats plainly, then sets `flag[0]` to 1 and spins until the parent
 * stores 2 there.
 */
export async function writeRaw(
  flag: Int32Array,
  ints: Int32Array,
  floats: Float64Array,
  big: BigInt64Array,
): Promise<void> {
  for (let i = 0; i < ints.length; i++) Atomics.store(ints, i, (i + 1) * 11);
  floats[0] = 0.5;
  floats[floats.length - 1] = -2.25;
  Atomics.store(big, 0, -(2n ** 40n));
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  const deadline = Date.now() + 30_000;
  while (Atomics.load(flag, 0) !== 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** `n` `Atomics.add`s of 1 to `cells[0]` and of 2 to `cells[1]`. */
export function atomicAdds(cells: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    Atomics.add(cells, 0, 1);
    Atomics.add(cells, 1, 2);
  }
}

/** Sends what the child received as a raw value (type, length, contents). */
export async function reportRaw(conn: Connection, raw: ArrayLike<CValue>): Promise<void> {
  await conn.send({
    type: raw.constructor.name,
    shared: (raw as unknown as { buffer: ArrayBufferLike }).buffer instanceof SharedArrayBuffer,
    values: Array.from(raw),
  });
  conn.close();
}
