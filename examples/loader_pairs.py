"""A segmentation dataset with the classic reseed idiom, loaded the way training code
loads it: a DataLoader with 2 workers.

    nox -s "matrix(py3.8-torch1.5.0-tv0.6.0)" "matrix(py3.8-torch1.6.0-tv0.7.0)" -- \
        --scenarios examples/loader_pairs.py --only 'example.loader_pairs.*'

``__getitem__`` draws a seed, reseeds Python's ``random`` before transforming the
image and again before the mask: the pairs match as long as the transforms draw
from ``random``. They run in the workers, so the draws that decide it happen there;
rngdrift's sources show them as ``rng.worker.calls.*`` (``random.random`` up to
torchvision 0.6, ``torch.rand`` from 0.7).
"""
import random

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from rngdrift import scenario

SIZE = 32
ITEMS = 32


def _pair(index):
    """An image and its mask: a bright square whose place depends on the item."""
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    x, y = 4 + index % 11, 6 + (index * 7) % 13
    mask[y:y + 10, x:x + 14] = 1
    mask[y:y + 3, x:x + 3] = 1  # nothing here is symmetric, so a flip shows
    image = Image.fromarray((mask * 200 + 30).astype(np.uint8), mode="L")
    return image, Image.fromarray(mask * 255, mode="L")


class PairedSegmentation(Dataset):
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return ITEMS

    def __getitem__(self, index):
        image, mask = _pair(index)
        seed = np.random.randint(2147483647)
        random.seed(seed)
        image = self.transform(image)
        random.seed(seed)
        mask = self.transform(mask)
        return torch.from_numpy(np.array(image)), torch.from_numpy(np.array(mask))


def transform():
    return T.Compose([T.RandomHorizontalFlip(), T.RandomVerticalFlip()])


def pair_consistency(loader):
    matched, total = 0, 0
    for images, masks in loader:
        for image, mask in zip(images, masks):
            matched += int(torch.equal(image > 100, mask > 127))
            total += 1
    return matched / float(total)


def _run(ctx, **loader_options):
    loader = DataLoader(PairedSegmentation(transform()), batch_size=8, num_workers=2,
                        **dict(loader_options, **ctx.loader_kwargs()))
    return {"pair_consistency": pair_consistency(loader)}


@scenario("example.loader_pairs.workers", goals={"pair_consistency": "up"})
def workers(ctx):
    """Forked workers (the default on Linux)."""
    return _run(ctx)


@scenario("example.loader_pairs.persistent_workers", torch=">=1.7",
          goals={"pair_consistency": "up"})
def persistent_workers(ctx):
    """The same with persistent workers (DataLoader(persistent_workers=True), torch 1.7+)."""
    return _run(ctx, persistent_workers=True)
