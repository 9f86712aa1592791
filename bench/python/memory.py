"""CPython's pool memory: the resident size of an idle worker of a Pool(2)
that mapped 8 items, and of the parent with a warm Pool(8), per start method
(the same workloads as bench/workloads/memory.ts). Each sample is a fresh
interpreter (this script with --one), which prints, in MiB, from Linux's
/proc: its VmRSS before the pool and with the pool up, and each worker's
VmRSS and USS (Private_Clean + Private_Dirty of smaps_rollup: a forked
worker's VmRSS counts the pages it still shares with the parent).

    python3 memory.py '{"contexts": [...], "plan": {...}, "program_deadline_ms": MS}'
    python3 memory.py --one <fork|spawn> <processes>
"""

import json
import multiprocessing as mp
import os
import statistics
import sys
import time

from _common import fresh, fresh_samples, main


def proc(pid, name, *fields):
    """The sum of some fields (kB) of /proc/<pid>/<name>, in MiB."""
    values = {}
    with open(f"/proc/{pid}/{name}") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in fields:
                values[key] = int(rest.split()[0])
    return sum(values[field] for field in fields) / 1024


def worker_pid(_):
    """The pid of the worker that runs it, after 1 ms (so that one worker cannot take them all)."""
    time.sleep(0.001)
    return os.getpid()


def one(context, processes):
    """The fresh program: the sizes with a warm Pool(processes)."""
    before = proc("self", "status", "VmRSS")
    with mp.get_context(context).Pool(processes) as pool:
        pids = set()
        deadline = time.monotonic() + 20
        while len(pids) < processes and time.monotonic() < deadline:
            pids.update(pool.map(worker_pid, range(4 * processes), chunksize=1))
        if len(pids) != processes:
            raise RuntimeError(f"{len(pids)} of the pool's {processes} workers answered")
        time.sleep(0.2)
        parent = proc("self", "status", "VmRSS")
        workers = [proc(pid, "status", "VmRSS") for pid in pids]
        uss = [proc(pid, "smaps_rollup", "Private_Clean", "Private_Dirty") for pid in pids]
        pool.close()
        pool.join()
    return {"before": before, "parent": parent, "workers": workers, "workersUss": uss}


def programs(context, processes, options, figure):
    """One fresh program per sample; returns the samples and every program's readings."""
    runs = []

    def once():
        m = fresh(__file__, ["--one", context, processes], options["program_deadline_ms"])
        runs.append(m)
        return figure(m)

    samples = fresh_samples(once, options["plan"])
    return samples, runs[options["plan"]["warmup"]:]


def idle_worker(context, options):
    """The mean VmRSS of a Pool(2)'s workers per program, their USS beside."""
    samples, runs = programs(context, 2, options, lambda m: statistics.mean(m["workers"]))
    uss = statistics.median(statistics.mean(m["workersUss"]) for m in runs)
    return {"samples_ms": samples, "beside": f"USS {uss:.1f} MiB"}


def parent_pool8(context, options):
    """The parent's VmRSS with a warm Pool(8) per program, its size before the pool beside."""
    samples, runs = programs(context, 8, options, lambda m: m["parent"])
    before = statistics.median(m["before"] for m in runs)
    workers = statistics.median(statistics.mean(m["workers"]) for m in runs)
    return {
        "samples_ms": samples,
        "beside": f"{before:.1f} MiB before the pool; workers {workers:.1f} MiB each",
    }


def workloads(context, options):
    """Both memory rows for one context."""
    return {
        "memory.idle_worker": lambda: idle_worker(context, options),
        "memory.parent_pool8": lambda: parent_pool8(context, options),
    }


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        print(json.dumps(one(sys.argv[2], int(sys.argv[3]))))
    else:
        main(workloads)
