"""scenarios/augment.py and augment_v2.py (recipes in scenarios/_augment.py): every
transform alone, run in the torch 1.5/tv 0.6 cell and the newest cell."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, family_cells, value
from scenariorows import MODES, REPEATS, check_shape, metrics, statuses

pytestmark = pytest.mark.slow

TRANSFORMS = ["hflip", "vflip", "crop", "resized_crop", "rotation", "affine", "perspective",
              "color_jitter", "grayscale", "erasing", "gaussian_blur", "random_apply",
              "random_choice", "random_order", "autoaugment", "randaugment",
              "trivialaugment", "augmix"]
WITH_PARAMS = {"crop", "resized_crop", "rotation", "affine", "perspective", "color_jitter",
               "erasing", "gaussian_blur", "autoaugment"}
# First torchvision release with each transform that the two cells tell apart.
NOT_IN_TV06 = {"gaussian_blur", "autoaugment", "randaugment", "trivialaugment", "augmix"}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return family_cells(tmp_path_factory, ["augment*"], MODES, REPEATS)


def _fingerprints(name):
    short = name.split(".", 1)[1]
    return ["output", "params"] if short in WITH_PARAMS else ["output"]


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_shape(cells, cell):
    rows, names = cells[cell]
    expected = ["augment.%s" % t for t in TRANSFORMS] + ["augment.pipeline"] + \
        ["augment_v2.%s" % t for t in TRANSFORMS]
    assert sorted(names) == sorted(expected)
    check_shape(rows, names, _fingerprints)


def test_gates_at_tv06(cells):
    status = statuses(cells[OLD_CELL][0])
    for name in TRANSFORMS:
        state, detail = status[("augment." + name, "all", "1")]
        assert state == ("n/a" if name in NOT_IN_TV06 else "ok"), (name, detail)
        if state == "n/a":
            assert "torchvision>=" in detail and "0.6.0" in detail
        state, detail = status[("augment_v2." + name, "all", "1")]
        assert state == "n/a" and "torchvision>=0.15" in detail, (name, detail)


def test_everything_runs_in_the_newest_cell(cells):
    status = statuses(cells[NEW_CELL][0])
    assert {state for state, _ in status.values()} == {"ok"}


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_all_seeding_reproduces_outputs_and_params(cells, cell):
    rows, names = cells[cell]
    for name in names:
        first, second = metrics(rows, name, "all", "1"), metrics(rows, name, "all", "2")
        for metric in ("output", "params"):
            if metric in first:
                assert first[metric].value == second[metric].value, (name, metric)


def test_draws_moved_from_random_to_torch(cells):
    old, new = cells[OLD_CELL][0], cells[NEW_CELL][0]
    for name in ("hflip", "crop", "rotation", "color_jitter", "erasing"):
        assert value(old, "augment." + name, "all", "rng.python") == "1", name
        assert value(old, "augment." + name, "all", "rng.torch") == "0", name
        assert value(new, "augment." + name, "all", "rng.python") == "0", name
        assert value(new, "augment." + name, "all", "rng.torch") == "1", name


def test_v1_containers_still_draw_from_random_where_v2_draws_from_torch(cells):
    rows = cells[NEW_CELL][0]
    for name in ("random_choice", "random_order"):
        assert value(rows, "augment." + name, "all", "rng.python") == "1", name
        assert value(rows, "augment." + name, "all", "rng.torch") == "0", name
        assert value(rows, "augment_v2." + name, "all", "rng.python") == "0", name
        assert value(rows, "augment_v2." + name, "all", "rng.torch") == "1", name


def test_v2_flips_and_crops_give_what_v1_gives(cells):
    rows = cells[NEW_CELL][0]
    for name in ("hflip", "crop", "resized_crop", "rotation"):
        assert value(rows, "augment." + name, "all", "output") == \
            value(rows, "augment_v2." + name, "all", "output"), name


def test_params_follow_the_seeded_generator(cells):
    # Parameters are sampled after a reseed: under `all` and under the mode that
    # seeds the generator the transform draws from, they are the same.
    old, new = cells[OLD_CELL][0], cells[NEW_CELL][0]
    for name in ("augment.crop", "augment.rotation"):
        assert value(old, name, "python", "params") == value(old, name, "all", "params")
        assert value(new, name, "torch", "params") == value(new, name, "all", "params")
