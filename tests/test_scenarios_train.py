"""scenarios/train.py in the torch 1.5/tv 0.6 cell and the newest cell: row shape,
the report's segmentation collapse, and the training pitfalls."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, family_cells
from scenariofacts import check_shape, metric

pytestmark = pytest.mark.slow

MODES = ("python", "all")
REPEATS = 2
NAMES = ["train.mlp", "train.mlp_val_between_epochs", "train.cnn",
         "train.twin_models_global_seed", "train.twin_models_own_seed",
         "train.deepcopy_optimizer", "train.segmentation_pairs"]
FINGERPRINTS = {"train.cnn": ["weights", "running_stats"]}
FRACTIONS = {"train.mlp": ["accuracy"], "train.mlp_val_between_epochs": ["accuracy"],
             "train.cnn": ["accuracy"], "train.segmentation_pairs": ["pixel_accuracy"]}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return family_cells(tmp_path_factory, ["train.*"], MODES, REPEATS)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_every_train_scenario_runs_with_well_formed_rows(cells, cell):
    rows, names = cells[cell]
    assert set(NAMES) <= set(names)
    status = check_shape(rows, names, MODES, REPEATS,
                         lambda n: FINGERPRINTS.get(n, ["weights"]), lambda n: FRACTIONS.get(n, ()))
    assert {state for state, _ in status.values()} == {"ok"}


def _seg(cells, cell, mode):
    rows, _ = cells[cell]
    return [metric(rows, "train.segmentation_pairs", mode, "pixel_accuracy", str(r))
            for r in range(1, REPEATS + 1)]


def test_segmentation_collapses_under_python_seeding_once_transforms_draw_from_torch(cells):
    old, new = _seg(cells, OLD_CELL, "python"), _seg(cells, NEW_CELL, "python")
    # tv 0.6: reseeding random pairs image and mask, so the net learns the masks;
    # the newest tv draws from torch, pairs break and the net predicts background.
    # The net starts from fixed weights (scenarios/train.py): over 140 torch seeds none
    # collapsed at tv 0.6 and every one did at the newest, so neither side rests on luck.
    assert min(old) > 0.9, old
    assert max(new) < 0.8, new
    assert min(old) - max(new) > 0.15, (old, new)


def test_segmentation_stays_level_when_torch_is_seeded_too(cells):
    old, new = _seg(cells, OLD_CELL, "all"), _seg(cells, NEW_CELL, "all")
    assert min(old + new) > 0.9, (old, new)
    assert abs(sum(old) / len(old) - sum(new) / len(new)) < 0.05, (old, new)
    assert old[0] == old[1] and new[0] == new[1]  # and repeats are exact


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_weights_repeat_only_when_torch_is_seeded(cells, cell):
    rows, _ = cells[cell]
    for name in ("train.mlp", "train.mlp_val_between_epochs", "train.cnn",
                 "train.segmentation_pairs"):
        assert metric(rows, name, "all", "weights", "1") == metric(rows, name, "all", "weights", "2")
        assert metric(rows, name, "python", "weights", "1") != metric(rows, name, "python",
                                                                     "weights", "2")
    assert metric(rows, "train.mlp", "all", "accuracy") > 0.6
    assert metric(rows, "train.cnn", "all", "accuracy") > 0.5


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_a_validation_pass_between_epochs_changes_the_trained_weights(cells, cell):
    rows, _ = cells[cell]
    assert (metric(rows, "train.mlp", "all", "weights")
            != metric(rows, "train.mlp_val_between_epochs", "all", "weights"))


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_twins_share_one_stream(cells, cell):
    rows, _ = cells[cell]
    assert metric(rows, "train.twin_models_global_seed", "all", "init_agree") == 0
    # Reseeding before each model gives equal inits only where torch is reseeded ...
    assert metric(rows, "train.twin_models_own_seed", "all", "init_agree") == 1
    assert metric(rows, "train.twin_models_own_seed", "python", "init_agree") == 0
    # ... and dropout/shuffling still draw from the one global stream.
    for name in ("train.twin_models_global_seed", "train.twin_models_own_seed"):
        assert metric(rows, name, "all", "twins_agree") == 0
        assert metric(rows, name, "all", "weight_gap") > 0


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_a_deepcopied_optimizer_steps_orphans(cells, cell):
    rows, _ = cells[cell]
    for mode in MODES:
        assert metric(rows, "train.deepcopy_optimizer", mode, "copy_trains_its_model") == 0
        assert metric(rows, "train.deepcopy_optimizer", mode, "original_moved") == 0
        assert metric(rows, "train.deepcopy_optimizer", mode, "joint_copy_trains") == 1
