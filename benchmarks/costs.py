"""What rngdrift's own work costs: attribution around every scenario, and the report.

    attribution  the same scenarios with attribution on and off (RNGDRIFT_ATTRIBUTION=off),
                 with and without DataLoader workers: the overhead in % of scenario time,
                 in wall seconds of whole cell runs and in CPU seconds of the scenarios
                 alone (benchmarks/attribution_cpu.py, which a busy machine barely moves)
    report       CPU seconds of `rngdrift report` on the committed baseline and on a
                 synthetic run four times its size (60 cells): it should grow linearly

Times are CPU seconds of the child processes (getrusage), so a busy machine slows
the wall clock but not the figures.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks.measure import ROOT, run
from _rngdrift.harness.cell import schema

# Scenarios whose draws happen in DataLoader workers, and scenarios without workers.
WITH_WORKERS = ("loader.numpy_workers", "loader.python_workers", "loader.torch_workers",
                "loader.worker_init_fn", "example.loader_pairs.workers")
WITHOUT_WORKERS = ("pairs.*", "augment.*", "streams.*", "train.mlp", "train.cnn")
REPEATS = 2
ROUNDS = 3  # off and on alternate; each scenario run's fastest of the rounds counts
CPU_ROUNDS = 5  # runs of each scenario in one process (attribution_cpu.py)


def _scenario_seconds(csv_path: Path) -> dict[tuple[str, str], float]:
    return {(r.scenario, r.repeat): float(r.value) for r in schema.read_csv(csv_path)
            if r.kind == schema.TIMING and r.metric == schema.TIMING_METRIC}


def measure_attribution(bench, cell, python) -> None:
    """Scenario seconds with attribution on and off, alternating ``ROUNDS`` times and
    keeping each scenario run's fastest: what a busy machine adds is not the harness's."""
    for group, patterns in (("workers", WITH_WORKERS), ("main", WITHOUT_WORKERS)):
        best: dict[str, dict] = {"off": {}, "on": {}}
        for round_ in range(ROUNDS):
            for state in ("off", "on"):
                out = bench.out / "cells" / f"{cell.id}.attribution-{group}-{state}-{round_}.csv"
                out.parent.mkdir(parents=True, exist_ok=True)
                only = [a for p in patterns for a in ("--only", p)]
                run([python, "-m", "_rngdrift.harness.cell", "--out", out, "--cell", cell.id,
                     "--run-id", "bench", "--seeding", "all", "--repeats", str(REPEATS),
                     "--jobs", "1", "--scenarios", ROOT / "examples" / "loader_pairs.py", *only],
                    env=dict(os.environ, PYTHONPATH=str(ROOT), RNGDRIFT_ATTRIBUTION=state),
                    log=bench.log(f"{cell.id}.attribution-{group}-{state}.log"))
                for key, value in _scenario_seconds(out).items():
                    best[state][key] = min(value, best[state].get(key, value))
        off, on = sum(best["off"].values()), sum(best["on"].values())
        note = (f"{', '.join(patterns)}; all seeding, {REPEATS} repeats, fastest of {ROUNDS} "
                f"alternating rounds; scenario seconds {off:.2f} off, {on:.2f} on")
        bench.record(cell.id, f"attribution_overhead_{group}_pct", 100.0 * (on - off) / off, note)
        measure_attribution_cpu(bench, cell, python, group, patterns)


def measure_attribution_cpu(bench, cell, python, group, patterns) -> None:
    """CPU seconds of the scenarios alone, off and on alternating ``ROUNDS`` times, each
    the sum of every scenario's fastest of ``CPU_ROUNDS`` runs in one process."""
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    for round_ in range(ROUNDS):
        for state in ("off", "on"):
            out = bench.out / "cells" / f"{cell.id}.attribution-cpu-{group}-{state}-{round_}.json"
            run([python, "-m", "benchmarks.attribution_cpu", state, str(CPU_ROUNDS), out,
                 *patterns], env=dict(os.environ, PYTHONPATH=str(ROOT)),
                log=bench.log(f"{cell.id}.attribution-cpu-{group}-{state}.log"))
            cpu[state].append(json.loads(out.read_text())["cpu_s"])
    off, on = min(cpu["off"]), min(cpu["on"])
    bench.record(cell.id, f"attribution_cpu_overhead_{group}_pct", 100.0 * (on - off) / off,
                 f"CPU seconds of the scenarios alone (all seeding, fastest of {CPU_ROUNDS} "
                 f"per scenario, best of {ROUNDS} processes): {off:.3f} off, {on:.3f} on; "
                 f"off {', '.join(f'{s:.3f}' for s in cpu['off'])}; "
                 f"on {', '.join(f'{s:.3f}' for s in cpu['on'])}")


def _cpu(cmd) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def synthetic_run(matrix: pd.DataFrame, copies: int, into: Path) -> Path:
    """A run of ``copies`` x the baseline's cells (renamed ``<cell>-copyN``)."""
    parts = [matrix.assign(cell=matrix["cell"] + f"-copy{k}") for k in range(copies)]
    into.mkdir(parents=True, exist_ok=True)
    pd.concat(parts, ignore_index=True).to_csv(into / "matrix.csv", index=False,
                                               lineterminator="\n")
    return into


# What the baseline's report may cost (issue 22): a nightly reader should not wait on it.
REPORT_TARGET_S = 2.0


def measure_report(bench) -> None:
    baseline = ROOT / "results" / "baseline"
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        copy = work / "baseline"
        shutil.copytree(baseline, copy)
        command = [sys.executable, "-m", "rngdrift", "report"]
        rows = sum(1 for _ in open(copy / "matrix.csv")) - 1
        matrix = pd.read_csv(baseline / "matrix.csv", dtype=str, keep_default_na=False)
        cells = matrix["cell"].nunique()
        seconds = min(_cpu(command + [copy]) for _ in range(3))
        bench.record("report", "report_baseline_cpu_s", seconds,
                     f"{rows} rows, {cells} cells: min of 3, CPU seconds of `rngdrift report` "
                     f"(target: {REPORT_TARGET_S:g} s)")
        big = synthetic_run(matrix, 4, work / "synthetic")
        seconds_big = min(_cpu(command + [big]) for _ in range(2))
        bench.record("report", f"report_synthetic{4 * cells}_cpu_s", seconds_big,
                     f"{4 * rows} rows, {4 * cells} cells (the baseline's {cells} cells four "
                     "times over): min of 2")
        bench.record("report", "report_growth", seconds_big / seconds,
                     "CPU seconds for 4x the rows over those for 1x (linear: about 4)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
