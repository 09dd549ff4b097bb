"""The fix recipes in real cells (torch 1.5/tv 0.6 and the newest): each applies its
lines where its record says, to rngdrift's scenarios and to a team's own code alike,
so their rows verify the fixes the report prints."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, ROOT, build_cell, run_cell

pytestmark = pytest.mark.slow

MODES = "python,python-torch,all,workers,generator"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    out = {}
    for cell in (OLD_CELL, NEW_CELL):
        out[cell] = run_cell(
            build_cell(cell), tmp_path_factory.mktemp("recipes") / f"{cell}.csv",
            "--only", "pairs.hflip", "--only", "loader.numpy_workers", "--only", "datapairs.*",
            "--pairs", str(ROOT / "examples" / "data.py") + ":segmentation_pairs",
            "--seeding", MODES, "--repeats", "2", cell=cell)
    return out


def _values(rows, scenario, mode, metric):
    return {r.value for r in rows if (r.scenario, r.seeding, r.metric) == (scenario, mode, metric)}


def test_python_torch_pairs_what_python_seeding_no_longer_pairs(rows):
    """tv 0.7 moved flips to torch: `python` pairs break at the newest; seeding torch next to
    every random.seed (the recipe) pairs them again, in rngdrift's scenario and in the
    team's own Dataset that calls random.seed itself."""
    assert _values(rows[OLD_CELL], "pairs.hflip", "python", "pair_consistency") == {"1.0"}
    assert _values(rows[NEW_CELL], "pairs.hflip", "python", "pair_consistency") != {"1.0"}
    for cell in (OLD_CELL, NEW_CELL):
        assert _values(rows[cell], "pairs.hflip", "python-torch", "pair_consistency") == {"1.0"}
        team = [r for r in rows[cell] if r.scenario.startswith("datapairs.")
                and r.seeding == "python-torch" and r.metric == "pair_consistency"]
        assert team and {r.value for r in team} == {"1.0"}, (cell, team)


def test_workers_seeds_numpy_in_every_worker_before_torch_1_9(rows):
    old = rows[OLD_CELL]
    assert _values(old, "loader.numpy_workers", "all", "duplicate_fraction") == {"1.0"}
    for cell in (OLD_CELL, NEW_CELL):
        assert _values(rows[cell], "loader.numpy_workers", "workers", "duplicate_fraction") == {"0.0"}
        recipe = _values(rows[cell], "loader.numpy_workers", "workers", "rng.recipe")
        assert recipe == {"worker_init_fn"}


def test_generator_passes_a_seeded_generator_only_where_torch_has_one(rows):
    assert _values(rows[OLD_CELL], "loader.numpy_workers", "generator", "rng.recipe") == set()
    assert _values(rows[NEW_CELL], "loader.numpy_workers", "generator", "rng.recipe") == {"generator"}
