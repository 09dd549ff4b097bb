"""Synthetic data with fixed recipes (private RandomState: the global generators
are never touched, so data building does not show up as RNG use)."""
import numpy as np
from PIL import Image

# The geometry check lives on the cell side, where ``--pairs`` uses it too.
from ..harness.cell.geometry import GEOMETRY_TOLERANCE, same_geometry  # noqa: F401


def recipe(seed):
    return np.random.RandomState(seed)


def label_map(size=64, cell=8, seed=1234):
    """A binary blob pattern (0/1), asymmetric so flips and crops change it."""
    rng = recipe(seed)
    coarse = (rng.rand(size // cell, size // cell) > 0.5).astype(np.uint8)
    return np.kron(coarse, np.ones((cell, cell), dtype=np.uint8))


def image_and_mask(size=64, seed=1234):
    """An RGB image whose brightness carries the mask, and the mask ('L', 0/255).

    Label-1 cells are light grey, label-0 cells dark grey, with a mild colour
    texture on top. Brightness, not a colour channel, is the geometry probe:
    hue and saturation changes leave grey levels in place, and brightness and
    contrast changes keep light above dark, so colour ops cannot fake or hide
    a geometry change (see ``same_geometry``).
    """
    labels = label_map(size, seed=seed)
    rng = recipe(seed + 1)
    grey = np.where(labels == 1, 225, 30)[..., None]
    texture = rng.randint(-25, 26, size=(size, size, 3))
    rgb = np.clip(grey + texture, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB"), Image.fromarray(labels * 255, "L")


def images(count, size=48, seed=7):
    """``count`` textured RGB images."""
    rng = recipe(seed)
    return [Image.fromarray(rng.randint(0, 256, size=(size, size, 3)).astype(np.uint8), "RGB")
            for _ in range(count)]


def image_tensors(count, size=48, seed=7):
    """The same images as float CHW tensors in [0, 1], built without any transform."""
    import torch
    return [torch.from_numpy(np.asarray(image).transpose(2, 0, 1) / 255.0).float()
            for image in images(count, size, seed)]


def nearest():
    """NEAREST in whatever form this torchvision accepts."""
    try:
        from torchvision.transforms import InterpolationMode  # tv >= 0.9
        return InterpolationMode.NEAREST
    except ImportError:
        return Image.NEAREST

