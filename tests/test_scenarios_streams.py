"""scenarios/streams.py: raw torch streams and default init (streams.*, init.*), run
in the torch 1.5/tv 0.6 cell and the newest cell."""
from __future__ import annotations

import pytest

from conftest import NEW_CELL, OLD_CELL, family_cells, value
from scenariorows import MODES, REPEATS, check_shape, metrics, statuses

pytestmark = pytest.mark.slow

STREAMS = ["rand", "randn_small", "randn_large", "randint", "randperm", "bernoulli_tensor_p",
           "bernoulli_scalar_p", "dropout", "multinomial", "normal", "exponential",
           "trunc_normal"]
INITS = ["linear", "conv2d", "lstm", "embedding", "multihead_attention"]
NAMES = ["streams.%s" % s for s in STREAMS] + ["init.%s" % i for i in INITS]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return family_cells(tmp_path_factory, ["streams.*", "init.*"], MODES, REPEATS)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_shape(cells, cell):
    rows, names = cells[cell]
    assert sorted(names) == sorted(NAMES)
    check_shape(rows, names, lambda name: ["values", "state_after"])


def test_trunc_normal_needs_torch_16(cells):
    state, detail = statuses(cells[OLD_CELL][0])[("streams.trunc_normal", "all", "1")]
    assert state == "n/a" and "torch>=1.6" in detail and "1.5.0" in detail
    assert {s for s, _ in statuses(cells[NEW_CELL][0]).values()} == {"ok"}


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_all_seeding_repeats_agree(cells, cell):
    rows, names = cells[cell]
    for name in names:
        first, second = metrics(rows, name, "all", "1"), metrics(rows, name, "all", "2")
        for metric in ("values", "state_after"):
            if metric in first:
                assert first[metric].value == second[metric].value, (name, metric)


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_only_the_torch_generator_matters(cells, cell):
    # Seeding torch alone gives exactly what seeding everything gives, and only
    # the torch generator moves.
    rows, names = cells[cell]
    for name in names:
        if statuses(rows)[(name, "all", "1")][0] != "ok":
            continue
        assert value(rows, name, "torch", "values") == value(rows, name, "all", "values"), name
        assert value(rows, name, "all", "rng.torch") == "1", name
        assert value(rows, name, "all", "rng.python") == "0", name
        assert value(rows, name, "all", "rng.numpy") == "0", name


def test_draw_count_shows_in_state_after(cells):
    # torch.rand(N) and torch.randint(N) consume the same amount of the stream;
    # randn (Box-Muller) consumes differently.
    for cell in (OLD_CELL, NEW_CELL):
        rows = cells[cell][0]
        rand = value(rows, "streams.rand", "all", "state_after")
        assert rand == value(rows, "streams.randint", "all", "state_after"), cell
        assert rand != value(rows, "streams.randn_large", "all", "state_after"), cell
        assert value(rows, "streams.rand", "all", "values") != \
            value(rows, "streams.randint", "all", "values"), cell
