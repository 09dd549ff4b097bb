"""A project's tests of its model and data pipeline, as pytest tests usually are.

    python -m pytest examples/test_model.py

rngdrift runs each test in every cell and seeding mode (``--pytest
examples/test_model.py``): a test that passes at torch X and fails at torch Y, or a
recorded value that moves, shows in the report. ``rngdrift_record`` is rngdrift's
fixture: under plain pytest it comes with ``pip install rngdrift`` and records
nothing.
"""
import random

import numpy as np
import pytest
import torch
import torch.nn as nn

from data import SegmentationPairs, cells_image


def test_dropout_repeats_with_the_same_seed():
    layer = nn.Dropout(0.5)
    torch.manual_seed(0)
    first = layer(torch.ones(100))
    torch.manual_seed(0)
    assert torch.equal(first, layer(torch.ones(100)))


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_dropout_drops_about_p(p):
    dropped = (nn.Dropout(p)(torch.ones(10000)) == 0).float().mean().item()
    assert abs(dropped - p) < 0.03


def test_masks_follow_their_images():
    """The reseeding recipe of data.SegmentationPairs keeps image and mask aligned."""
    dataset = SegmentationPairs(count=4)
    for index in range(len(dataset)):
        for _ in range(5):
            image, mask = dataset[index]
            bright = image.mean(0) > 0.5
            # away from edges, the mask is where the image is bright
            assert (bright == mask).float().mean().item() > 0.9


def test_loss_goes_down(rngdrift_record):
    torch.manual_seed(1)
    image, _ = cells_image(3)
    x = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    x = x.unsqueeze(0).repeat(8, 1, 1, 1) + 0.05 * torch.randn(8, 3, 64, 64)
    target = torch.arange(8) % 2
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x).view(8, 2), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    rngdrift_record("first_loss", losses[0])
    rngdrift_record("last_loss", losses[-1])
    assert losses[-1] <= losses[0]


@pytest.mark.skipif(not hasattr(torch, "func"), reason="torch.func is torch 2.0+")
def test_vmap_matches_a_loop():
    weights = torch.randn(3, 5)
    batched = torch.func.vmap(lambda w: (w * w).sum())(weights)
    assert torch.allclose(batched, torch.stack([(w * w).sum() for w in weights]))


def test_python_shuffle_is_seeded_by_random_seed():
    random.seed(7)
    order = list(range(10))
    random.shuffle(order)
    random.seed(7)
    again = list(range(10))
    random.shuffle(again)
    assert order == again
