"""A segmentation dataset with paired image/mask augmentation, as users write it.

The recipe that circulated for years: draw a seed, ``random.seed(seed)`` before
transforming the image, ``random.seed(seed)`` again before the mask, so both get
the same random crop, flip and rotation. It works while torchvision's random
transforms draw from Python's ``random`` (torchvision <= 0.6). From 0.7 they draw
from ``torch``, the reseeding no longer reaches them and masks stop matching their
images, silently.

Three versions of the same dataset, each registered as a scenario:

    example.seg_pairs.reseed_random       the recipe above (the bug after tv 0.7)
    example.seg_pairs.reseed_both         the usual fix: torch.manual_seed(seed) too
    example.seg_pairs.shared_params       draw the parameters once, apply them to both

The dataset reseeds by itself because that is the user code under test; the
program-level seeding around it is what the matrix varies (``--seeding``).

Run across an old and the newest cell:

    nox -s "matrix(py3.8-torch1.5.0-tv0.6.0)" "matrix(py3.11-torch2.15.0-tv0.29.2)" -- \\
        --scenarios examples/segmentation_pairs.py --only 'example.seg_pairs.*'
"""
import random

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as TF
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from rngdrift import fingerprint, scenario

EPOCHS = 4
SCALE = (0.5, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)
DEGREES = 20


def synthetic_pairs(count=16, size=64):
    """Images whose red channel is the mask (so geometry can be checked) and the masks."""
    rng = np.random.RandomState(1234)  # a fixed recipe, not the global generator
    images, masks = [], []
    for _ in range(count):
        blobs = (rng.rand(size // 8, size // 8) > 0.5).astype(np.uint8)
        mask = np.kron(blobs, np.ones((8, 8), dtype=np.uint8)) * 255
        rgb = rng.randint(0, 256, size=(size, size, 3)).astype(np.uint8)
        rgb[..., 0] = mask
        images.append(Image.fromarray(rgb, "RGB"))
        masks.append(Image.fromarray(mask, "L"))
    return images, masks


def geometry():
    # The same geometric pipeline is applied to images and masks.
    return T.Compose([
        T.RandomResizedCrop(48, scale=SCALE, ratio=RATIO),
        T.RandomHorizontalFlip(),
        T.RandomRotation(DEGREES),
    ])


class SegmentationDataset(Dataset):
    """The classic recipe: reseed ``random`` before the image and again before the mask."""

    def __init__(self, images, masks, transform=None, target_transform=None):
        self.images = images
        self.masks = masks
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.images)

    def reseed(self, seed):
        random.seed(seed)

    def __getitem__(self, index):
        img, target = self.images[index], self.masks[index]
        seed = np.random.randint(2147483647)  # make a seed with numpy generator
        self.reseed(seed)  # apply this seed to img transforms
        if self.transform is not None:
            img = self.transform(img)
        self.reseed(seed)  # apply this seed to target transforms
        if self.target_transform is not None:
            target = self.target_transform(target)
        return TF.to_tensor(img), torch.from_numpy(np.array(target) > 127)


class ReseedBothDataset(SegmentationDataset):
    """The usual fix: reseed torch as well, which the transforms use from tv 0.7."""

    def reseed(self, seed):
        random.seed(seed)
        torch.manual_seed(seed)


class SharedParamsDataset(SegmentationDataset):
    """Draw crop, flip and angle once and apply the same ones to image and mask."""

    def __getitem__(self, index):
        img, target = self.images[index], self.masks[index]
        i, j, h, w = T.RandomResizedCrop.get_params(img, scale=SCALE, ratio=RATIO)
        flip = random.random() < 0.5
        angle = T.RandomRotation.get_params([-DEGREES, DEGREES])
        pair = []
        for picture in (img, target):
            picture = TF.resized_crop(picture, i, j, h, w, [48, 48])
            if flip:
                picture = TF.hflip(picture)
            pair.append(TF.rotate(picture, angle))
        return TF.to_tensor(pair[0]), torch.from_numpy(np.array(pair[1]) > 127)


def evaluate(ctx, dataset):
    """Iterate a few epochs as training would; how many masks still fit their images."""
    loader = DataLoader(dataset, batch_size=8, shuffle=True, **ctx.loader_kwargs())
    consistent = total = 0
    images, masks = [], []
    for _ in range(EPOCHS):
        for image, mask in loader:
            # The red channel carries the image's own copy of the mask.
            consistent += int(((image[:, 0] > 0.5) == mask).flatten(1).all(1).sum())
            total += mask.shape[0]
            images.append(image)
            masks.append(mask)
    return {
        "pair_consistency": consistent / float(total),
        "images": fingerprint(images),
        "masks": fingerprint(masks),
    }


@scenario("example.seg_pairs.reseed_random", goals={"pair_consistency": "up"})
def reseed_random(ctx):
    images, masks = synthetic_pairs()
    return evaluate(ctx, SegmentationDataset(images, masks, geometry(), geometry()))


@scenario("example.seg_pairs.reseed_both", goals={"pair_consistency": "up"})
def reseed_both(ctx):
    images, masks = synthetic_pairs()
    return evaluate(ctx, ReseedBothDataset(images, masks, geometry(), geometry()))


@scenario("example.seg_pairs.shared_params", goals={"pair_consistency": "up"})
def shared_params(ctx):
    images, masks = synthetic_pairs()
    return evaluate(ctx, SharedParamsDataset(images, masks))
