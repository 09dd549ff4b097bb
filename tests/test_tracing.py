import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import tracing  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def installed():
    tracing.install()


def test_counts_calls_by_api_inside_the_block_only():
    random.random()
    with tracing.counting() as counter:
        random.random()
        random.random()
        np.random.randint(5)
        torch.rand(2)
        torch.empty(3).uniform_()
        torch.nn.functional.dropout(torch.ones(4), 0.5, training=True)
    random.random()
    assert counter.counts == {
        "random.random": 2, "numpy.random.randint": 1, "torch.rand": 1,
        "torch.Tensor.uniform_": 1, "torch.nn.functional.dropout": 1}


def test_torchvision_transform_draws_are_attributed():
    torchvision = pytest.importorskip("torchvision")
    from PIL import Image
    image = Image.new("RGB", (8, 8))
    with tracing.counting() as counter:
        torchvision.transforms.RandomHorizontalFlip()(image)
    # torchvision >= 0.7 draws from torch; 0.6 drew from random.random.
    assert counter.counts == {"torch.rand": 1}


def test_install_is_idempotent_and_keeps_behaviour():
    tracing.install()
    torch.manual_seed(0)
    a = torch.rand(3)
    original = torch.rand.__rngdrift_original__
    assert not hasattr(original, "__rngdrift_original__")
    torch.manual_seed(0)
    assert torch.equal(original(3), a)


def test_a_seed_call_is_counted_and_is_not_a_draw():
    from _rngdrift.harness.cell import rngstate
    draws = rngstate.Draws()
    with tracing.counting(draws) as counter:
        for seed in range(5):
            torch.manual_seed(seed)
            random.seed(seed)
            random.random()
    assert counter.counts == {"torch.manual_seed": 5, "random.seed": 5, "random.random": 5}
    assert draws.result() == {"python": 1, "numpy": 0, "torch": 0}


def test_a_first_import_during_a_scenario_is_set_apart(tmp_path, monkeypatch):
    from _rngdrift.harness.cell import rngstate
    (tmp_path / "drawing_on_import.py").write_text(
        "import random, numpy\nX = random.random()\nG = numpy.random.default_rng()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    draws = rngstate.Draws()
    with tracing.counting(draws) as counter:
        import drawing_on_import  # noqa: F401
        torch.rand(1)
    assert counter.counts == {"torch.rand": 1}
    assert counter.import_counts == {"random.random": 1, "numpy.random.default_rng": 1}
    assert draws.result() == {"python": 0, "numpy": 0, "torch": 1}
