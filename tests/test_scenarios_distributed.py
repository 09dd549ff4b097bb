"""scenarios/distributed.py in the torch 1.5/tv 0.6 cell and the newest cell: row shape,
what DistributedSampler, per-rank seeding and DDP really do there, and that a rank
that dies or hangs becomes a clear row with nothing left running."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, family_cells
from scenariofacts import check_shape, metric, statuses
from test_faults import run_faults

pytestmark = pytest.mark.slow

MODES = ("none", "python", "torch", "all", "full")
REPEATS = 2
SEEDED = ("all", "full")
FINGERPRINTS = {"distributed.sampler_order": ["order", "order_no_set_epoch"],
                "distributed.sampler_seed": ["order"],
                "distributed.sampler_drop_last": ["order"],
                "distributed.rank_seeding": ["draws", "draws_seed_rank"],
                "distributed.rank_workers": ["values"],
                "distributed.ddp_train": ["weights"]}
FRACTIONS = {"distributed.sampler_order": ["coverage"],
             "distributed.sampler_seed": ["coverage", "coverage_seed_per_rank"],
             "distributed.sampler_drop_last": ["coverage"],
             "distributed.rank_seeding": ["duplicate_fraction", "duplicate_fraction_seed_rank",
                                          "dropout_duplicate_fraction",
                                          "torchvision_duplicate_fraction",
                                          "numpy_duplicate_fraction"],
             "distributed.rank_workers": ["duplicate_fraction", "cross_rank_duplicate_fraction"]}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return family_cells(tmp_path_factory, ["distributed.*"], MODES, REPEATS)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_every_distributed_scenario_has_well_formed_rows(cells, cell):
    rows, names = cells[cell]
    assert set(names) == set(FINGERPRINTS)
    status = check_shape(rows, names, MODES, REPEATS, lambda n: FINGERPRINTS[n],
                         lambda n: FRACTIONS.get(n, ()))
    na = {name: detail for (name, _, _), (state, detail) in status.items() if state == "n/a"}
    if cell == OLD_CELL:
        assert na == {"distributed.sampler_seed": "needs torch>=1.6; cell has 1.5.0",
                      "distributed.sampler_drop_last": "needs torch>=1.7; cell has 1.5.0"}
    else:
        assert na == {}


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_set_epoch_reshuffles_and_forgetting_it_repeats_one_order(cells, cell):
    rows, _ = cells[cell]
    for mode in MODES:
        name = "distributed.sampler_order"
        assert metric(rows, name, mode, "distinct_epochs") == 3, mode
        assert metric(rows, name, mode, "distinct_epochs_no_set_epoch") == 1, mode
        # 11 items on 2 ranks: together they see every item, and one twice (padding).
        assert metric(rows, name, mode, "coverage") == 1.0, mode
        assert metric(rows, name, mode, "duplicate_indices") == 1, mode


def test_the_sampler_order_ignores_the_global_seed_in_every_cell(cells):
    # It seeds its own generator with seed + epoch: every mode, repeat and cell agree.
    orders = {metric(cells[cell][0], "distributed.sampler_order", mode, "order", str(repeat))
              for cell in (OLD_CELL, NEW_CELL) for mode in MODES for repeat in (1, 2)}
    assert len(orders) == 1


def test_seed_and_drop_last_where_the_sampler_has_them(cells):
    rows, _ = cells[NEW_CELL]
    for mode in MODES:
        seeded = "distributed.sampler_seed"
        assert metric(rows, seeded, mode, "seed_changes_order") == 1
        assert metric(rows, seeded, mode, "coverage") == 1.0
        # Passing seed + rank gives each rank another permutation to split.
        assert metric(rows, seeded, mode, "coverage_seed_per_rank") < 1.0
        assert metric(rows, seeded, mode, "duplicate_indices_seed_per_rank") > 0
        dropped = "distributed.sampler_drop_last"
        assert metric(rows, dropped, mode, "coverage") == pytest.approx(10 / 11)
        assert metric(rows, dropped, mode, "duplicate_indices") == 0
        assert metric(rows, dropped, mode, "samples_per_rank") == 5


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_ranks_seeded_alike_draw_alike_and_seed_plus_rank_fixes_it(cells, cell):
    rows, _ = cells[cell]
    name = "distributed.rank_seeding"
    for mode in SEEDED:
        assert metric(rows, name, mode, "duplicate_fraction") == 1.0, mode
        assert metric(rows, name, mode, "duplicate_fraction_seed_rank") == 0.0, mode
        for repeat in ("1", "2"):
            assert metric(rows, name, mode, "draws", repeat) == metric(rows, name, "all", "draws")
    # Unseeded ranks are fresh processes with their own entropy.
    for repeat in ("1", "2"):
        assert metric(rows, name, "none", "duplicate_fraction", repeat) == 0.0
    assert metric(rows, name, "python", "dropout_duplicate_fraction") == 0.0
    assert metric(rows, name, "python", "numpy_duplicate_fraction") == 1.0
    assert metric(rows, name, "torch", "dropout_duplicate_fraction") == 1.0
    assert metric(rows, name, "torch", "numpy_duplicate_fraction") == 0.0


def test_torchvision_crops_moved_from_python_random_to_torch(cells):
    old, _ = cells[OLD_CELL]
    new, _ = cells[NEW_CELL]
    name, crop = "distributed.rank_seeding", "torchvision_duplicate_fraction"
    assert (metric(old, name, "python", crop), metric(old, name, "torch", crop)) == (1.0, 0.0)
    assert (metric(new, name, "python", crop), metric(new, name, "torch", crop)) == (0.0, 1.0)


def test_numpy_draws_in_workers_inside_ranks(cells):
    old, _ = cells[OLD_CELL]
    new, _ = cells[NEW_CELL]
    name = "distributed.rank_workers"
    # torch 1.5: a rank's two workers share its NumPy state; seed + rank keeps ranks apart.
    assert metric(old, name, "all", "duplicate_fraction") == 1.0
    assert metric(old, name, "all", "cross_rank_duplicate_fraction") == 0.0
    assert metric(old, name, "full", "duplicate_fraction") == 0.0  # its worker_init_fn
    # Newest: NumPy is seeded per worker from the loader's base seed ...
    assert metric(new, name, "all", "duplicate_fraction") == 0.0
    # ... which ``full`` draws from the generator the docs recipe seeds with the same
    # seed in every rank: each rank's workers repeat the other rank's draws.
    assert metric(new, name, "full", "cross_rank_duplicate_fraction") == 1.0
    for rows in (old, new):
        for mode in SEEDED:
            assert (metric(rows, name, mode, "values", "1")
                    == metric(rows, name, mode, "values", "2")), mode


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_ddp_keeps_ranks_equal_and_matches_one_process(cells, cell):
    rows, _ = cells[cell]
    name = "distributed.ddp_train"
    for mode in MODES:
        for repeat in ("1", "2"):
            facts = {m: metric(rows, name, mode, m, repeat) for m in (
                "ranks_equal", "ranks_equal_seed_per_rank", "built_differently_seed_per_rank",
                "init_broadcast", "matches_single_process")}
            assert set(facts.values()) == {1.0}, (mode, repeat, facts)
            assert metric(rows, name, mode, "single_process_max_diff", repeat) < 1e-5
    for mode in SEEDED:
        assert (metric(rows, name, mode, "weights", "1")
                == metric(rows, name, mode, "weights", "2")), mode
        # The broadcast fixes the init, not rank 1's own dropout stream.
        assert metric(rows, name, mode, "seed_per_rank_matches") == 0
    assert metric(rows, name, "none", "weights", "1") != metric(rows, name, "none", "weights", "2")


RANK_FAULTS = ["faults.rank_dies", "faults.rank_hangs", "faults.rank_hangs_past_timeout"]


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_a_rank_that_dies_or_hangs_is_a_clear_row_and_nothing_survives(cell_python, tmp_path,
                                                                       cell):
    # run_faults also asserts that no process of the run (ranks included) is left.
    only = [a for n in RANK_FAULTS + ["distributed.sampler_order"] for a in ("--only", n)]
    rows, log = run_faults(cell_python(cell), tmp_path / "cell.csv", *only)
    status = {name: state for (name, _, _), state in statuses(rows).items()}
    state, detail = status["faults.rank_dies"]
    assert state == "error"
    assert detail.startswith("RankFailure: rank 1 died (exited with code 7) before reporting; "
                             "rank 0 raised RuntimeError: "), detail
    state, detail = status["faults.rank_hangs"]
    assert state == "error"  # its 3 s launch deadline, long before its 30 s timeout
    assert detail.startswith("RankFailure: rank 1 gave no result in "), detail
    assert "(hung; killed); rank 0 raised RuntimeError: " in detail
    state, detail = status["faults.rank_hangs_past_timeout"]
    assert state == "timeout"
    assert detail.startswith("no result after 3s; process group killed"), detail
    assert status["distributed.sampler_order"] == ("ok", "")
