import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from harness.cell import tracing  # noqa: E402


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
