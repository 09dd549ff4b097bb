"""Fault injection through real cells and a real ``nox -s matrix``.

``scenarios/faults.py`` (enabled by RNGDRIFT_FAULTS=1) raises, hangs, hangs a
DataLoader worker, segfaults, exits, is SIGKILLed, allocates without end and
prints junk; every fault must become a clear row while the cell's other
scenarios still run, and nothing may be left running. The nox tests install a
pair that does not exist, ask for a Python that is not there, and interrupt a
run and resume it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from conftest import NEW_CELL, OLD_CELL, ROOT, data_rows, value
from _rngdrift.harness.runs import cellsession, cellsets, ci
from _rngdrift.harness.cell import schema

pytestmark = pytest.mark.slow

TIMEOUT = 5  # seconds per scenario: the hangs cost this much each
FAULTS = ["faults.raise", "faults.hang", "faults.hang_worker", "faults.segfault",
          "faults.exit", "faults.sigkill", "faults.oom", "faults.junk_output"]


def processes_with(token: str) -> list[str]:
    """Command lines of live processes whose environment holds ``token``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if token.encode() not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def run_faults(python: Path, out: Path, *args: str) -> tuple[list[dict], str]:
    token = uuid.uuid4().hex
    env = dict(os.environ, PYTHONPATH=str(ROOT), RNGDRIFT_FAULTS="1", RNGDRIFT_TEST_TOKEN=token)
    proc = subprocess.run(
        [str(python), "-m", "_rngdrift.harness.cell", "--out", str(out), "--cell", "faults",
         "--run-id", "faults", "--seeding", "none", "--repeats", "1", "--jobs", "1",
         "--timeout", str(TIMEOUT), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    time.sleep(1)
    assert processes_with(token) == [], "processes left running after the cell"
    return data_rows(out), out.with_suffix(".log").read_bytes().decode("utf-8", "replace")


@pytest.fixture(scope="module", params=[OLD_CELL, NEW_CELL])
def faulted(request, cell_python, tmp_path_factory):
    """Rows of one run of every fault (plus a real scenario after them) in a real cell."""
    out = tmp_path_factory.mktemp("faults") / "cell.csv"
    only = [a for name in FAULTS + ["loader.shuffle_global"] for a in ("--only", name)]
    rows, log = run_faults(cell_python(request.param), out, *only, "--memory-limit", "4G")
    return rows, log


def status(rows, scenario):
    (row,) = [r for r in rows if r.scenario == scenario and r.metric == "status"]
    return row.status, row.detail


@pytest.mark.parametrize("scenario, expected_status, detail_starts, detail_has", [
    ("faults.raise", "error", "RuntimeError: injected fault: scenario raised (at faults.py:", ""),
    ("faults.hang", "timeout", f"no result after {TIMEOUT}s; process group killed; was at ",
     "in hang"),
    ("faults.hang_worker", "timeout", f"no result after {TIMEOUT}s; process group killed; was at ",
     "faults.py"),
    ("faults.segfault", "error",
     "child process killed by SIGSEGV while running this scenario; at ", "in segfault"),
    ("faults.exit", "error", "child process exited with code 3 while running this scenario", ""),
    ("faults.sigkill", "error", "child process killed by SIGKILL while running this scenario", ""),
    ("faults.oom", "error", "MemoryError: Unable to allocate 256. MiB", ""),
])
def test_each_fault_is_a_clear_row(faulted, scenario, expected_status, detail_starts, detail_has):
    rows, _ = faulted
    got_status, detail = status(rows, scenario)
    assert got_status == expected_status, detail
    assert detail.startswith(detail_starts), detail
    assert detail_has in detail
    assert [r.metric for r in rows if r.scenario == scenario] == ["status"]


def test_the_rest_of_the_cell_still_runs(faulted):
    rows, _ = faulted
    assert status(rows, "loader.shuffle_global") == ("ok", "")
    assert value(rows, "loader.shuffle_global", "none", "order")
    assert [r.scenario for r in rows if r.metric == "status"] == \
        FAULTS + ["loader.shuffle_global"]


def test_junk_output_leaves_the_results_intact(faulted):
    rows, log = faulted
    assert status(rows, "faults.junk_output") == ("ok", "")
    assert value(rows, "faults.junk_output", "none", "answer") == "42"
    assert '"detail": "forged"' in log  # the junk went to the log, not the results


def test_a_hung_loader_leaves_its_stack_in_the_log(faulted):
    _, log = faulted
    # Dumped on SIGUSR1 before the kill: the loader waiting on its hung worker.
    # (That the worker itself is gone is checked for every run in run_faults.)
    assert "dataloader.py" in log and "in hang_worker" in log


def test_without_a_memory_limit_the_oom_fault_refuses_to_run(cell_python, tmp_path):
    rows, _ = run_faults(cell_python(OLD_CELL), tmp_path / "cell.csv", "--only", "faults.oom",
                         "--memory-limit", "none")
    assert status(rows, "faults.oom") == (
        "n/a", "no data memory limit set; refusing to exhaust the machine")


# -- through nox ----------------------------------------------------------------------------
# Spawned children (an interpreter each) keep the new cell's second job running long
# enough to interrupt it mid-cell; forked ones finish two scenarios in a blink.
NOX_ARGS = ["--only", "loader.shuffle_global", "--only", "pairs.hflip",
            "--seeding", "all,full", "--repeats", "1", "--jobs", "1", "--start", "spawn"]


def nox(envdir: Path, results: Path, run_id: str, *extra: str,
        cells=(OLD_CELL, NEW_CELL)) -> list[str]:
    return [sys.executable, "-m", "nox", "--envdir", str(envdir), "--reuse-venv", "yes",
            "-s", *(f"matrix({c})" for c in cells),
            "--", "--run-id", run_id, "--results", str(results), *NOX_ARGS, *extra]


def comparable(matrix: Path) -> pd.DataFrame:
    frame = pd.read_csv(matrix, dtype=str, keep_default_na=False).drop(columns=["run_id"])
    frame.loc[frame["kind"] == "timing", "value"] = ""
    return frame.reset_index(drop=True)


def wait_for(predicate, seconds, proc):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        assert proc.poll() is None, "nox ended before it could be interrupted"
        time.sleep(0.5)
    raise AssertionError("timed out waiting")


def test_interrupted_matrix_resumes_to_the_same_matrix_csv(tmp_path):
    envdir, results = tmp_path / "nox", tmp_path / "results"
    reference = subprocess.run(nox(envdir, results, "whole"), cwd=ROOT, capture_output=True,
                               text=True, timeout=1800)
    assert reference.returncode == 0, reference.stdout[-3000:] + reference.stderr[-3000:]

    # Ctrl-C (SIGINT to nox's process group) once the old cell is written and the
    # new one has journalled its first job.
    token = uuid.uuid4().hex
    cells = results / "cut" / "cells"
    journal = cells / f"{NEW_CELL}.journal"
    log = open(tmp_path / "cut.out", "w")
    # Ctrl-C as in a terminal: a shell's background job (a CI runner's, say) inherits
    # SIGINT ignored, which would make nox deaf to it.
    proc = subprocess.Popen(nox(envdir, results, "cut"), cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(os.environ, RNGDRIFT_TEST_TOKEN=token),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) >= 2,
                 1200, proc)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert proc.returncode != 0
    time.sleep(1)
    assert processes_with(token) == [], "processes left running after Ctrl-C"
    assert cellsession.cell_is_complete(cells / f"{OLD_CELL}.csv", OLD_CELL)
    assert not (cells / f"{NEW_CELL}.csv").exists(), "interrupted too late to test a resume"
    assert not [p.name for p in cells.iterdir() if ".tmp-" in p.name]
    old_csv = (cells / f"{OLD_CELL}.csv").read_bytes()

    resumed = subprocess.run(nox(envdir, results, "cut", "--resume"), cwd=ROOT,
                             capture_output=True, text=True, timeout=1800)
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-3000:]
    assert f"{OLD_CELL}: complete CSV already in cut; skipped (--resume)" in output
    assert f"[{NEW_CELL}] resuming: 1 job(s) kept" in output
    assert (cells / f"{OLD_CELL}.csv").read_bytes() == old_csv
    assert not journal.exists()
    pd.testing.assert_frame_equal(comparable(results / "cut" / "matrix.csv"),
                                  comparable(results / "whole" / "matrix.csv"))


