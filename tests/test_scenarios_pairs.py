"""scenarios/pairs.py: the reseed-image, reseed-mask idiom, run in the torch 1.5/tv 0.6
cell (transforms draw from random) and the newest cell (they draw from torch)."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, family_cells, value
from scenariorows import MODES, REPEATS, check_shape

pytestmark = pytest.mark.slow

NAMES = ["pairs.hflip", "pairs.resized_crop", "pairs.rotation", "pairs.pipeline"]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return family_cells(tmp_path_factory, ["pairs.*"], MODES, REPEATS)


def consistency(rows, name, seeding, repeat="1"):
    fraction = float(value(rows, name, seeding, "pair_consistency", repeat))
    assert 0.0 <= fraction <= 1.0
    return fraction


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_shape(cells, cell):
    rows, names = cells[cell]
    assert sorted(names) == sorted(NAMES)
    status = check_shape(rows, names, lambda name: [])
    assert {s for s, _ in status.values()} == {"ok"}
    for name in names:
        for seeding in ("python", "torch", "all"):
            consistency(rows, name, seeding)


@pytest.mark.parametrize("name", NAMES)
def test_python_seeding_pairs_only_while_transforms_draw_from_random(cells, name):
    assert consistency(cells[OLD_CELL][0], name, "python") == 1.0
    assert consistency(cells[NEW_CELL][0], name, "python") < 0.9


@pytest.mark.parametrize("name", NAMES)
def test_torch_seeding_pairs_only_once_transforms_draw_from_torch(cells, name):
    assert consistency(cells[OLD_CELL][0], name, "torch") < 0.9
    assert consistency(cells[NEW_CELL][0], name, "torch") == 1.0


@pytest.mark.parametrize("name", NAMES)
def test_seeding_everything_always_pairs(cells, name):
    for cell in (OLD_CELL, NEW_CELL):
        for repeat in ("1", "2"):
            assert consistency(cells[cell][0], name, "all", repeat) == 1.0, cell
