"""CPython's Queue: one producer process and the parent consuming, and two
producer processes with two consumer processes, per start method (the same
protocol as bench/_targets.ts: a command pipe per child, small integers as
items, `None` as the end of a batch)."""

import multiprocessing as mp

from _common import main, sample


def producer(conn, q):
    while True:
        command = conn.recv()
        if command is None:
            break
        n, sentinel = command
        for i in range(n):
            q.put(i)
        if sentinel:
            q.put(None)
    conn.close()


def consumer(conn, q):
    while True:
        if conn.recv() is None:
            break
        count = 0
        while q.get() is not None:
            count += 1
        conn.send(count)
    conn.close()


def with_children(ctx, targets, body):
    """Starts one child per target with (its end of a new pipe, the queue); runs body(queue, pipes)."""
    q = ctx.Queue()
    pipes, processes = [], []
    try:
        for target in targets:
            parent, child = ctx.Pipe()
            p = ctx.Process(target=target, args=(child, q))
            p.start()
            child.close()
            pipes.append(parent)
            processes.append(p)
        result = body(q, pipes)
        for conn in pipes:
            conn.send(None)
        for p in processes:
            p.join()
            if p.exitcode != 0:
                raise RuntimeError(f"a queue child exited with {p.exitcode}")
        return result
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
                p.join()


def one_producer(ctx, plan, items):
    def body(q, pipes):
        (conn,) = pipes
        conn.send((1, False))
        q.get()

        def once():
            conn.send((items, False))
            for _ in range(items):
                q.get()

        return sample(once, plan)

    return with_children(ctx, [producer], body)


def two_by_two(ctx, plan, items):
    def body(q, pipes):
        producers, consumers = pipes[:2], pipes[2:]

        def batch(n):
            for conn in consumers:
                conn.send(True)
            for conn in producers:
                conn.send((n // 2, True))
            got = sum(conn.recv() for conn in consumers)
            if got != n // 2 * 2:
                raise RuntimeError(f"the consumers got {got} items, not {n}")

        batch(2)
        return sample(lambda: batch(items), plan)

    return with_children(ctx, [producer, producer, consumer, consumer], body)


def workloads(context, options):
    ctx = mp.get_context(context)
    return {
        "queue.one_producer": lambda: one_producer(
            ctx, options["one_producer"]["plan"], options["one_producer"]["items"]
        ),
        "queue.two_by_two": lambda: two_by_two(
            ctx, options["two_by_two"]["plan"], options["two_by_two"]["items"]
        ),
    }


if __name__ == "__main__":
    main(workloads)
