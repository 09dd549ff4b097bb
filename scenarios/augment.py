"""Random transforms as users apply them (torchvision.transforms v1).

``augment.<name>``: each random transform alone (recipes in ``_augment``, shared
with ``augment_v2``); ``augment.pipeline``: a typical ImageNet training pipeline.
"""
import torch
import torchvision.transforms as T

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario
from . import _augment
from ._data import images


def _v1():
    return T


_augment.register("augment", _v1)


@scenario("augment.pipeline", torchvision=">=0.3")
def pipeline(ctx):
    """An ImageNet-style training pipeline over a small batch of images."""
    transform = T.Compose([
        T.RandomResizedCrop(32),
        T.RandomHorizontalFlip(),
        T.ColorJitter(0.4, 0.4, 0.4),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    batch = torch.stack([transform(image) for image in images(16)])
    return {"output": fingerprint(batch)}
