"""CPython's large messages: one bytes object of N MiB sent parent -> child
through a Pipe (conn.send) or a Queue (q.put, the child q.get()s it), the
child answering its length on a pipe, per start method (the same workloads
as bench/workloads/large.ts). Each row is a fresh interpreter (this script
with --one) whose child stays up across the samples. Beside the figure, that
program's peak resident size over the samples: VmHWM, reset by writing 5 to
/proc/self/clear_refs once the child is up, minus the VmRSS then.

    python3 large.py '{"contexts": [...], "plan": {...}, "mib": N, "suffix": "64mib",
                       "deadline_ms": MS}'
    python3 large.py --one <pipe|queue> <fork|spawn> <mib> '<plan JSON>'
"""

import json
import multiprocessing as mp
import sys
import threading

from _common import fresh, main, sample

MIB = 1 << 20


def sink(conn):
    """Answers the length of every value it receives on conn; None ends it."""
    while True:
        value = conn.recv()
        if value is None:
            break
        conn.send(len(value))
    conn.close()


def queue_sink(conn, q):
    """Gets values from q and answers each one's length on conn; None on the queue ends it."""
    while True:
        value = q.get()
        if value is None:
            break
        conn.send(len(value))
    conn.close()


def status(field):
    """A field of /proc/self/status, in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def follow_peak():
    """Returns growth() -> (MiB above the RSS now, how it was read), or None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    before = status("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return lambda: (status("VmHWM") - before, "VmHWM")
    except OSError:
        peak = [before]
        stop = threading.Event()

        def poll():
            while not stop.wait(0.005):
                peak[0] = max(peak[0], status("VmRSS"))

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()

        def growth():
            stop.set()
            thread.join()
            return max(peak[0], status("VmRSS")) - before, "VmRSS every 5 ms"

        return growth


def transfer_row(context, kind, plan, mib):
    """The fresh program: samples sending the payload, and the peak RSS growth."""
    ctx = mp.get_context(context)
    payload = b"\x5a" * (mib * MIB)
    conn, theirs = ctx.Pipe()
    q = ctx.Queue() if kind == "queue" else None
    if q is None:
        p = ctx.Process(target=sink, args=(theirs,))
    else:
        p = ctx.Process(target=queue_sink, args=(theirs, q))
    p.start()
    theirs.close()
    try:
        def send(value):
            if q is None:
                conn.send(value)
            else:
                q.put(value)

        def transfer(value):
            send(value)
            got = conn.recv()
            if got != len(value):
                raise RuntimeError(f"the child got {got} bytes, not {len(value)}")

        transfer(b"x")  # the child is up
        growth = follow_peak()
        samples = sample(lambda: transfer(payload), plan)
        grown = growth() if growth else None
        send(None)
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"the {kind} child exited with {p.exitcode}")
        return {
            "samples": samples,
            "peakMib": None if grown is None else grown[0],
            "how": "" if grown is None else grown[1],
        }
    finally:
        conn.close()
        if p.is_alive():
            p.kill()
            p.join()


def row(context, kind, options):
    """Runs one row in a fresh interpreter; returns its samples and the peak RSS beside them."""
    mib = options["mib"]
    out = fresh(
        __file__,
        ["--one", kind, context, mib, json.dumps(options["plan"])],
        options["deadline_ms"],
    )
    if out["peakMib"] is None:
        beside = "peak RSS: Linux only"
    else:
        how = "" if out["how"] == "VmHWM" else f", {out['how']}"
        grown = out["peakMib"]
        beside = f"peak RSS +{grown:.0f} MiB ({grown / mib:.2f}× the payload{how})"
    return {"samples_ms": out["samples"], "beside": beside}


def workloads(context, options):
    """The two rows of this size, pipe and queue, for one context."""
    suffix = options["suffix"]
    return {
        f"pipe.large_{suffix}": lambda: row(context, "pipe", options),
        f"queue.large_{suffix}": lambda: row(context, "queue", options),
    }


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        kind, context, mib, plan = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
        print(json.dumps(transfer_row(context, kind, json.loads(plan), mib)))
    else:
        main(workloads)
