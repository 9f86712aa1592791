"""CPython's Lock and Value: uncontended acquire + release measured in a
child, and two children incrementing one Value under its lock, per start
method (the same protocol as bench/_targets.ts)."""

import multiprocessing as mp

from _common import main, sample


def lock_loop(conn, lock, ops, plan):
    def once():
        for _ in range(ops):
            lock.acquire()
            lock.release()

    conn.send(sample(once, plan))
    conn.close()


def incrementer(conn, value):
    while True:
        n = conn.recv()
        if n is None:
            break
        for _ in range(n):
            with value.get_lock():
                value.value += 1
        conn.send(n)
    conn.close()


def uncontended(ctx, plan, ops):
    lock = ctx.Lock()
    parent, child = ctx.Pipe()
    p = ctx.Process(target=lock_loop, args=(child, lock, ops, plan))
    p.start()
    child.close()
    try:
        samples = parent.recv()
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"the lock child exited with {p.exitcode}")
        return samples
    finally:
        if p.is_alive():
            p.kill()
            p.join()


def increments(ctx, plan, n):
    value = ctx.Value("i", 0)
    pipes, processes = [], []
    try:
        for _ in range(2):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=incrementer, args=(child, value))
            p.start()
            child.close()
            pipes.append(parent)
            processes.append(p)
        expected = 0

        def batch(count):
            nonlocal expected
            for conn in pipes:
                conn.send(count)
            for conn in pipes:
                conn.recv()
            expected += 2 * count
            if value.value != expected:
                raise RuntimeError(f"the value is {value.value}, not {expected}")

        batch(10)
        samples = sample(lambda: batch(n), plan)
        for conn in pipes:
            conn.send(None)
        for p in processes:
            p.join()
        return samples
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
                p.join()


def workloads(context, options):
    ctx = mp.get_context(context)
    return {
        "lock.uncontended": lambda: uncontended(ctx, options["lock"], options["lock_ops"]),
        "value.locked_increments": lambda: increments(ctx, options["value"], options["increments"]),
    }


if __name__ == "__main__":
    main(workloads)
