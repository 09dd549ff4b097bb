"""``rngdrift check --blame`` for real, on Python 3.8: a three-package bump

    torch 1.5.0 / torchvision 0.6.0 / Pillow 7.0.0 / NumPy 1.19.5
 -> torch 1.6.0 / torchvision 0.7.0 / Pillow 9.0.0 / NumPy 1.21.6

with ``--only pairs.hflip``: the image/mask flip break under ``python`` seeding is
blamed on the torch/torchvision group, at torchvision 0.7.0 (0.6.1 bisected and found
not to change it); what Pillow and NumPy do to the rows is checked against the rows
their own environments wrote. The environments are kept under .nox/_testcells/blame
(hard-linked from the shared uv cache), so a second run installs nothing.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TESTCELLS

ROOT = Path(__file__).resolve().parent.parent
OLD = "torch==1.5.0 torchvision==0.6.0 pillow==7.0.0 numpy==1.19.5"
NEW = "torch==1.6.0 torchvision==0.7.0 pillow==9.0.0 numpy==1.21.6"
FLIP = ("pairs.hflip", "python", "pair_consistency")
pytestmark = pytest.mark.slow


def values(cell_csv: Path, key) -> set[str]:
    with open(cell_csv, newline="") as handle:
        return {row["value"] for row in csv.DictReader(handle)
                if (row["scenario"], row["seeding"], row["metric"]) == key}


@pytest.fixture(scope="module")
def blamed(tmp_path_factory):
    work = tmp_path_factory.mktemp("blame")
    proc = subprocess.run(
        [sys.executable, "-m", "rngdrift", "check", "--from", OLD, "--to", NEW,
         "--only", "pairs.hflip", "--blame", "--envdir", str(TESTCELLS / "blame"),
         "--results", str(work / "results"), "--run-id", "blame"],
        cwd=work, capture_output=True, text=True, timeout=3000,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    return proc, work / "results" / "blame"


def test_the_flip_break_is_blamed_on_torchvision_0_7(blamed):
    proc, run = blamed
    assert proc.returncode == 1, proc.stderr[-3000:]  # broken: pair consistency under python
    data = json.loads((run / "blame.json").read_text())
    rows = {(r["scenario"], r["seeding"], r["metric"]): r for r in data["rows"]}
    flip = rows[FLIP]
    assert (flip["verdict"], flip["package"], flip["from"], flip["to"]) == (
        "blamed", "torchvision", "0.6.0", "0.7.0")
    assert flip["first_at"] == "0.7.0 with torch 1.6.0"
    assert flip["last_unchanged"] == "0.6.1 with torch 1.5.1" and flip["exact"] is True
    assert flip["before"] == "1.0"
    text = (run / "check.md").read_text()
    assert ("**torchvision 0.6.0 → 0.7.0 (with torch 1.5.0 → 1.6.0): first at 0.7.0 with "
            "torch 1.6.0; 0.6.1 with torch 1.5.1 does not change it**") in text
    assert "`pairs.hflip` under `python`" in text
    # every row the report calls broken is blamed on the torch/torchvision group
    with open(run / "findings.csv", newline="") as handle:
        broken = [(r["scenario"], r["seeding"], r["metric"]) for r in csv.DictReader(handle)
                  if r["severity"] == "broken"]
    assert FLIP in broken
    assert {rows[k]["package"] for k in broken} == {"torchvision"}
    cost = data["cost"]
    assert cost["environments_built"] >= 4 and cost["scenario_runs"] > 0
    assert f"Cost: {cost['environments_built']} environments built" in text
    assert "environments built" in proc.stderr


def test_pillow_and_numpy_are_judged_by_their_own_rows(blamed):
    """Whatever Pillow 9.0.0 and NumPy 1.21.6 do alone is what their environments
    measured: a group that moves no row is said to change nothing, and each row it
    moves is blamed on it; the flip row is the old side's value in both."""
    _, run = blamed
    data = json.loads((run / "blame.json").read_text())
    old_cell = data["from_cell"]
    old_flip = values(run / "cells" / f"{old_cell}.csv", FLIP)
    text = (run / "check.md").read_text()
    for package, version in (("pillow", "9.0.0"), ("numpy", "1.21.6")):
        (group,) = [g for g in data["groups"] if g["packages"] == [package]]
        (cell_csv,) = (run / "blame" / "cells").glob(f"*-{package}{version}.csv")
        assert values(cell_csv, FLIP) == old_flip == {"1.0"}
        mine = [r for r in data["rows"] if r["package"] == package]
        assert len(mine) == group["moves_rows"]
        if not mine:
            said = [line for line in text.splitlines() if line.endswith("nothing here")]
            assert len(said) == 1 and group["group"] in said[0], said
        for row in mine:
            key = (row["scenario"], row["seeding"], row["metric"])
            assert values(cell_csv, key) != values(run / "cells" / f"{old_cell}.csv", key)
    torch_only = run / "blame" / "cells" / "py3.8-torch1.6.0-tv0.7.0.csv"
    assert values(torch_only, FLIP) != old_flip