def test_uninstallable_pair_and_missing_python_are_error_rows(tmp_path):
    bad_pair, no_python = "py3.8-torch9.9.9-tv0.6.0", "py3.99-torch1.5.0-tv0.6.0"
    env = dict(os.environ, **{cellsets.EXTRA_CELLS_ENV: f"{bad_pair},{no_python}"})
    listed = subprocess.run([sys.executable, "-m", "nox", "-l", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    listing = json.loads(listed.stdout)
    pythons = {s["session"]: s["python"] for s in listing}
    # A cell whose Python is nowhere runs on nox's own interpreter, to record the hole;
    # the CI job matrix still asks for the Python the cell needs.
    assert pythons[f"matrix({no_python})"] is None
    assert pythons[f"matrix({bad_pair})"] == "3.8"
    include = {e["cell"]: e["python"] for e in ci.matrix_include(listing, ["matrix"])}
    assert include[no_python] == "3.99"

    proc = subprocess.run(
        [sys.executable, "-m", "nox", "--envdir", str(tmp_path / "nox"),
         "-s", f"matrix({bad_pair})", f"matrix({no_python})",
         "--", "--run-id", "holes", "--results", str(tmp_path / "results")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0  # the failed install fails the nox run
    assert f"{no_python}: Python 3.99 not found" in output
    assert "recorded as an error row" in output
    cells = tmp_path / "results" / "holes" / "cells"
    manifest, install = schema.read_csv(cells / f"{bad_pair}.csv")
    assert (manifest.scenario, manifest.detail) == (schema.CELL_MANIFEST, "rows=1")
    assert (install.scenario, install.status) == ("cell.install", "error")
    assert install.detail.startswith("install failed: ")
    assert "torch==9.9.9" in install.detail
    _, interp = schema.read_csv(cells / f"{no_python}.csv")
    assert (interp.scenario, interp.status, interp.python) == (
        "cell.interpreter", "error", "3.99")
    assert "uv python install 3.99" in interp.detail
    # The report (notified by the cell that ran) shows both holes.
    matrix = pd.read_csv(tmp_path / "results" / "holes" / "matrix.csv", dtype=str)
    holes = matrix[matrix["scenario"] != schema.CELL_MANIFEST]
    assert sorted(zip(holes["cell"], holes["scenario"], holes["status"])) == [
        (bad_pair, "cell.install", "error"), (no_python, "cell.interpreter", "error")]
