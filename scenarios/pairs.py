"""The segmentation idiom: reseed, transform the image; reseed with the same
seed, transform the mask. It only pairs up when the transform draws from the
generator the program reseeds: torchvision 0.7 moved from ``random`` to
``torch``, so code that reseeds only ``random`` lost its pairs.
"""
import numpy as np
import torchvision.transforms as T

from ..harness.cell.registry import scenario
from ._data import image_and_mask, nearest, same_geometry

PAIRS = 200


def pair_consistency(ctx, transform):
    """Fraction of PAIRS image/mask pairs that got the same geometry."""
    image, mask = image_and_mask()
    consistent = 0
    for _ in range(PAIRS):
        seed = np.random.randint(2147483647)  # as the original report's code did
        ctx.reseed(seed)
        image_out = transform(image)
        ctx.reseed(seed)
        mask_out = transform(mask)
        consistent += same_geometry(image_out, mask_out)
    return {"pair_consistency": consistent / float(PAIRS)}


@scenario("pairs.hflip", torchvision=">=0.3", goals={"pair_consistency": "up"})
def hflip(ctx):
    return pair_consistency(ctx, T.RandomHorizontalFlip())


@scenario("pairs.resized_crop", torchvision=">=0.3", goals={"pair_consistency": "up"})
def resized_crop(ctx):
    return pair_consistency(ctx, T.RandomResizedCrop(48, interpolation=nearest()))


@scenario("pairs.rotation", torchvision=">=0.3", goals={"pair_consistency": "up"})
def rotation(ctx):
    return pair_consistency(ctx, T.RandomRotation(30))


@scenario("pairs.pipeline", torchvision=">=0.3", goals={"pair_consistency": "up"})
def pipeline(ctx):
    """A segmentation training pipeline as users write it, one Compose for image
    and mask (so the mask is resized bilinearly too, as in much real code)."""
    return pair_consistency(ctx, T.Compose([
        T.RandomHorizontalFlip(),
        T.RandomResizedCrop(48),
        T.RandomRotation(15),
    ]))
