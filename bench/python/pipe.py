"""CPython's Pipe: round trip of a small value, and throughput of 1 MiB
messages parent -> child, per start method (the same protocol as
bench/_targets.ts)."""

import multiprocessing as mp

from _common import main, sample

MIB = 1 << 20
SMALL_VALUE = {"n": 1, "s": "ping"}


def echo(conn):
    while True:
        value = conn.recv()
        if value is None:
            break
        conn.send(value)
    conn.close()


def sink(conn):
    count = 0
    while True:
        data = conn.recv_bytes()
        if len(data) == 0:
            conn.send(count)
            count = 0
        elif len(data) == 1:
            break
        else:
            count += len(data)
    conn.close()


def with_peer(ctx, target, body, stop):
    parent, child = ctx.Pipe()
    p = ctx.Process(target=target, args=(child,))
    p.start()
    child.close()
    try:
        result = body(parent)
        stop(parent)
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"the {target.__name__} child exited with {p.exitcode}")
        return result
    finally:
        parent.close()
        if p.is_alive():
            p.kill()
            p.join()


def round_trip(ctx, plan):
    def body(conn):
        conn.send(SMALL_VALUE)
        conn.recv()

        def once():
            conn.send(SMALL_VALUE)
            if conn.recv()["n"] != 1:
                raise RuntimeError("the echo child answered something else")

        return sample(once, plan)

    return with_peer(ctx, echo, body, lambda conn: conn.send(None))


def throughput(ctx, plan, mib):
    buf = bytearray(MIB)
    for i in range(0, MIB, 4096):
        buf[i] = i & 0xFF
    buf = bytes(buf)

    def body(conn):
        conn.send_bytes(b"")
        conn.recv()

        def once():
            for _ in range(mib):
                conn.send_bytes(buf)
            conn.send_bytes(b"")
            got = conn.recv()
            if got != mib * MIB:
                raise RuntimeError(f"the sink child counted {got} bytes, not {mib * MIB}")

        return sample(once, plan)

    return with_peer(ctx, sink, body, lambda conn: conn.send_bytes(b"x"))


def workloads(context, options):
    ctx = mp.get_context(context)
    return {
        "pipe.round_trip": lambda: round_trip(ctx, options["round_trip"]),
        "pipe.throughput_1mib": lambda: throughput(
            ctx, options["throughput"], options["throughput_mib"]
        ),
    }


if __name__ == "__main__":
    main(workloads)
