"""Synthetic data with fixed recipes (private RandomState: the global generators
are never touched, so data building does not show up as RNG use)."""
import numpy as np
from PIL import Image


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


# Mismatch allowed among the pixels compared. Measured over 1000 seeds of flip +
# resized crop + rotation: the same geometry gives 0 when image and mask share
# the transform (ColorJitter on the image included) and at most 0.6% with a
# bilinear image and a NEAREST mask; a different geometry gives 0.5% once and
# otherwise 3.6% or more (median 45%).
GEOMETRY_TOLERANCE = 0.01


def same_geometry(image, mask, tolerance=GEOMETRY_TOLERANCE):
    """True when image and mask line up to within a pixel: geometry, not colours.

    The image is reduced to luminance and split at the midpoint between its dark
    and light levels (an absolute midpoint when a crop shows only one level), so
    colour ops do not count. Pixels within one pixel of a mask edge, and pixels
    the mask's own interpolation blended, are left out: bilinear interpolation
    and the texture move an edge by up to a pixel without any change of
    geometry, while a different flip, crop or rotation (beyond about 3 degrees)
    moves whole regions. We chose this over replaying the generator state for
    the image (exact, but it rewinds the generators behind the program's back,
    so the scenario would no longer be the user's code).
    """
    luma = np.asarray(image.convert("L"), dtype=np.float64)
    mask_values = np.asarray(mask)
    labels = mask_values > 127
    if luma.shape != labels.shape:
        return False
    low, high = luma.min(), luma.max()
    threshold = (low + high) / 2.0 if high - low > 60 else 127.5
    height, width = labels.shape
    padded = np.pad(labels, 1, mode="edge")
    compared = (mask_values == 0) | (mask_values == 255)
    for dy in range(3):
        for dx in range(3):
            compared &= padded[dy:dy + height, dx:dx + width] == labels
    if not compared.any():
        return False
    mismatch = np.mean((luma > threshold)[compared] != labels[compared])
    return bool(mismatch <= tolerance)
