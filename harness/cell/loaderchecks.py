"""Checks of a team's own DataLoader (``--loader FILE.py:FACTORY``), as it is: its
workers, ``worker_init_fn``, ``generator``, sampler, batch size and collate function.

    check(loader)               duplicate draws across workers, repeating epochs, and pair
                                checks when its items are (image, mask) pairs
    check(loader, pairs=True)   pair checks wanted (``--pairs`` given a DataLoader)

Randomness is told from content as ``datachecks`` does, by a *probe*: a copy of the
loader with every setting kept (the same sampler, batch sampler, collate function,
worker count and ``worker_init_fn``, ``generator``, multiprocessing context,
persistent workers) whose dataset returns item 0 at every index, so two batches
differ only by what ``__getitem__`` drew. Batch ``i`` of an epoch comes from worker
``i % num_workers`` (the DataLoader hands batches out in turn). Metrics:

    items               fingerprint of the loader's first batches, as it is (real items)
    random_items        1 when probe batches differ (the dataset draws)
    duplicate_fraction  with 2+ workers: how often a worker's j-th batch equals worker 0's
                        j-th (1.0: the workers drew the same numbers, e.g. a
                        ``worker_init_fn`` that gives every worker one seed)
    epoch_repeat        how much of epoch 2 repeats epoch 1, batch for batch
    pair_consistency,   (pairs) as ``datachecks``: over the probe's draws of item 0
    geometry_agreement

Goals (``goal.<metric>`` rows) come with the metrics: duplicates and repeats down,
pair metrics up. A DataLoader subclass is copied as a plain DataLoader; an
IterableDataset has no item 0 to draw again (``n/a``).
"""
import inspect

from . import datachecks
from .fingerprint import fingerprint
from .metrics import Metrics
from .registry import NotApplicable

BATCHES = 4        # real batches fingerprinted as ``items``
SAMPLES = 8        # probe draws per worker and epoch, at least
PAIR_DRAWS = 16    # probe draws the pair metrics look at


def is_loader(value):
    from torch.utils.data import DataLoader
    return isinstance(value, DataLoader)


def _take(loader, count):
    """The first ``count`` batches of one epoch (its workers shut down after, unless
    persistent)."""
    out = []
    iterator = iter(loader)
    try:
        for batch in iterator:
            out.append(batch)
            if len(out) >= count:
                break
    finally:
        del iterator
    return out


def _probe_copy(loader):
    """A DataLoader with ``loader``'s settings over the probe of its dataset."""
    from torch.utils.data import DataLoader
    dataset = loader.dataset
    probe = datachecks._probe_class()(dataset, len(dataset))
    accepted = inspect.signature(DataLoader.__init__).parameters
    kwargs = dict(num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                  timeout=loader.timeout, worker_init_fn=loader.worker_init_fn,
                  pin_memory=False)  # no copy to a GPU: the values are what is compared
    if loader.batch_sampler is not None:
        kwargs["batch_sampler"] = loader.batch_sampler
    else:
        kwargs.update(batch_size=None, sampler=loader.sampler)
    settings = ["multiprocessing_context", "generator"]
    if loader.num_workers > 0:  # refused without workers
        settings += ["prefetch_factor", "persistent_workers"]
    for name in settings:
        if name in accepted and getattr(loader, name, None) is not None:
            kwargs[name] = getattr(loader, name)
    if "in_order" in accepted:
        kwargs["in_order"] = True  # batch i from worker i % num_workers
    return DataLoader(probe, **kwargs)


def _batch_size(batch):
    """The leading size of the first tensor in a collated batch, else None."""
    if hasattr(batch, "shape") and len(getattr(batch, "shape", ())) > 0:
        return int(batch.shape[0])
    if isinstance(batch, dict):
        batch = list(batch.values())
    if isinstance(batch, (list, tuple)):
        for part in batch:
            size = _batch_size(part)
            if size is not None:
                return size
    return None


