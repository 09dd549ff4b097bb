"""scenarios/loader.py in the torch 1.5/tv 0.6 cell and the newest cell: row shape,
and what DataLoader workers and samplers really do there."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, family_cells
from scenariofacts import check_shape, metric, statuses

pytestmark = pytest.mark.slow

MODES = ("python", "all", "full")
REPEATS = 2
WORKERS = ["loader.numpy_workers", "loader.python_workers", "loader.torch_workers",
           "loader.persistent_workers", "loader.worker_init_fn"]
FINGERPRINTS = {"loader.shuffle_global": ["order"], "loader.shuffle_generator": ["order"],
                "loader.random_split": ["indices"], "loader.sampler_epochs": ["order"],
                "loader.main_rng_after_epoch": ["next_rand"]}
FINGERPRINTS.update((name, ["values"]) for name in WORKERS)


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return family_cells(tmp_path_factory, ["loader.*"], MODES, REPEATS)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_every_loader_scenario_has_well_formed_rows(cells, cell):
    rows, names = cells[cell]
    assert set(FINGERPRINTS) <= set(names)
    status = check_shape(rows, names, MODES, REPEATS, lambda n: FINGERPRINTS.get(n, ()),
                         lambda n: ("duplicate_fraction", "epoch_repeat") if n in WORKERS else ())
    want_na = {"loader.shuffle_generator", "loader.persistent_workers"} if cell == OLD_CELL else set()
    na = {name for (name, _, _), (state, _) in status.items() if state == "n/a"}
    assert na == want_na


def test_forked_workers_shared_numpy_state_at_torch_1_5(cells):
    rows, _ = cells[OLD_CELL]
    for mode in ("python", "all"):
        # Both workers drew the same numbers, and epoch 2 repeated epoch 1.
        assert metric(rows, "loader.numpy_workers", mode, "duplicate_fraction") == 1.0
        assert metric(rows, "loader.numpy_workers", mode, "epoch_repeat") == 1.0
    # The worker_init_fn that ``full`` passes (and Lightning's) fixes it.
    assert metric(rows, "loader.numpy_workers", "full", "duplicate_fraction") == 0.0
    assert metric(rows, "loader.worker_init_fn", "all", "duplicate_fraction") == 0.0
    assert metric(rows, "loader.worker_init_fn", "all", "epoch_repeat") == 0.0


def test_newest_torch_reseeds_numpy_in_every_worker(cells):
    rows, _ = cells[NEW_CELL]
    for name in ("loader.numpy_workers", "loader.persistent_workers"):
        for mode in MODES:
            assert metric(rows, name, mode, "duplicate_fraction") == 0.0, (name, mode)
            assert metric(rows, name, mode, "epoch_repeat") == 0.0, (name, mode)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_python_and_torch_draws_in_workers_never_repeat(cells, cell):
    rows, _ = cells[cell]
    for name in ("loader.python_workers", "loader.torch_workers"):
        for mode in MODES:
            assert metric(rows, name, mode, "duplicate_fraction") == 0.0, (name, mode)
            assert metric(rows, name, mode, "epoch_repeat") == 0.0, (name, mode)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_seeding_torch_makes_loaders_reproducible_and_python_seeding_does_not(cells, cell):
    rows, _ = cells[cell]
    for name, fp in (("loader.random_split", "indices"), ("loader.sampler_epochs", "order"),
                     ("loader.torch_workers", "values"), ("loader.worker_init_fn", "values"),
                     ("loader.main_rng_after_epoch", "next_rand")):
        assert metric(rows, name, "all", fp, "1") == metric(rows, name, "all", fp, "2"), name
        assert metric(rows, name, "python", fp, "1") != metric(rows, name, "python", fp, "2"), name
    assert metric(rows, "loader.sampler_epochs", "all", "distinct_epochs") == 3


def test_what_changed_between_the_cells(cells):
    old, _ = cells[OLD_CELL]
    new, _ = cells[NEW_CELL]
    # random_split is one randperm of the seeded stream in both ...
    assert (metric(old, "loader.random_split", "all", "indices")
            == metric(new, "loader.random_split", "all", "indices"))
    # ... while RandomSampler now draws a seed for its own generator first.
    assert (metric(old, "loader.sampler_epochs", "all", "order")
            != metric(new, "loader.sampler_epochs", "all", "order"))


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_even_an_unshuffled_loader_moves_the_global_stream(cells, cell):
    rows, _ = cells[cell]
    assert statuses(rows)[("loader.main_rng_after_epoch", "all", "1")][0] == "ok"
    assert metric(rows, "loader.main_rng_after_epoch", "all", "sequential_draws") == 1
    assert metric(rows, "loader.main_rng_after_epoch", "all", "shuffle_draws") == 1
