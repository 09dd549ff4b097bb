"""Checks users get for free on their own Dataset (``--dataset``, ``--pairs``).

    check(ctx, dataset)               duplicate draws across workers, repeating epochs
    check(ctx, dataset, pairs=True)   the same, plus: do (image, mask) pairs still match?

Items are drawn through ``DataLoader(batch_size=None)`` (no collation: the items as
the dataset returns them, as tensors), over two epochs, without workers and with
two. Randomness is told apart from content by a *probe*: a view of the dataset
that returns item 0 at every position, so two draws differ only by what
``__getitem__`` drew. Metrics:

    items, worker_items   fingerprints of the first items, without and with workers
    random_items          1 when item 0 differs between draws (the dataset draws)
    duplicate_fraction    with 2 workers: how often worker 1's j-th draw equals worker
                          0's j-th (1.0: both workers drew the same numbers, the
                          NumPy-in-workers bug of torch < 1.9)
    epoch_repeat          with workers: how much of epoch 2 repeats epoch 1
    pair_consistency      (pairs) fraction of draws whose mask fits its image by
                          ``geometry.same_geometry`` (brightness outlines the mask; 8-bit,
                          [0, 1] and normalised images alike)
    geometry_agreement    (pairs) ``geometry.geometry_agreement`` over the draws: ~1 when
                          image and mask move together, ~0 when apart (any data)

``duplicate_fraction`` and ``epoch_repeat`` are left out when item 0 never varies
(nothing random to repeat).
"""
from .fingerprint import fingerprint
from .registry import NotApplicable

ITEMS = 8        # items per epoch drawn in item order
PER_WORKER = 8   # probe draws per worker and epoch
WORKERS = 2


def _probe_class():
    import torch.utils.data as data

    class Probe(data.Dataset):
        """Item 0 of ``dataset`` at every position."""

        def __init__(self, dataset, length):
            self.dataset = dataset
            self.length = length

        def __len__(self):
            return self.length

        def __getitem__(self, index):
            return self.dataset[0]
    return Probe


def _epochs(ctx, dataset, workers, epochs=2):
    """The items of ``epochs`` passes over ``dataset``, in order."""
    from torch.utils.data import DataLoader
    kwargs = ctx.loader_kwargs(batch_size=None, num_workers=workers)
    loader = DataLoader(dataset, **kwargs)
    return [list(loader) for _ in range(epochs)]


def _fraction(pairs):
    pairs = list(pairs)
    return sum(1 for a, b in pairs if a == b) / float(len(pairs)) if pairs else 0.0


def _pair_of(item):
    if isinstance(item, dict):
        keys = [k for k in ("image", "img", "input") if k in item]
        masks = [k for k in ("mask", "target", "label", "labels", "segmentation") if k in item]
        if keys and masks:
            return item[keys[0]], item[masks[0]]
    if isinstance(item, (tuple, list)) and len(item) >= 2:
        return item[0], item[1]
    raise NotApplicable("--pairs wants items that are (image, mask) pairs; item 0 is a %s"
                        % type(item).__name__)


def goals(pairs=False):
    """What correctness means for a dataset: workers and epochs do not repeat each
    other's draws; for pairs, masks follow their images."""
    out = {"duplicate_fraction": "down", "epoch_repeat": "down"}
    if pairs:
        out.update(pair_consistency="up", geometry_agreement="up")
    return out


def check(ctx, dataset, pairs=False):
    """The metrics of the module doc for ``dataset``."""
    import torch.utils.data as data
    if isinstance(dataset, getattr(data, "IterableDataset", ())):
        raise NotApplicable("an IterableDataset: items have no index to draw again")
    try:
        size = len(dataset)
    except TypeError:
        raise NotApplicable("%s has no len()" % type(dataset).__name__)
    if size == 0:
        raise NotApplicable("the dataset is empty")
    subset = data.Subset(dataset, list(range(min(size, ITEMS))))
    out = {}
    main = _epochs(ctx, subset, 0, epochs=1)[0]
    out["items"] = fingerprint(main)
    out["worker_items"] = fingerprint(_epochs(ctx, subset, WORKERS, epochs=1)[0])

    probe = _probe_class()(dataset, PER_WORKER * WORKERS)
    draws = _epochs(ctx, probe, 0, epochs=1)[0]
    keys = [fingerprint(item) for item in draws]
    out["random_items"] = int(len(set(keys)) > 1)
    if out["random_items"]:
        first, second = [[fingerprint(item) for item in epoch]
                         for epoch in _epochs(ctx, probe, WORKERS)]
        # batch_size=None hands position i to worker i % WORKERS, in order
        out["duplicate_fraction"] = _fraction(
            (first[i], first[i + 1]) for i in range(0, len(first) - 1, WORKERS))
        out["epoch_repeat"] = _fraction(zip(first, second))
    if pairs:
        out.update(pair_metrics(draws))
    return out


def pair_metrics(draws):
    """pair_consistency and geometry_agreement over draws of one item; the brightness
    scale (8-bit, [0, 1], normalised) is the dataset's, read from all of them."""
    from . import geometry
    pieces = [_pair_of(item) for item in draws]
    scale = geometry.value_scale([image for image, _ in pieces])
    return {"pair_consistency": _fraction((geometry.same_geometry(image, mask, scale=scale), True)
                                          for image, mask in pieces),
            "geometry_agreement": geometry.geometry_agreement(pieces)}
