"""The atlas's stages: a disk-bounded patches run, the report and atlas at scale, explain.

    patches   what a ``--max-cache`` run recorded (``RUN/cache.jsonl``, --patches-run):
              cells, peak cache and disk, the budget, wheels fetched and fetched again,
              wall time; and the planning cost (every cell of the lock resolved by uv
              into an empty scratch cache, then again from the plans kept for a day)
    atlas     CPU seconds of ``rngdrift report`` and ``rngdrift atlas --ship`` on the
              committed baseline and on the patches run (--patches-run), per 1000 rows:
              both should stay flat as rows grow (explain's data grows with cell pairs)
    explain   wall seconds of ``rngdrift explain --from 1.10 --to 2.6`` (median of 5,
              from the shipped data and, given a patches run, from its data)

``Bench`` calls ``STAGES[name](bench)``; each records through ``bench.record``.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import ROOT, BenchError
from _rngdrift.harness.runs import cache as runcache

PATCHES, ATLAS = "patches", "atlas"


def _patches_run(bench) -> Path:
    run = getattr(bench.args, "patches_run", None)
    if run is None:
        raise BenchError("this stage needs a patches run: --patches-run results/<run>")
    return Path(run)


def summarise(log: list[dict]) -> dict:
    """The numbers of a --max-cache run from its cache.jsonl lines."""
    seen, again = set(), 0
    for line in log:
        for name in line.get("fetched_files", []):
            again += name in seen
            seen.add(name)
    # a cell that fetched a few MB says nothing about the ratio (the cache's own files move)
    ratios = [line["ratio"] for line in log if line.get("ratio") and line["fetched_bytes"] > 1e8]
    return {
        "cells": len(log),
        "budget": max((line["budget"] for line in log), default=0),
        "peak_cache": max((line["cache_after"] for line in log), default=0),
        "peak_disk": max((line["disk_peak"] for line in log), default=0),
        "fetched_bytes": sum(line["fetched_bytes"] for line in log),
        "fetched_again": again,
        "evicted": sum(len(line["evicted_unneeded"]) + len(line["evicted_for_budget"])
                       for line in log),
        "evicted_for_budget": sum(len(line["evicted_for_budget"]) for line in log),
        "wall_s": (log[-1]["started"] + log[-1]["seconds"] - log[0]["started"]) if log else 0.0,
        "cell_s_median": statistics.median(line["seconds"] for line in log) if log else 0.0,
        "ratio": (min(ratios), max(ratios)) if ratios else None,
    }


def measure_patches(bench) -> None:
    run = _patches_run(bench)
    log = runcache.read_log(run)
    if not log:
        raise BenchError(f"{run}: no {runcache.LOG_NAME} (a run made with --max-cache)")
    s = summarise(log)
    how = f"{run.name}: {s['cells']} cells under --max-cache {s['budget'] / 1e9:g}"
    bench.record(PATCHES, "patches_cells", s["cells"], how)
    bench.record(PATCHES, "patches_peak_cache_gb", s["peak_cache"] / 1e9,
                 "uv cache after the largest install (du, hard links once)")
    bench.record(PATCHES, "patches_peak_disk_gb", s["peak_disk"] / 1e9,
                 "the cache and the live venv together")
    bench.record(PATCHES, "patches_wall_h", s["wall_s"] / 3600,
                 f"first install to last cell's end; median cell {s['cell_s_median']:.0f} s")
    bench.record(PATCHES, "patches_fetched_gb", s["fetched_bytes"] / 1e9,
                 f"wheels downloaded; {s['fetched_again']} fetched a second time, "
                 f"{s['evicted']} packages evicted ({s['evicted_for_budget']} for the budget)")
    if s["ratio"]:
        bench.record(PATCHES, "patches_unpacked_ratio", s["ratio"][1],
                     f"cache growth over download, {s['ratio'][0]:.2f} to {s['ratio'][1]:.2f}")
    measure_plan(bench)


def measure_plan(bench) -> None:
    """Resolving every cell of the lock, cold (empty scratch cache) and from the plans."""
    from _rngdrift.harness.matrix import compat
    folder = bench.work / "plan-cache"
    args = argparse.Namespace(max_cache=1000.0, cache_dir=str(folder), index_url=[],
                              extra_index_url=[], find_links=[])
    try:
        for what in ("cold", "kept"):
            runcache._PLANS.clear()
            start = time.perf_counter()
            plan = runcache.session_plan(compat.PATCHES, args)
            bench.record(PATCHES, f"patches_plan_{what}_s", time.perf_counter() - start,
                         f"{len(plan)} cells resolved (uv pip compile --format pylock.toml)"
                         + (" from the plans kept for a day" if what == "kept" else ""))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cpu(cmd: list) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(map(str, cmd[2:]))} failed: {proc.stderr[-300:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stderr


def _copy_run(run: Path, into: Path) -> Path:
    """The run's cells (and matrix.csv) in a scratch folder: the report writes into it."""
    into.mkdir(parents=True)
    if any((run / "cells").glob("*.csv")):
        shutil.copytree(run / "cells", into / "cells")
    elif (run / "matrix.csv").is_file():
        shutil.copy(run / "matrix.csv", into / "matrix.csv")
    return into


