"""A project's data module: two Dataset factories and an augmentation preview.

    noisy_points()          points jittered with NumPy in ``__getitem__`` (the pattern
                            that repeats across DataLoader workers before torch 1.9)
    segmentation_pairs()    images and masks augmented with the classic recipe:
                            ``random.seed(seed)`` before the image, again before the mask
    preview_batch()         a batch of augmented images, to look at the augmentation

Nothing here knows about rngdrift. Check them across the matrix with
``--dataset examples/data.py:noisy_points``, ``--pairs examples/data.py:segmentation_pairs``
and ``--call examples/data.py:preview_batch`` (README, "Your code as it is").
"""
import random

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import Dataset

SIZE = 64


class NoisyPoints(Dataset):
    def __init__(self, count=64, features=8, noise=0.1):
        self.points = np.random.RandomState(1234).rand(count, features).astype(np.float32)
        self.noise = noise

    def __len__(self):
        return len(self.points)

    def __getitem__(self, index):
        jitter = np.random.normal(0.0, self.noise, self.points.shape[1]).astype(np.float32)
        return torch.from_numpy(self.points[index] + jitter)


def noisy_points():
    return NoisyPoints()


def cells_image(seed):
    """A microscopy-like picture: bright cells on a dark, noisy background; and its mask."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    for _ in range(5):
        cy, cx, ry, rx = rng.randint(8, SIZE - 8), rng.randint(8, SIZE - 8), \
            rng.randint(4, 10), rng.randint(3, 7)
        mask |= ((yy - cy) / float(ry)) ** 2 + ((xx - cx) / float(rx)) ** 2 <= 1.0
    grey = np.where(mask, 210, 40) + rng.randint(-20, 21, size=(SIZE, SIZE))
    rgb = np.stack([grey, grey * 0.9, grey * 0.8], axis=-1).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB"), Image.fromarray(mask.astype(np.uint8) * 255, "L")


class SegmentationPairs(Dataset):
    """Random crop, flip and rotation applied to image and mask alike, by reseeding."""

    def __init__(self, count=16):
        self.items = [cells_image(seed) for seed in range(count)]
        self.transform = T.Compose([
            T.RandomResizedCrop(48, scale=(0.5, 1.0)),
            T.RandomHorizontalFlip(),
            T.RandomRotation(20),
        ])

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        image, mask = self.items[index]
        seed = np.random.randint(2147483647)
        random.seed(seed)
        image = self.transform(image)
        random.seed(seed)
        mask = self.transform(mask)
        return TF.to_tensor(image), torch.from_numpy(np.array(mask) > 127)


def segmentation_pairs():
    return SegmentationPairs()


def preview_batch(count=8):
    dataset = SegmentationPairs(count)
    return torch.stack([dataset[i][0] for i in range(count)])
