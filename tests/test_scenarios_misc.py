"""scenarios/inference.py, pyrandom.py, nprandom.py and cuda.py in the torch 1.5/tv 0.6
cell (Python 3.8) and the newest cell (Python 3.11): row shape and the facts."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, family_cells
from scenariofacts import check_shape, metric, statuses

pytestmark = pytest.mark.slow

MODES = ("python", "all", "full")
REPEATS = 2
GLOBS = ["inference.*", "python.*", "numpy.*", "cuda.*"]
FINGERPRINTS = {
    "inference.eval_determinism": ["init_weights", "output"],
    "inference.detection": ["init_weights", "output"],
    "python.tuple_seed": ["values"], "python.set_order": ["set_order", "order"],
    "numpy.legacy_multinomial": ["values"],
    "numpy.generator_integers": ["constant_seed", "unseeded", "from_global"],
    "cuda.conv_benchmark": ["output", "weight_grad"], "cuda.index_add": [],
    "cuda.lstm_dropout": ["output"], "cuda.randn_large": ["values"],
}


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return family_cells(tmp_path_factory, GLOBS, MODES, REPEATS)


def _same(rows, name, mode, fp):
    return metric(rows, name, mode, fp, "1") == metric(rows, name, mode, fp, "2")


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_rows_are_well_formed_and_na_only_where_expected(cells, cell):
    rows, names = cells[cell]
    assert set(FINGERPRINTS) <= set(names)
    status = check_shape(rows, names, MODES, REPEATS, lambda n: FINGERPRINTS.get(n, ()),
                         may_fail={"python.tuple_seed"} if cell == NEW_CELL else ())
    na, errors = {}, {}
    for (name, _, _), (state, detail) in status.items():
        if state == "n/a":
            na.setdefault(name, set()).add(detail)
        elif state == "error":
            errors.setdefault(name, set()).add(detail)
    expected = {n for n in FINGERPRINTS if n.startswith("cuda.")}
    if cell == OLD_CELL:
        expected.add("inference.detection")
        assert na["inference.detection"] == {"needs torchvision>=0.9; cell has 0.6.0"}
        assert errors == {}
    else:
        # Python 3.11 rejects tuple seeds: the old code crashes, and so does the scenario
        (reason,) = errors.pop("python.tuple_seed")
        assert reason.startswith("TypeError:") and "seed" in reason, reason
        assert errors == {}
    assert set(na) == expected
    for name in expected:
        if name.startswith("cuda."):
            assert na[name] == {"no CUDA device"}


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_eval_mode_is_deterministic_and_a_reseeded_rebuild_matches(cells, cell):
    rows, _ = cells[cell]
    name = "inference.eval_determinism"
    for mode in MODES:
        assert metric(rows, name, mode, "identical") == 1
    assert metric(rows, name, "all", "rerun_identical") == 1
    assert metric(rows, name, "python", "rerun_identical") == 0
    assert _same(rows, name, "all", "init_weights")
    assert not _same(rows, name, "python", "init_weights")
    if cell == NEW_CELL:
        assert metric(rows, "inference.detection", "all", "identical") == 1
        assert metric(rows, "inference.detection", "all", "detections") > 0
        assert _same(rows, "inference.detection", "all", "output")


def test_mobilenet_init_did_not_drift_between_the_cells(cells):
    old, new = cells[OLD_CELL][0], cells[NEW_CELL][0]
    assert (metric(old, "inference.eval_determinism", "all", "init_weights")
            == metric(new, "inference.eval_determinism", "all", "init_weights"))


def test_tuple_seed_hashes_a_str_so_only_a_fixed_hash_seed_repeats(cells):
    rows, _ = cells[OLD_CELL]  # Python 3.8: accepted silently
    assert metric(rows, "python.tuple_seed", "python", "deprecation_warning") == 0
    assert _same(rows, "python.tuple_seed", "full", "values")
    assert not _same(rows, "python.tuple_seed", "python", "values")


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_set_order_repeats_only_under_full(cells, cell):
    rows, _ = cells[cell]
    for fp in ("set_order", "order"):
        assert _same(rows, "python.set_order", "full", fp)
        assert not _same(rows, "python.set_order", "all", fp)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_numpy_global_seeding_reaches_legacy_calls_but_not_an_unseeded_default_rng(cells, cell):
    rows, _ = cells[cell]
    for mode in MODES:
        assert _same(rows, "numpy.legacy_multinomial", mode, "values")
        assert _same(rows, "numpy.generator_integers", mode, "constant_seed")
        assert _same(rows, "numpy.generator_integers", mode, "from_global")
        assert not _same(rows, "numpy.generator_integers", mode, "unseeded")


def test_numpy_results_match_across_cells_with_numpy_pinned(cells):
    old, new = cells[OLD_CELL][0], cells[NEW_CELL][0]
    for name, fp in (("numpy.legacy_multinomial", "values"),
                     ("numpy.generator_integers", "from_global")):
        assert metric(old, name, "all", fp) == metric(new, name, "all", fp)
    assert statuses(old)[("numpy.generator_integers", "all", "1")] == ("ok", "")
