"""The check stage: what ``rngdrift check --from HEAD~1 --to HEAD --pytest tests/`` costs
a team, on tests/scratchproject.py's repository (torch 1.5.0/tv 0.6.0 -> 1.6.0/0.7.0,
three tests).

    check_first_s    the first check in a new clone: both sides resolved (uv pip compile,
                     against the index), both environments installed from the warm uv
                     cache, the two cells run, the report written
    check_warm_s     the same check again: resolutions and environments kept
                     (.rngdrift/check/), so the cells and the report are what is left
    check_cells_s    of that, the two cells' own wall time (their "wrote ... (N rows, Ss)")

The blame stage: what ``rngdrift check --blame`` costs for a three-package bump
(torch 1.5.0/tv 0.6.0, Pillow 7.0.0, NumPy 1.19.5 -> torch 1.6.0/tv 0.7.0, Pillow 9.0.0,
NumPy 1.21.6; ``--only pairs.hflip``, every seeding mode, 2 repeats):

    blame_envs       environments the blame built (each group alone, then the bisection)
    blame_s          the blame's own wall time (its "N environments built, ... S s" line)
    blame_check_s    the whole check --blame, first time in a new folder (both sides
                     resolved and installed, run, reported, then blamed)

Run with the checkout's rngdrift (the code a wheel installs) in ``--work``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

from benchmarks.measure import ROOT, BenchError
from benchmarks.records import MATRIX

COMMAND = ["check", "--from", "HEAD~1", "--to", "HEAD", "--pytest", "tests/"]
BLAME = ["check", "--from", "torch==1.5.0 torchvision==0.6.0 pillow==7.0.0 numpy==1.19.5",
         "--to", "torch==1.6.0 torchvision==0.7.0 pillow==9.0.0 numpy==1.21.6",
         "--only", "pairs.hflip", "--blame"]
ROWS = (("check_first_s", "first check in a new clone (resolve, install, run, report)"),
        ("check_warm_s", "the same check again (warm: resolutions and environments kept)"),
        ("check_cells_s", "of which the two cells ran"),
        ("blame_check_s", "check --blame of a three-package bump, first time (both sides, "
                          "report, blame)"),
        ("blame_s", "of which the blame (environments built, run, bisected)"))


def _check(repo, log, command=COMMAND) -> tuple[float, str, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "import sys; from _rngdrift.harness.cli "
                           "import main; sys.exit(main())", *command], cwd=repo,
                          capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    wall = time.perf_counter() - start
    with open(log, "a") as handle:
        handle.write(proc.stdout + proc.stderr)
    if proc.returncode not in (0, 1):
        raise BenchError(f"rngdrift check exited with {proc.returncode} (see {log})")
    return wall, proc.stderr, proc.returncode


def measure_check(bench) -> None:
    from tests import scratchproject  # the repository tests/test_upgrade_e2e.py checks
    repo = scratchproject.make(bench.work / "check" / "segmentation")
    log = bench.log("check.log")
    try:
        first, _, code = _check(repo, log)
        bench.record(MATRIX, "check_first_s", first, f"exit {code}; uv cache warm, new clone")
        warm, said, code = _check(repo, log)
        bench.record(MATRIX, "check_warm_s", warm, f"exit {code}; {' '.join(COMMAND)}")
        cells = [float(s) for s in re.findall(r"\] wrote .* \(\d+ rows, (\d+)s\)", said)]
        if len(cells) == 2:
            bench.record(MATRIX, "check_cells_s", sum(cells),
                         f"{cells[0]:.0f} s + {cells[1]:.0f} s (every seeding mode, 2 repeats)")
    finally:
        if not bench.args.keep:
            shutil.rmtree(bench.work / "check", ignore_errors=True)


def measure_blame(bench) -> None:
    folder = bench.work / "blame"
    folder.mkdir(parents=True, exist_ok=True)
    log = bench.log("blame.log")
    try:
        wall, said, code = _check(folder, log, BLAME)
        bench.record(MATRIX, "blame_check_s", wall, f"exit {code}; uv cache warm, new folder")
        cost = re.search(r"--blame: (\d+) environments built, (\d+) scenario runs, (\d+) s", said)
        if not cost:
            raise BenchError(f"check --blame printed no cost line (see {log})")
        built, runs, seconds = map(int, cost.groups())
        bench.record(MATRIX, "blame_envs", built, f"{runs} scenario runs; {' '.join(BLAME[5:])}")
        bench.record(MATRIX, "blame_s", float(seconds), f"{built} environments, {runs} "
                                                        "scenario runs")
    finally:
        if not bench.args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def table(records) -> tuple[list[str], list[list[str]]]:
    rows = [[what, f"{records[(MATRIX, metric)]['value']:.1f} s",
             records[(MATRIX, metric)].get("note", "")]
            for metric, what in ROWS if (MATRIX, metric) in records]
    if (MATRIX, "blame_envs") in records:
        found = records[(MATRIX, "blame_envs")]
        rows.append(["environments the blame built", f"{found['value']}", found.get("note", "")])
    return ["what", "wall", "how"], rows


STAGES = {"check": measure_check, "blame": measure_blame}
