"""The nightly chain, locally: list -> shard -> merge -> report -> compare.

What the GitHub workflow does across machines, done here with separate ``nox``
invocations on two real cells (torch 1.5 and the newest pair):

* split run: one invocation per cell, the run id shared through RNGDRIFT_RUN_ID
  (the first through the workflow's own cell-job script), then ``nox -s report``
  on the run directory (the report job);
* single run: one ``nox -s matrix -- --shard K/N`` invocation whose shard holds
  exactly those two cells (proving --shard picks them and skips the rest).

Both matrix.csv must agree apart from run ids and timing rows, and ``nox -s
compare`` between them must exit 0. Only the seeding modes that reproduce on
both cells (``all``, ``full``) are run: under ``none`` no two runs agree, which
is what the reports are for, not a property of the chain.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from _rngdrift.harness.runs import ci, cellsession
from _rngdrift.harness import cli
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.cell import schema

from conftest import NEW_CELL, OLD_CELL

ROOT = Path(__file__).resolve().parent.parent
CELL_OPTIONS = ["--only", "pairs.*", "--seeding", "all,full", "--repeats", "1", "--jobs", "1"]

pytestmark = pytest.mark.slow


def nox(*args: str, env_run_id: str | None = None, timeout: float = 1800) -> str:
    env = {k: v for k, v in os.environ.items() if k != "RNGDRIFT_RUN_ID"}
    if env_run_id:
        env["RNGDRIFT_RUN_ID"] = env_run_id
    proc = subprocess.run([sys.executable, "-m", "nox", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"nox {' '.join(args)}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def run_cell_job_script(work: Path, envdir: str, session: str, cell: str, run_id: str,
                        cell_args: list[str]) -> None:
    """The cell job's `nox -s` step from nightly.yml, verbatim, with `nox` onto this checkout."""
    yaml = pytest.importorskip("ruamel.yaml", reason="pip install check-jsonschema")
    workflow = yaml.YAML(typ="safe").load((ROOT / ".github/workflows/nightly.yml").read_text())
    script = next(s["run"] for s in workflow["jobs"]["cell"]["steps"]
                  if "--error-on-missing-interpreters" in s.get("run", ""))
    shim = work / "bin" / "nox"
    shim.parent.mkdir(exist_ok=True)
    shim.write_text(f"#!/bin/bash\nexec {sys.executable} -m nox --envdir {envdir} "
                    f"-f {ROOT / 'noxfile.py'} \"$@\"\n")
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{shim.parent}{os.pathsep}{os.environ['PATH']}",
               SESSION=session, CELL=cell, RNGDRIFT_RUN_ID=run_id,
               CELL_ARGS=" ".join(shlex.quote(a) for a in cell_args))
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=work, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def comparable(matrix_csv: Path) -> pd.DataFrame:
    frame = pd.read_csv(matrix_csv, dtype=str, keep_default_na=False)
    frame = frame[frame["kind"] != "timing"].drop(columns="run_id")
    return frame.sort_values(list(schema.KEY)).reset_index(drop=True)


def two_cell_shard() -> str:
    """A K/N whose shard of the default matrix is exactly the two cells of this test."""
    cells = compat.DEFAULT
    for n in range(len(cells), 1, -1):
        for k in range(1, n + 1):
            if [c.id for c in cells if cellsession.shard_of(c, cells, n) == k] == \
                    [OLD_CELL, NEW_CELL]:
                return f"{k}/{n}"
    raise AssertionError(f"no shard of the default matrix holds just {OLD_CELL} and {NEW_CELL}")


def test_split_and_single_invocations_agree(tmp_path):
    results = tmp_path / "results"
    envdir = str(tmp_path / "nox")  # private venvs: fresh, but hard-linked from uv's cache
    common = ["--results", str(results), *CELL_OPTIONS]

    # list: the CI's job matrix holds both cells, with the Python each needs
    listing = subprocess.run([sys.executable, "-m", "nox", "-l", "--json", "-s", "matrix"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    jobs = {e["cell"]: e for e in ci.matrix_include(ci.parse_listing(listing), ["matrix"])}
    assert {OLD_CELL, NEW_CELL} <= set(jobs)

    # split: two invocations ("two CI jobs") sharing one run id through the environment
    split_id = "chain-split"
    run_cell_job_script(tmp_path, envdir, jobs[OLD_CELL]["session"], OLD_CELL, split_id, common)
    nox("--envdir", envdir, "-s", jobs[NEW_CELL]["session"], "--", *common, env_run_id=split_id)
    split = results / split_id
    assert (split / "cells" / f"{OLD_CELL}.nox.log").is_file()  # the job's log, beside its CSV
    assert sorted(p.name for p in (split / "cells").glob("*.csv")) == sorted(
        [f"{OLD_CELL}.csv", f"{NEW_CELL}.csv"])
    # the report job: whatever came back is merged, nothing is missing
    matrix = json.dumps({"include": list(jobs[c] for c in (OLD_CELL, NEW_CELL))})
    assert cli.main(["ci", "holes", str(split), "--matrix", matrix]) == 0
    nox("--envdir", envdir, "-s", "report", "--", str(split))

    # single: one invocation, the shard that holds exactly those two cells
    single_id = "chain-single"
    output = nox("--envdir", envdir, "-s", "matrix", "--", "--shard", two_cell_shard(),
                 "--run-id", single_id, *common)
    skipped = [c.id for c in compat.DEFAULT if c.id not in (OLD_CELL, NEW_CELL)]
    for cell_id in skipped:
        assert f"{cell_id} is in shard" in output
    single = results / single_id
    assert sorted(p.name for p in (single / "cells").glob("*.csv")) == sorted(
        [f"{OLD_CELL}.csv", f"{NEW_CELL}.csv"])

    a, b = comparable(split / "matrix.csv"), comparable(single / "matrix.csv")
    assert set(a["cell"]) == {OLD_CELL, NEW_CELL}
    assert (a["status"] == "ok").all(), a[a["status"] != "ok"][["cell", "scenario", "detail"]]
    pd.testing.assert_frame_equal(a, b)
    assert set(pd.read_csv(split / "matrix.csv", dtype=str)["run_id"]) == {split_id}

    # compare: nothing changed between the two runs
    nox("--envdir", envdir, "-s", "compare", "--", str(split), str(single))
    assert (single / "compare.md").is_file()
