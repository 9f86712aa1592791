"""CPython's Pool(2): map with the default chunk size and with chunksize 1,
apply_async + get, creation + a first tiny map, close() + join(), and a
CPU-bound sum of squares split over the pool against the serial loop, per
start method (the same workloads as bench/workloads/pool.ts; the first map
of a fresh program is first_map.py)."""

import multiprocessing as mp
import time

from _common import main, sample


def square(x):
    return x * x


def sum_squares(lo, hi):
    total = 0
    for i in range(lo, hi):
        total += i * i
    return total


def with_pool(ctx, body):
    pool = ctx.Pool(2)
    try:
        pool.map(square, range(8))  # every worker is up
        return body(pool)
    finally:
        pool.terminate()
        pool.join()


def map_items(ctx, plan, items, chunksize=None):
    data = list(range(items))

    def once(pool):
        out = pool.map(square, data, chunksize)
        if len(out) != items or out[-1] != (items - 1) ** 2:
            raise RuntimeError("map answered something else")

    return with_pool(ctx, lambda pool: sample(lambda: once(pool), plan))


def apply_async(ctx, plan, tasks):
    def once(pool):
        results = [pool.apply_async(square, (i,)) for i in range(tasks)]
        out = [r.get() for r in results]
        if out[-1] != (tasks - 1) ** 2:
            raise RuntimeError("apply_async answered something else")

    return with_pool(ctx, lambda pool: sample(lambda: once(pool), plan))


def create_first_map(ctx, plan):
    """Pool(2) + a first map of 4 items; terminating the pool is not timed."""
    clock = time.perf_counter_ns
    pools = []

    def once():
        t0 = clock()
        pool = ctx.Pool(2)
        pool.map(square, range(4))
        ms = (clock() - t0) / 1e6
        pool.terminate()
        pool.join()
        return ms

    for _ in range(plan["warmup"]):
        once()
    samples, total = [], 0.0
    while len(samples) < plan["iterations"] or total < plan["time"]:
        ms = once()
        samples.append(ms)
        total += ms
    del pools
    return samples


def close_join(ctx, plan):
    """close() + join() of a Pool(2) that mapped 3 items; making it and the map are not timed."""
    clock = time.perf_counter_ns

    def once():
        pool = ctx.Pool(2)
        try:
            pool.map(square, [1, 2, 3])
            t0 = clock()
            pool.close()
            pool.join()
            return (clock() - t0) / 1e6
        finally:
            pool.terminate()

    for _ in range(plan["warmup"]):
        once()
    samples, total = [], 0.0
    while len(samples) < plan["iterations"] or total < plan["time"]:
        ms = once()
        samples.append(ms)
        total += ms
    return samples


def speedup(ctx, plan, n):
    """Samples of serial time / Pool(2) time (a ratio, not ms)."""
    half = n // 2

    def body(pool):
        ratios = []

        def once():
            t0 = time.perf_counter()
            serial = sum_squares(0, n)
            t1 = time.perf_counter()
            split = sum(pool.starmap(sum_squares, [(0, half), (half, n)]))
            t2 = time.perf_counter()
            if split != serial:
                raise RuntimeError("the split sum differs from the serial one")
            ratios.append((t1 - t0) / (t2 - t1))

        sample(once, plan)
        return ratios[plan["warmup"]:]

    return with_pool(ctx, body)


def workloads(context, options):
    ctx = mp.get_context(context)
    o = options
    return {
        "pool.map_200k": lambda: map_items(ctx, o["map"], o["map_items"]),
        "pool.map_20k_chunk1": lambda: map_items(ctx, o["chunk1"], o["chunk1_items"], 1),
        "pool.apply_async_20k": lambda: apply_async(ctx, o["apply"], o["apply_tasks"]),
        "pool.create_first_map": lambda: create_first_map(ctx, o["create"]),
        "pool.close_join": lambda: close_join(ctx, o["close"]),
        "cpu.speedup": lambda: speedup(ctx, o["cpu"], o["cpu_n"]),
    }


if __name__ == "__main__":
    main(workloads)
