"""CPython's Manager: a child sets and gets one key of a managed dict,
per start method (the same protocol as bench/_targets.ts)."""

import multiprocessing as mp

from _common import main, sample


def dict_pairs(conn, d, plan):
    i = 0

    def once():
        nonlocal i
        i += 1
        d["k"] = i
        if d["k"] != i:
            raise RuntimeError("the manager's dict answered something else")

    conn.send(sample(once, plan))
    conn.close()


def dict_pair(ctx, plan):
    with ctx.Manager() as manager:
        d = manager.dict()
        parent, child = ctx.Pipe()
        p = ctx.Process(target=dict_pairs, args=(child, d, plan))
        p.start()
        child.close()
        try:
            samples = parent.recv()
            p.join()
            if p.exitcode != 0:
                raise RuntimeError(f"the dict child exited with {p.exitcode}")
            return samples
        finally:
            if p.is_alive():
                p.kill()
                p.join()


def workloads(context, options):
    ctx = mp.get_context(context)
    return {"manager.dict_pair": lambda: dict_pair(ctx, options["plan"])}


if __name__ == "__main__":
    main(workloads)
