"""Does a mask still fit its image? The geometry checks behind ``pairs.*`` and ``--pairs``.

    same_geometry(image, mask)        one pair: image brightness vs mask labels (PIL, tensors
                                      or arrays, 0-255, [0, 1] or normalised)
    value_scale(images)               the brightness scale of many draws of one dataset
    geometry_agreement(pairs)         many draws of one item: do the images move together with
                                      their masks? (any data)

``same_geometry`` needs an image whose brightness outlines the mask (bright objects
on a dark background, as in the canonical scenarios' synthetic data);
``geometry_agreement`` needs nothing of the data, only several random draws of the
same item.
"""
import numpy as np

# Mismatch allowed among the pixels compared. Measured over 1000 seeds of flip +
# resized crop + rotation: the same geometry gives 0 when image and mask share
# the transform (ColorJitter on the image included) and at most 0.6% with a
# bilinear image and a NEAREST mask; a different geometry gives 0.5% once and
# otherwise 3.6% or more (median 45%).
GEOMETRY_TOLERANCE = 0.01
GRID = 32
# Brightness scales: 8-bit (PIL, uint8, floats up to 255), unit (floats in [0, 1]) and
# normalised (floats below 0: ``Normalize(mean, std)``, 0 is the data's mean brightness).
EIGHT_BIT, UNIT, NORMALISED = "8-bit", "unit", "normalised"
# Normalised images carry no absolute scale: two brightness levels are told from one
# level's texture by their gap, in units of the levels' own spread.
LEVEL_GAP = 4.0


def _is_pil(value):
    return hasattr(value, "getdata") and hasattr(value, "convert")


def luminance(image):
    """A 2-D float array of brightness from a PIL image, a CHW/HW tensor or an
    HWC/HW array."""
    if _is_pil(image):
        return np.asarray(image.convert("L"), dtype=np.float64)
    array = _array(image).astype(np.float64)
    if array.ndim == 3:
        channel_first = array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4)
        array = array.mean(axis=0 if channel_first or _is_tensor(image) else -1)
    if array.ndim != 2:
        raise ValueError("an image of shape %s (expected HW, CHW or HWC)" % (array.shape,))
    return array


def labels(mask):
    """(foreground, clean) boolean arrays of a mask: foreground is label != 0 (for 0/255
    masks, > 127); clean leaves out values a resize blended (not 0 or 255 in a 0/255
    uint8 mask)."""
    if _is_pil(mask):
        array = np.asarray(mask)
    else:
        array = _array(mask)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3:  # an RGB mask: any channel set
        array = array.max(axis=-1 if array.shape[-1] in (3, 4) else 0)
    if array.ndim != 2:
        raise ValueError("a mask of shape %s (expected HW)" % (array.shape,))
    if array.dtype == np.bool_:
        return array, np.ones(array.shape, dtype=bool)
    if array.dtype == np.uint8 and array.max() > 1:
        return array > 127, (array == 0) | (array == 255)
    if np.issubdtype(array.dtype, np.floating):
        return array > 0.5 * (array.max() or 1.0), np.ones(array.shape, dtype=bool)
    return array != 0, np.ones(array.shape, dtype=bool)


def _is_tensor(value):
    return type(value).__module__.startswith("torch")


def _array(value):
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _scale_of(image, luma):
    if _is_pil(image) or _array(image).dtype == np.uint8:
        return EIGHT_BIT
    if luma.size and luma.min() < 0:
        return NORMALISED
    return EIGHT_BIT if luma.size and luma.max() > 1.0 else UNIT


def value_scale(images):
    """The scale of a dataset's images, from all its draws (one draw may be a crop that
    happens to hold no dark pixel): normalised if any has values below 0, else 8-bit if
    any is 8-bit or goes above 1, else unit."""
    scales = set(_scale_of(image, luminance(image)) for image in images)
    for scale in (NORMALISED, EIGHT_BIT, UNIT):
        if scale in scales:
            return scale
    return None


