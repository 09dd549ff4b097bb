"""The ``usercode`` stage: what the harness adds to the time of a user's function and script.

In the cell's own interpreter (a probe, below), best of REPS runs each:

  calls    ``examples/data.py:preview_batch`` (a few ms) and ``benchmarks/userwork.py:
           train_steps`` (a few hundred ms) with --call: the function alone, reseeded as
           the mode would, against ``worker.run_one`` of its scenario (restore generators and
           process state, seed, count every random call, encode what it returned);
  scripts  ``examples/train.py`` for 2 and 8 epochs with --script: its own work in a new
           interpreter (the first ``runpy`` after importing torch, output to /dev/null)
           against ``run_one`` of its scenario (fork, run, capture the output, read
           --metric, send back the counts);

and, outside the probe, ``python examples/train.py --epochs 2`` in a new interpreter: what
running each (mode, repeat) as a fresh program would cost instead of a fork.
"""
from __future__ import annotations

import json
import shlex
import statistics
import subprocess
import time

from benchmarks.measure import ROOT, BenchError, load_text

# (kind, name, what): a --call is FILE:FUNCTION, a --script its command line.
WORKLOADS = (
    ("call", "call_small", "examples/data.py:preview_batch"),
    ("call", "call_train", "benchmarks/userwork.py:train_steps"),
    ("script", "script", "python examples/train.py --epochs 2"),
    ("script", "script_long", "python examples/train.py --epochs 8"),
)
METRIC = r"accuracy=Accuracy: \d+/\d+ \(([0-9.]+)%\)"
REPS = 6

# Runs in the cell's interpreter (Python 3.7+): times every workload REPS times, either
# alone ("plain") or as rngdrift runs it ("harness": worker.run_one of its scenario, the
# whole per-run cost); prints one JSON line {name: [seconds]}. Plain and harness run in
# separate processes: the plain script runs backward() in this process, and torch 1.10
# and older then refuse backward() in its forks.
PROBE = r'''
import contextlib, json, os, resource, runpy, shlex, sys, time
ROOT, SIDE, WORKLOADS, METRIC, REPS, WANTED = sys.argv[1], sys.argv[2], \
    json.loads(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6].split(",")
sys.path.insert(0, ROOT)
os.chdir(ROOT)
import torch, torchvision  # noqa: F401  (a program has them imported before it starts)
torch.set_num_threads(1)
from _rngdrift.harness.cell import adopt, seeding

def timed(run):
    """(wall seconds, CPU seconds of this process and the children it waited for: the
    fork, DataLoader workers); CPU time holds up when other jobs share the cores."""
    start, cpu = time.perf_counter(), cpu_seconds()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        run()
    return time.perf_counter() - start, cpu_seconds() - cpu

def cpu_seconds():
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))

def plain(kind, what):
    if kind == "call":
        fn = adopt.resolve(what, "--call", ROOT)[0]
        def run():
            seeding.reseed("all")
            fn()
        return run
    argv = shlex.split(what)[1:]
    def run():
        seeding.reseed("all")
        saved, path = list(sys.argv), list(sys.path)
        sys.argv[:] = argv
        sys.path.insert(0, os.path.dirname(os.path.join(ROOT, argv[0])))
        try:
            runpy.run_path(os.path.join(ROOT, argv[0]), run_name="__main__")
        finally:
            sys.argv[:], sys.path[:] = saved, path
    return run

if SIDE == "harness":
    from _rngdrift.harness.cell import (
        environment, isolation, registry, rngstate, usercode, worker)
    worker.load([], [])
    usercode.register({"workdir": ROOT, "metric": [METRIC],
                       "call": [w for k, _, w in WORKLOADS if k == "call"],
                       "script": [w for k, _, w in WORKLOADS if k == "script"]})
    # registered calls first, then scripts: the order of WORKLOADS
    for sc, (_, name, _) in zip(registry.SCENARIOS.values(), WORKLOADS):
        sc.bench_name = name
    installed = environment.installed_versions()
    snap, process = rngstate.snapshot(), isolation.snapshot()
    ctx = seeding.Context("all")
    runs = {}
    for sc in registry.SCENARIOS.values():
        def run(sc=sc):
            result = worker.run_one(sc, ctx, installed, snap, process)
            assert result.status == "ok", result
        runs[sc.bench_name] = run
else:
    runs = dict((name, plain(kind, what)) for kind, name, what in WORKLOADS)
out = {}
for name in sorted(runs, key=lambda n: not n.startswith("script")):  # scripts first
    if name not in WANTED:
        continue
    if REPS > 1:
        timed(runs[name])  # warm-up
    out[name] = [timed(runs[name]) for _ in range(REPS)]
print(json.dumps(out))
'''