def measure_atlas(bench) -> None:
    runs = [("baseline", ROOT / "results" / "baseline")]
    if getattr(bench.args, "patches_run", None):
        runs.append(("patches", _patches_run(bench)))
    work = Path(tempfile.mkdtemp(prefix="bench-atlas-"))
    try:
        for name, run in runs:
            copy = _copy_run(run, work / name)
            report_s, _ = _cpu([sys.executable, "-m", "rngdrift", "report", copy])
            rows = sum(1 for _ in open(copy / "matrix.csv")) - 1
            atlas_s, err = _cpu([sys.executable, "-m", "rngdrift", "atlas", copy, "--out",
                                 work / f"{name}-site", "--ship", work / f"{name}.json.gz"])
            parts = re.search(r"report model ([\d.]+), site ([\d.]+), explain data ([\d.]+)", err)
            data = json.loads(gzip.open(work / f"{name}.json.gz").read())
            bench.record(ATLAS, f"rngdrift_report_{name}_cpu_s", report_s,
                         f"rngdrift report, {rows} rows, {len(data['cells'])} cells")
            bench.record(ATLAS, f"rngdrift_report_{name}_cpu_s_per_krow", 1000 * report_s / rows,
                         "flat as rows grow: linear")
            bench.record(ATLAS, f"atlas_{name}_cpu_s", atlas_s,
                         "rngdrift atlas --ship: " + (f"report model {parts[1]} s, site "
                                                      f"{parts[2]} s, explain data {parts[3]} s"
                                                      if parts else err[-200:]))
            if parts:
                bench.record(ATLAS, f"atlas_{name}_site_cpu_s_per_krow",
                             1000 * float(parts[2]) / rows, "the site alone, per 1000 rows")
                bench.record(ATLAS, f"atlas_{name}_explain_ms_per_pair",
                             1000 * float(parts[3]) / len(data["pairs"]),
                             f"{len(data['pairs'])} upgrades (cell pairs), "
                             f"{(work / f'{name}.json.gz').stat().st_size / 1e3:.0f} kB gzip")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure_explain(bench) -> None:
    data = [("shipped", None)]
    run = getattr(bench.args, "patches_run", None)
    work = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    try:
        if run:
            shipped = work / "patches.json.gz"
            _cpu([sys.executable, "-m", "rngdrift", "atlas", run, "--out", work / "site",
                  "--ship", shipped])
            data.append(("patches", shipped))
        for name, path in data:
            cmd = [sys.executable, "-m", "rngdrift", "explain", "--from", "1.10", "--to", "2.6",
                   *(["--data", str(path)] if path else [])]
            times = []
            for _ in range(5):
                start = time.perf_counter()
                proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                times.append(time.perf_counter() - start)
                if proc.returncode != 0:
                    raise BenchError(f"explain failed: {proc.stderr[-300:]}")
            bench.record(ATLAS, f"explain_{name}_s", statistics.median(times),
                         "rngdrift explain --from 1.10 --to 2.6, wall, median of 5 "
                         "(a new interpreter each time)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


STAGES = {"patches": measure_patches, "atlas": measure_atlas, "explain": measure_explain}
ROWS = (PATCHES, ATLAS)