def _threshold(luma, scale):
    """Where bright (the mask's foreground) begins: the midpoint between the image's dark
    and light levels when it shows both, else the scale's absolute midpoint."""
    low, high = luma.min(), luma.max()
    middle = (low + high) / 2.0
    if scale != NORMALISED:
        full = 255.0 if scale == EIGHT_BIT else 1.0
        return middle if high - low > 60 / 255.0 * full else 0.5 * full
    dark, light = luma[luma <= middle], luma[luma > middle]
    if dark.size and light.size and \
            light.mean() - dark.mean() > LEVEL_GAP * max(dark.std(), light.std(), 1e-12):
        return middle
    return 0.0


def same_geometry(image, mask, tolerance=GEOMETRY_TOLERANCE, scale=None):
    """True when image and mask line up to within a pixel: geometry, not colours.

    The image is reduced to luminance and split at the midpoint between its dark
    and light levels (an absolute midpoint when a crop shows only one level: half of
    255 or of 1, or 0 for normalised images, whose levels are told apart by their gap
    rather than an absolute contrast), so colour ops do not count. ``scale``: the
    dataset's ``value_scale`` (default: this image's own). Pixels within one pixel of
    a mask edge, and pixels the mask's own interpolation blended, are left out:
    bilinear interpolation
    and the texture move an edge by up to a pixel without any change of
    geometry, while a different flip, crop or rotation (beyond about 3 degrees)
    moves whole regions. We chose this over replaying the generator state for
    the image (exact, but it rewinds the generators behind the program's back,
    so the scenario would no longer be the user's code).
    """
    luma = luminance(image)
    fg, compared = labels(mask)
    if luma.shape != fg.shape:
        return False
    threshold = _threshold(luma, scale or _scale_of(image, luma))
    height, width = fg.shape
    padded = np.pad(fg, 1, mode="edge")
    compared = compared.copy()
    for dy in range(3):
        for dx in range(3):
            compared &= padded[dy:dy + height, dx:dx + width] == fg
    if not compared.any():
        return False
    mismatch = np.mean((luma > threshold)[compared] != fg[compared])
    return bool(mismatch <= tolerance)


def _grid(array):
    """``array`` sampled on a GRID x GRID lattice (sizes may differ between draws)."""
    rows = np.linspace(0, array.shape[0] - 1, GRID).round().astype(int)
    cols = np.linspace(0, array.shape[1] - 1, GRID).round().astype(int)
    return array[np.ix_(rows, cols)]


def _ranks(values):
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    for value in np.unique(values):  # ties share their mean rank
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _similarities(arrays):
    """Pearson correlation of every two arrays (1.0 for two equal constant ones)."""
    out = []
    for i in range(len(arrays)):
        for j in range(i + 1, len(arrays)):
            a, b = arrays[i] - arrays[i].mean(), arrays[j] - arrays[j].mean()
            norm = np.sqrt((a * a).sum() * (b * b).sum())
            out.append(float((a * b).sum() / norm) if norm > 0 else
                       float(np.array_equal(arrays[i], arrays[j])))
    return np.array(out)


def geometry_agreement(pairs):
    """Rank correlation between how alike the images of two draws are and how alike
    their masks are, over every two of ``pairs`` (draws of the same item).

    When image and mask get the same random geometry, two draws whose images match
    have masks that match, and the correlation is near 1; when they draw apart, near
    0. 1.0 when neither images nor masks vary; 0.0 when only one of them does. No
    assumption about what the image shows (unlike ``same_geometry``).
    """
    images = [_grid(luminance(image)).ravel() for image, _ in pairs]
    masks = [_grid(labels(mask)[0]).ravel().astype(np.float64) for _, mask in pairs]
    image_sim = _similarities(images)
    mask_sim = _similarities(masks)
    fixed_images, fixed_masks = np.ptp(image_sim) < 1e-9, np.ptp(mask_sim) < 1e-9
    if fixed_images or fixed_masks:
        return 1.0 if fixed_images and fixed_masks else 0.0
    x, y = _ranks(image_sim), _ranks(mask_sim)
    x, y = x - x.mean(), y - y.mean()
    return float(round((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()), 6))
