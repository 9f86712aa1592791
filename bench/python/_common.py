"""Shared by the CPython benchmarks: the sampling plan and the JSON output.

The suite (bench/main.ts) runs each script with one argument, a JSON object:
    {"contexts": ["fork", "spawn"], "plan": {"iterations": N, "time": MS, "warmup": W}, ...}
and reads one JSON object from its stdout:
    {"python": "3.11.7", "results": {"<context>": {"<workload>": {"samples_ms": [...]}
                                                   | {"error": "..."}}}}
A workload may add "beside" to its samples: what the row notes beside them
(e.g. a resident size), or report sizes (MiB) in "samples_ms" for a row
whose unit is MiB.
Sampling follows tinybench's sequential mode, as the suite configures it:
`warmup` untimed iterations, then timed iterations until there are at least
`iterations` samples and they took at least `time` ms together.
"""

import json
import platform
import subprocess
import sys
import time
import traceback


def sample(fn, plan):
    """Runs fn as the plan says and returns each timed call's latency in ms."""
    for _ in range(plan["warmup"]):
        fn()
    samples = []
    total = 0.0
    clock = time.perf_counter_ns
    while len(samples) < plan["iterations"] or total < plan["time"]:
        t0 = clock()
        fn()
        ms = (clock() - t0) / 1e6
        samples.append(ms)
        total += ms
    return samples


def fresh(script, args, timeout_ms):
    """Runs `script` (a path) with args in a fresh interpreter; returns the JSON it printed last."""
    try:
        done = subprocess.run(
            [sys.executable, "-B", script, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout_ms / 1000,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"a fresh program ran past {timeout_ms / 1000:g} s") from None
    if done.returncode != 0:
        tail = done.stderr.strip().split("\n")[-1] if done.stderr.strip() else ""
        raise RuntimeError(f"a fresh program exited with {done.returncode}: {tail}")
    return json.loads(done.stdout.strip().split("\n")[-1])


def fresh_samples(once, plan):
    """As sample(), but each sample is what once() returns (a program's own figure)."""
    for _ in range(plan["warmup"]):
        once()
    samples = []
    total = 0.0
    while len(samples) < plan["iterations"] or total < plan["time"]:
        value = once()
        samples.append(value)
        total += value
    return samples


def main(workloads):
    """Runs workloads(context_name, options) -> {name: callable returning samples} per context.

    A callable returns a list of samples, or a dict {"samples_ms": [...], "beside": "..."}.
    """
    options = json.loads(sys.argv[1])
    results = {}
    for context in options["contexts"]:
        results[context] = {}
        for name, run in workloads(context, options).items():
            try:
                out = run()
                results[context][name] = out if isinstance(out, dict) else {"samples_ms": out}
            except Exception as error:  # reported in the table, not fatal
                results[context][name] = {
                    "error": f"{type(error).__name__}: {error}",
                    "trace": traceback.format_exc(),
                }
    json.dump({"python": platform.python_version(), "results": results}, sys.stdout)
    sys.stdout.write("\n")
