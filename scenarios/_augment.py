"""One recipe per random transform, shared by ``augment`` (transforms v1) and
``augment_v2`` (transforms v2): the two modules differ only in the namespace
they hand to ``register``.

Each scenario applies one transform alone, the way a user does, to a small
fixed batch (PIL images, or tensors where the transform needs them) and returns

* ``output``: fingerprint of what the transform gave for the batch;
* ``params``: where the transform exposes ``get_params``, fingerprint of the
  parameters it samples. get_params draws from the generators too, so this is a
  second, separate step after the outputs: reseed what the seeding mode reseeds
  (``ctx.reseed()``), then call get_params once per image the way the
  transform's forward does. ``output`` stays what the transform alone gives, and
  ``params`` does not depend on how much the output step drew. Parameters are
  compared by value (numbers as floats, sequences as lists), so the int/float/
  tensor types that changed between releases do not count as a change.
"""
import numpy as np
import torch

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario
from ..harness.cell import versions
from ._data import image_tensors, images

BATCH = 8
SIZE = 32
PIL, TENSOR = "pil", "tensor"


# -- parameter samplers: (transform, image) -> parameters, called as forward does --
def _crop_params(t, image):
    return t.get_params(image, t.size)


def _resized_crop_params(t, image):
    return t.get_params(image, t.scale, t.ratio)


def _rotation_params(t, image):
    return t.get_params(t.degrees)


def _affine_params(t, image):
    return t.get_params(t.degrees, t.translate, t.scale, t.shear, list(image.size))


def _perspective_params(t, image):
    width, height = image.size
    return t.get_params(width, height, t.distortion_scale)


_JITTER_OPS = ("brightness", "contrast", "saturation", "hue")


def _color_jitter_params(t, image):
    """[(op, factor)] in the order applied, whatever get_params returns.

    Up to tv 0.7 get_params returned a Compose of lambdas (factors in their
    closures); from 0.8 it returns (order, brightness, contrast, saturation, hue).
    """
    params = t.get_params(t.brightness, t.contrast, t.saturation, t.hue)
    if hasattr(params, "transforms"):
        ops = []
        for step in params.transforms:
            names = [n for n in step.lambd.__code__.co_names if n.startswith("adjust_")]
            ops.append((names[0][len("adjust_"):], step.lambd.__closure__[0].cell_contents))
        return ops
    order, factors = params[0], params[1:]
    return [(_JITTER_OPS[i], factors[i]) for i in order.tolist() if factors[i] is not None]


def _erasing_params(t, image):
    # (top, left, height, width); the fill value is the constant default, left out.
    return t.get_params(image, scale=t.scale, ratio=t.ratio, value=[0.0])[:4]


def _blur_params(t, image):
    return t.get_params(t.sigma[0], t.sigma[1])


def _autoaugment_params(t, image):
    # The sub-policy list is .transforms (tv 0.9/0.10), .policies (0.11+ v1), ._policies (v2).
    for attr in ("policies", "transforms", "_policies"):
        policies = getattr(t, attr, None)
        if policies is not None:
            return t.get_params(len(policies))
    raise AttributeError("AutoAugment has no policy list")


# -- the recipes --------------------------------------------------------------
def _fixed(T):
    """Deterministic steps for the containers, so only the container's own draws show."""
    return [T.Grayscale(num_output_channels=3), T.CenterCrop(24), T.Pad(4)]


# (name, first torchvision with the v1 transform, input, build(T), params sampler).
# Checked against the released wheels: RandomPerspective is new in 0.3,
# RandomErasing in 0.4, GaussianBlur in 0.8, AutoAugment in 0.9, RandAugment and
# TrivialAugmentWide in 0.11, AugMix in 0.13 (not 0.12). The rest are in 0.2.2;
# no matrix goes below 0.5, so they say 0.3.
RECIPES = [
    ("hflip", "0.3", PIL, lambda T: T.RandomHorizontalFlip(), None),
    ("vflip", "0.3", PIL, lambda T: T.RandomVerticalFlip(), None),
    ("crop", "0.3", PIL, lambda T: T.RandomCrop(24), _crop_params),
    ("resized_crop", "0.3", PIL, lambda T: T.RandomResizedCrop(24), _resized_crop_params),
    ("rotation", "0.3", PIL, lambda T: T.RandomRotation(30), _rotation_params),
    ("affine", "0.3", PIL,
     lambda T: T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10),
     _affine_params),
    ("perspective", "0.3", PIL, lambda T: T.RandomPerspective(), _perspective_params),
    ("color_jitter", "0.3", PIL, lambda T: T.ColorJitter(0.4, 0.4, 0.4, 0.1),
     _color_jitter_params),
    ("grayscale", "0.3", PIL, lambda T: T.RandomGrayscale(), None),
    # v1 RandomErasing works on tensors only.
    ("erasing", "0.4", TENSOR, lambda T: T.RandomErasing(), _erasing_params),
    ("gaussian_blur", "0.8", PIL, lambda T: T.GaussianBlur(3), _blur_params),
    ("random_apply", "0.3", PIL, lambda T: T.RandomApply(_fixed(T)[:1], p=0.5), None),
    ("random_choice", "0.3", PIL, lambda T: T.RandomChoice(_fixed(T)), None),
    ("random_order", "0.3", PIL, lambda T: T.RandomOrder(_fixed(T)), None),
    ("autoaugment", "0.9", PIL, lambda T: T.AutoAugment(), _autoaugment_params),
    ("randaugment", "0.11", PIL, lambda T: T.RandAugment(), None),
    ("trivialaugment", "0.11", PIL, lambda T: T.TrivialAugmentWide(), None),
    ("augmix", "0.13", PIL, lambda T: T.AugMix(), None),
]


def plain(obj):
    """Numbers as floats, tensors/arrays/tuples as lists: comparable by value."""
    if isinstance(obj, (torch.Tensor, np.ndarray, np.generic)):
        return plain(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [plain(item) for item in obj]
    if isinstance(obj, (bool, int, float)):
        return float(obj)
    return obj


def run(ctx, namespace, build, kind, sample_params):
    """Apply the transform to the batch; then, separately, sample its parameters."""
    batch = images(BATCH, SIZE) if kind == PIL else image_tensors(BATCH, SIZE)
    transform = build(namespace)
    metrics = {"output": fingerprint([transform(item) for item in batch])}
    if sample_params is not None:
        ctx.reseed()
        metrics["params"] = fingerprint(plain([sample_params(transform, item) for item in batch]))
    return metrics


def _max_version(*specs):
    return max(specs, key=versions.parse)


def register(prefix, load_namespace, since=None):
    """Register ``<prefix>.<name>`` for every recipe.

    ``load_namespace()`` returns the transforms module; it is called only when a
    scenario runs, so a namespace this torchvision lacks never breaks the import.
    ``since`` is the first torchvision that has the namespace at all.
    """
    for name, first, kind, build, sample_params in RECIPES:
        gate = ">=" + (_max_version(first, since) if since else first)

        def func(ctx, build=build, kind=kind, sample_params=sample_params):
            return run(ctx, load_namespace(), build, kind, sample_params)

        func.__name__ = name
        func.__doc__ = "%s.%s: the transform alone on %d %s images" % (prefix, name, BATCH, kind)
        scenario("%s.%s" % (prefix, name), torchvision=gate)(func)
