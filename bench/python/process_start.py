"""CPython's Process start + join of a trivial target, per start method."""

import multiprocessing as mp

from _common import main, sample


def noop():
    pass


def start_join(ctx):
    def once():
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"the child exited with {p.exitcode}")

    return once


def workloads(context, options):
    ctx = mp.get_context(context)
    return {"process.start_join": lambda: sample(start_join(ctx), options["plan"])}


if __name__ == "__main__":
    main(workloads)
