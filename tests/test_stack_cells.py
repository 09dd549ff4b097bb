"""The stack's scenarios in real cells with named pins (built like any test cell):
albumentations before and after its own generators on the newest pair, and the last
albumentations Python 3.8 can have beside torch 1.5."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, build_cell, run_cell
from scenariofacts import metric, statuses

pytestmark = pytest.mark.slow

BEFORE = f"{NEW_CELL}-albumentations1.4.20"
AFTER = f"{NEW_CELL}-albumentations1.4.21"
OLD_ALBU = f"{OLD_CELL}-albumentations1.4.18"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    out = {}
    for cell in (BEFORE, AFTER, OLD_ALBU):
        path = tmp_path_factory.mktemp("stack") / f"{cell}.csv"
        out[cell] = run_cell(build_cell(cell), path, "--only", "albumentations.*",
                             "--seeding", "python", "--repeats", "2", cell=cell)
    return out


def _agree(rows, scenario, name):
    return metric(rows, scenario, "python", name, "1") == metric(rows, scenario, "python", name, "2")


@pytest.mark.parametrize("cell", [BEFORE, OLD_ALBU])
def test_up_to_1_4_20_seeding_random_and_numpy_repeats_the_pipeline(rows, cell):
    got = rows[cell]
    assert _agree(got, "albumentations.compose_repeat", "output")
    assert metric(got, "albumentations.pairs_reseed", "python", "pair_consistency") == 1.0
    (state, detail) = statuses(got)[("albumentations.compose_seed", "python", "1")]
    assert state == "n/a" and detail.startswith("needs albumentations>=1.4.21; cell has 1.4.")


def test_from_1_4_21_only_compose_seed_repeats_it(rows):
    got = rows[AFTER]
    assert not _agree(got, "albumentations.compose_repeat", "output")
    assert metric(got, "albumentations.pairs_reseed", "python", "pair_consistency") < 0.5
    assert metric(got, "albumentations.pairs_one_call", "python", "pair_consistency") == 1.0
    assert _agree(got, "albumentations.compose_seed", "output")
    assert metric(got, "albumentations.compose_seed_workers", "python", "duplicate_fraction") == 1.0
    assert metric(got, "albumentations.compose_seed_workers", "python",
                  "duplicate_fraction_reseeded") == 0.0


def test_the_draws_move_from_random_to_the_transforms_own_generators(rows):
    def calls(cell, api):
        found = [r for r in rows[cell] if r.scenario == "albumentations.pairs_reseed"
                 and r.metric == f"rng.calls.{api}" and r.repeat == "1"]
        return int(found[0].value) if found else 0
    def generator(cell, api):
        found = [r for r in rows[cell] if r.scenario == "albumentations.pairs_reseed"
                 and r.metric == f"rng.generator.{api}" and r.repeat == "1"]
        return found[0].value if found else None
    # the same transforms draw random.random, but from the global generator before and from
    # each transform's own random.Random from 1.4.21 (its own calls are counted too)
    assert calls(BEFORE, "random.random") > 0 and calls(AFTER, "random.random") > 0
    assert generator(BEFORE, "random.random") == "global"
    assert generator(AFTER, "random.random") == "own"
    assert calls(AFTER, "numpy.random.default_rng") > 0 and calls(BEFORE, "numpy.random.default_rng") == 0
