"""End to end through nox: two real cells (torch 1.5/tv 0.6 on Python 3.8 and the
newest pair), merged by the report session."""
import subprocess
import sys

import pytest

from conftest import NEW_CELL, OLD_CELL, ROOT
from _rngdrift.harness.cell import schema

pytestmark = pytest.mark.slow

SELECTED = ["pairs.*", "loader.shuffle_*", "augment.pipeline"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    only = [arg for pattern in SELECTED for arg in ("--only", pattern)]
    proc = subprocess.run(
        [sys.executable, "-m", "nox", "-s", f"matrix({OLD_CELL})", f"matrix({NEW_CELL})",
         "--", "--run-id", "e2e", "--results", str(results), *only],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return results / "e2e"


def _pairs(rows, cell, seeding_mode):
    """pairs.hflip's pair_consistency in each repeat."""
    values = [float(r.value) for r in rows if r.cell == cell
              and r.scenario == "pairs.hflip" and r.seeding == seeding_mode
              and r.metric == "pair_consistency"]
    assert len(values) == 2, values
    return values


def test_every_scenario_seeding_repeat_and_cell_is_in_matrix_csv(run):
    rows = schema.read_csv(run / "matrix.csv")
    manifests = [r for r in rows if r.scenario == schema.CELL_MANIFEST]
    assert sorted(r.cell for r in manifests) == sorted([OLD_CELL, NEW_CELL])
    rows = [r for r in rows if r.scenario != schema.CELL_MANIFEST]
    status = {(r.cell, r.scenario, r.seeding, r.repeat)
              for r in rows if r.metric == schema.STATUS_METRIC}
    scenarios = {r.scenario for r in rows}
    assert {"pairs.hflip", "pairs.resized_crop", "pairs.rotation", "augment.pipeline",
            "loader.shuffle_global", "loader.shuffle_generator"} <= scenarios
    expected = {(c, s, m, r) for c in (OLD_CELL, NEW_CELL) for s in scenarios
                for m in schema.DEFAULT_MODES for r in ("1", "2")}
    assert status == expected
    assert {r.run_id for r in rows} == {"e2e"}
    assert (run.parent / "latest").resolve() == run.resolve()


def test_freeze_files_record_the_pins(run):
    freeze = (run / "cells" / f"{OLD_CELL}.freeze.txt").read_text().split()
    assert {"torch==1.5.0", "torchvision==0.6.0", "numpy==1.24.4", "pillow==10.4.0"} <= set(freeze)


def test_the_classic_pair_bug_shows_at_the_newest_torchvision(run):
    rows = schema.read_csv(run / "matrix.csv")
    assert _pairs(rows, OLD_CELL, "python") == [1.0, 1.0]  # tv 0.6 drew from random
    assert max(_pairs(rows, NEW_CELL, "python")) < 0.8    # tv >= 0.7 draws from torch
    assert max(_pairs(rows, OLD_CELL, "torch")) < 0.8
    assert _pairs(rows, NEW_CELL, "torch") == [1.0, 1.0]
    for cell in (OLD_CELL, NEW_CELL):
        assert _pairs(rows, cell, "all") == [1.0, 1.0]


def test_sources_show_the_move_from_random_to_torch(run):
    rows = schema.read_csv(run / "matrix.csv")

    def calls(cell):
        return {r.metric for r in rows if r.cell == cell and r.scenario == "pairs.hflip"
                and r.seeding == "full" and r.metric.startswith("rng.calls.")}
    assert "rng.calls.random.random" in calls(OLD_CELL)
    assert "rng.calls.torch.rand" not in calls(OLD_CELL)
    assert "rng.calls.torch.rand" in calls(NEW_CELL)
    assert "rng.calls.random.random" not in calls(NEW_CELL)


def test_missing_api_is_na_with_reason(run):
    rows = schema.read_csv(run / "matrix.csv")
    na = [r for r in rows if r.cell == OLD_CELL and r.scenario == "loader.shuffle_generator"
          and r.metric == schema.STATUS_METRIC]
    assert {r.status for r in na} == {"n/a"}
    assert all("torch>=1.6" in r.detail for r in na)