def _probe(python, side, log, names, reps):
    proc = subprocess.run([str(python), "-c", PROBE, str(ROOT), side, json.dumps(WORKLOADS),
                           METRIC, str(reps), ",".join(names)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)
    with open(log, "a") as handle:
        handle.write(f"--- {side} {names} x{reps}\n{proc.stdout}{proc.stderr}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"usercode probe ({side}) exited {proc.returncode}: {tail}")
    return json.loads(lines[-1])


def measure(bench, cell, python) -> None:
    """Record the usercode stage's numbers for ``cell`` (its interpreter: ``python``).

    Calls: best of REPS runs in one process, alone and under the harness (both warm).
    Scripts: under the harness, best of REPS runs (each a fork that has not run it
    before); alone, the first run in each of REPS new interpreters after ``import torch,
    torchvision`` (what ``python train.py`` spends on the script itself); and the whole
    ``python train.py`` in a new interpreter, imports included.
    """
    log = bench.log(f"{cell.id}.usercode.log")
    calls = [name for kind, name, _ in WORKLOADS if kind == "call"]
    scripts = [name for kind, name, _ in WORKLOADS if kind == "script"]
    harness = _probe(python, "harness", log, calls + scripts, REPS)
    plain = _probe(python, "plain", log, calls, REPS)
    for name in scripts:
        plain[name] = [_probe(python, "plain", log, [name], 1)[name][0] for _ in range(REPS)]
    for _, name, what in WORKLOADS:
        how = (f"{what}: best of {REPS}" + (", first run in a new interpreter each"
                                             if name in scripts else "") + f", {load_text()}")
        best = {}
        for side, runs in (("plain", plain[name]), ("harness", harness[name])):
            for i, unit in ((0, "s"), (1, "cpu_s")):
                values = [run[i] for run in runs]
                best[side, unit] = min(values)
                bench.record(cell.id, f"{name}_{side}_{unit}", min(values),
                             f"{how} (median {statistics.median(values):.4f})")
        for unit, tag in (("s", "wall"), ("cpu_s", "cpu")):
            bench.record(cell.id, f"{name}_overhead_{tag}_pct",
                         100.0 * (best["harness", unit] - best["plain", unit]) / best["plain", unit],
                         f"(in rngdrift - alone) / alone, best {tag} times")
    argv = shlex.split(WORKLOADS[2][2])[1:]
    fresh = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([str(python), *argv], cwd=ROOT, capture_output=True, check=True)
        fresh.append(time.perf_counter() - start)
    bench.record(cell.id, "script_fresh_s", min(fresh),
                 f"{WORKLOADS[2][2]} in a new interpreter: best of 3, {load_text()}")


COLUMNS = (
    ("preview_batch ms", "call_small_plain_cpu_s", 1e-3, 1),
    ("in rngdrift ms", "call_small_harness_cpu_s", 1e-3, 1),
    ("+%", "call_small_overhead_cpu_pct", 1, 0),
    ("train_steps ms", "call_train_plain_cpu_s", 1e-3, 0),
    ("in rngdrift ms", "call_train_harness_cpu_s", 1e-3, 0),
    ("+%", "call_train_overhead_cpu_pct", 1, 0),
    ("train.py 2 epochs ms", "script_plain_cpu_s", 1e-3, 0),
    ("in rngdrift ms", "script_harness_cpu_s", 1e-3, 0),
    ("+%", "script_overhead_cpu_pct", 1, 0),
    ("8 epochs ms", "script_long_plain_cpu_s", 1e-3, 0),
    ("in rngdrift ms", "script_long_harness_cpu_s", 1e-3, 0),
    ("+%", "script_long_overhead_cpu_pct", 1, 0),
    ("2 epochs, new interpreter, wall ms", "script_fresh_s", 1e-3, 0),
)


def table(records, cells, latest, fmt) -> tuple[list[str], list[list[str]]]:
    """One row per cell with usercode numbers."""
    rows = []
    for cell in cells:
        row = [cell] + [fmt(latest(records, cell, metric), scale, digits)
                        for _, metric, scale, digits in COLUMNS]
        if any(row[1:]):
            rows.append(row)
    return ["cell"] + [title for title, *_ in COLUMNS], rows
