import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import rngstate  # noqa: E402


def test_restore_replays_every_generator():
    snap = rngstate.snapshot()
    first = (random.random(), np.random.rand(), torch.rand(3).tolist())
    rngstate.restore(snap)
    assert (random.random(), np.random.rand(), torch.rand(3).tolist()) == first


@pytest.mark.parametrize("draw, moved", [
    (lambda: random.random(), "python"),
    (lambda: np.random.rand(), "numpy"),
    (lambda: torch.randn(2), "torch"),
])
def test_draws_show_which_generator_was_drawn_from(draw, moved):
    draws = rngstate.Draws()
    draw()
    assert draws.result() == {name: int(name == moved) for name in draws.generators}


def test_no_draw_no_advance():
    draws = rngstate.Draws()
    torch.zeros(3) + 1
    assert set(draws.result().values()) == {0}


def test_reseeding_is_not_drawing():
    """The pair idiom reseeds torch before each image: that alone is no draw from torch."""
    draws = rngstate.Draws()
    for seed in (1, 2, 3):
        draws.checkpoint(("torch",))
        torch.manual_seed(seed)
        draws.rebase(("torch",))
        random.random()
    assert draws.result() == {"python": 1, "numpy": 0, "torch": 0}
    torch.rand(1)
    assert draws.result()["torch"] == 1
