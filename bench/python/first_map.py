"""CPython's first Pool(2).map of a fresh program: each sample is a new
interpreter (this script with --one) that makes a Pool(2) with the context,
maps square over 3 items, then times pool.map(square, list(range(N))) and
prints {"ms": ...} (the same workload as bench/raw/first_map.ts).

    python3 first_map.py '{"contexts": [...], "plan": {...}, "items": N, "program_deadline_ms": MS}'
    python3 first_map.py --one <fork|spawn> <items>
"""

import json
import multiprocessing as mp
import sys
import time

from _common import fresh, fresh_samples, main


def square(x):
    return x * x


def one(context, items):
    """The fresh program: returns the ms of its first large map."""
    with mp.get_context(context).Pool(2) as pool:
        pool.map(square, [1, 2, 3])
        data = list(range(items))
        t0 = time.perf_counter_ns()
        out = pool.map(square, data)
        ms = (time.perf_counter_ns() - t0) / 1e6
        if len(out) != items or out[-1] != (items - 1) ** 2:
            raise RuntimeError("map answered something else")
        pool.close()
        pool.join()
    return ms


def workloads(context, options):
    """The row for one context: one fresh interpreter per sample."""

    def once():
        args = ["--one", context, options["items"]]
        return fresh(__file__, args, options["program_deadline_ms"])["ms"]

    return {"pool.first_map_200k": lambda: fresh_samples(once, options["plan"])}


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        print(json.dumps({"ms": one(sys.argv[2], int(sys.argv[3]))}))
    else:
        main(workloads)
