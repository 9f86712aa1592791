"""Shared by the CPython benchmarks: the sampling plan and the JSON output.

The suite (bench/main.ts) runs each script with one argument, a JSON object:
    {"contexts": ["fork", "spawn"], "plan": {"iterations": N, "time": MS, "warmup": W}, ...}
and reads one JSON object from its stdout:
    {"python": "3.11.7", "results": {"<context>": {"<workload>": {"samples_ms": [...]}
                                                   | {"error": "..."}}}}
Sampling follows tinybench's sequential mode, as the suite configures it:
`warmup` untimed iterations, then timed iterations until there are at least
`iterations` samples and they took at least `time` ms together.
"""

import json
import platform
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


def main(workloads):
    """Runs workloads(context_name, options) -> {name: callable returning samples} per context."""
    options = json.loads(sys.argv[1])
    results = {}
    for context in options["contexts"]:
        results[context] = {}
        for name, run in workloads(context, options).items():
            try:
                results[context][name] = {"samples_ms": run()}
            except Exception as error:  # reported in the table, not fatal
                results[context][name] = {
                    "error": f"{type(error).__name__}: {error}",
                    "trace": traceback.format_exc(),
                }
    json.dump({"python": platform.python_version(), "results": results}, sys.stdout)
    sys.stdout.write("\n")