def _split(batch, size):
    """A collated batch taken apart into ``size`` items (what default_collate put
    together: tensors/arrays by their first dimension, dicts by key, sequences by
    position; anything else is shared by every item)."""
    if hasattr(batch, "shape") and len(batch.shape) > 0 and batch.shape[0] == size:
        return [batch[i] for i in range(size)]
    if isinstance(batch, dict):
        columns = dict((key, _split(value, size)) for key, value in batch.items())
        return [dict((key, columns[key][i]) for key in columns) for i in range(size)]
    if isinstance(batch, list) and len(batch) == size and \
            all(isinstance(part, (str, bytes, int, float)) for part in batch):
        return list(batch)  # what default_collate makes of strings: the list itself
    if isinstance(batch, (list, tuple)):
        columns = [_split(part, size) for part in batch]
        return [tuple(column[i] for column in columns) for i in range(size)]
    return [batch] * size


def items_of(loader, batches):
    """The items of ``batches`` one by one (batches as they are when not collated)."""
    if loader.batch_sampler is None:
        return list(batches)
    out = []
    for batch in batches:
        size = _batch_size(batch)
        out += _split(batch, size) if size else [batch]
    return out


def _spatial(value):
    """(height, width) of an image or mask: PIL, CHW/HW tensors, HWC/HW arrays."""
    if hasattr(value, "getdata") and hasattr(value, "size"):
        return tuple(value.size[::-1])
    shape = tuple(getattr(value, "shape", ()))
    if len(shape) == 3 and shape[-1] in (1, 3, 4) and shape[0] not in (1, 3, 4):
        return shape[:2]  # an HWC array
    return shape[-2:] if len(shape) >= 2 else None


def is_pair(item):
    """(image, mask) as ``datachecks`` reads pairs, of one height and width: a
    segmentation sample, not (image, class label)."""
    try:
        image, mask = datachecks._pair_of(item)
    except NotApplicable:
        return False
    size = _spatial(image)
    return size is not None and size == _spatial(mask) and min(size) > 1


def check(loader, pairs=None):
    """The metrics of the module doc (a ``Metrics``, goals included); ``pairs``: None to
    check pairs when the items are pairs, True to require them."""
    import torch.utils.data as data
    dataset = loader.dataset
    if isinstance(dataset, getattr(data, "IterableDataset", ())):
        raise NotApplicable("the loader's dataset is an IterableDataset: items have no index "
                            "to draw again")
    try:
        size = len(dataset)
    except TypeError:
        raise NotApplicable("the loader's %s has no len()" % type(dataset).__name__)
    if size == 0:
        raise NotApplicable("the loader's dataset is empty")
    out = Metrics()
    out["items"] = fingerprint(_take(loader, BATCHES))

    probe = _probe_copy(loader)
    workers = max(1, loader.num_workers)
    per_batch = loader.batch_size if loader.batch_sampler is not None else 1
    rounds = max(2, -(-SAMPLES // max(1, per_batch or 1)))
    first, second = [_take(probe, rounds * workers) for _ in range(2)]
    keys = [fingerprint(batch) for batch in first]
    again = [fingerprint(batch) for batch in second]
    drawn = items_of(loader, first)
    out["random_items"] = int(len(set(keys)) > 1 or
                              len(set(fingerprint(item) for item in drawn)) > 1)
    if out["random_items"]:
        if workers > 1:
            out["duplicate_fraction"] = datachecks._fraction(
                (keys[start], keys[start + k]) for start in range(0, len(keys), workers)
                for k in range(1, workers) if start + k < len(keys))
            out.goals["duplicate_fraction"] = "down"
        out["epoch_repeat"] = datachecks._fraction(zip(keys, again))
        out.goals["epoch_repeat"] = "down"
    if pairs is None:
        pairs = bool(drawn) and all(is_pair(item) for item in drawn[:PAIR_DRAWS])
    if pairs:
        out.update(datachecks.pair_metrics(drawn[:PAIR_DRAWS]))
        out.goals.update(pair_consistency="up", geometry_agreement="up")
    return out
