import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from harness.cell import rngstate  # noqa: E402


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
def test_digests_show_which_generator_advanced(draw, moved):
    before = rngstate.digests()
    draw()
    flags = rngstate.advanced(before, rngstate.digests())
    assert flags == {name: int(name == moved) for name in before}


def test_no_draw_no_advance():
    before = rngstate.digests()
    torch.zeros(3) + 1
    assert set(rngstate.advanced(before, rngstate.digests()).values()) == {0}
