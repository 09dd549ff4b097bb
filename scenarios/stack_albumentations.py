"""albumentations: which generator its transforms draw from, and image/mask pairs.

Up to 1.4.20 albumentations drew its random choices from Python's ``random`` (and a
NumPy generator seeded from it), so ``random.seed(s); np.random.seed(s)`` before a
transform repeated it. From 1.4.21 (PR 2031, "Clean random generator") every
``Compose`` and transform holds generators of its own, seeded from ``Compose(seed=)``
or else from the operating system: seeding random and NumPy no longer reaches them.

The scenarios run where albumentations is installed (``--vary albumentations=...``, or
``--cell-requirements``) and are ``n/a`` elsewhere.
"""
import numpy as np

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import NotApplicable, scenario
from ._data import image_and_mask, images, same_geometry

NEEDS = {"albumentations": ">=1.3"}
OWN_SEED = {"albumentations": ">=1.4.21"}  # Compose(seed=) and generators of its own
BATCH = 8
PAIRS = 100
SEED = 137


def _geometric(A, **compose):
    """Geometry only, so an image and its mask can go through it in separate calls."""
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(rotate=(-30, 30), scale=(0.9, 1.1), p=0.75),
        A.RandomCrop(height=48, width=48),
    ], **compose)


def _training(A, **compose):
    """A training pipeline as users write it: geometry and colour."""
    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.Affine(rotate=(-20, 20), translate_percent=(-0.1, 0.1), p=0.75),
        A.RandomBrightnessContrast(p=0.5),
        A.RandomCrop(height=32, width=32),
    ], **compose)


def _batch(transform):
    return [transform(image=np.asarray(image))["image"] for image in images(BATCH)]


@scenario("albumentations.compose_repeat", requires=NEEDS)
def compose_repeat(ctx):
    """An A.Compose pipeline over a batch after the program's seeding (``python``:
    random.seed + np.random.seed): repeats agree only while albumentations draws from
    those generators."""
    import albumentations as A
    return {"output": fingerprint(_batch(_training(A)))}


@scenario("albumentations.pairs_reseed", requires=NEEDS, goals={"pair_consistency": "up"})
def pairs_reseed(ctx):
    """Image and mask through one A.Compose in two calls, the program reseeding random
    and NumPy (whatever its mode seeds) with the same seed before each: the pair only
    lines up while the transform draws from what was reseeded."""
    import albumentations as A
    transform = _geometric(A)
    image, mask = (np.asarray(x) for x in image_and_mask())
    consistent = 0
    for _ in range(PAIRS):
        seed = np.random.randint(2147483647)
        ctx.reseed(seed)
        image_out = transform(image=image)["image"]
        ctx.reseed(seed)
        mask_out = transform(image=mask)["image"]
        consistent += same_geometry(image_out, mask_out)
    return {"pair_consistency": consistent / float(PAIRS)}


@scenario("albumentations.pairs_one_call", requires=NEEDS, goals={"pair_consistency": "up"})
def pairs_one_call(ctx):
    """Image and mask in one call, transform(image=..., mask=...): one draw of the
    parameters for both, whatever generator it comes from."""
    import albumentations as A
    transform = _geometric(A)
    image, mask = (np.asarray(x) for x in image_and_mask())
    consistent = 0
    for _ in range(PAIRS):
        out = transform(image=image, mask=mask)
        consistent += same_geometry(out["image"], out["mask"])
    return {"pair_consistency": consistent / float(PAIRS)}


@scenario("albumentations.compose_seed", requires=OWN_SEED)
def compose_seed(ctx):
    """The fix from 1.4.21 on: A.Compose(..., seed=) seeds the pipeline's own
    generators, the same batch in every run whatever the program seeds."""
    import albumentations as A
    try:
        transform = _training(A, seed=SEED)
    except TypeError as exc:  # a build without Compose(seed=)
        raise NotApplicable("A.Compose has no seed=: %s" % exc)
    return {"output": fingerprint(_batch(transform))}


class _Augmented(object):
    """A Dataset whose every item is the same image through the transform: two items
    alike mean the transform drew the same parameters for both."""

    def __init__(self, transform, image, size=16):
        self.transform, self.image, self.size = transform, image, size

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        import torch
        info = torch.utils.data.get_worker_info()
        out = self.transform(image=self.image)["image"]
        return -1 if info is None else info.id, torch.from_numpy(np.ascontiguousarray(out))


class _ReseedWorker(object):
    """worker_init_fn: the pipeline's own generators from the seed plus the worker id."""

    def __init__(self, dataset, seed):
        self.dataset, self.seed = dataset, seed

    def __call__(self, worker_id):
        self.dataset.transform.set_random_seed(self.seed + worker_id)


def _worker_duplicates(dataset, **loader_kwargs):
    """Fraction of items that another DataLoader worker also produced, byte for byte."""
    import torch
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2,
                                         multiprocessing_context="fork", **loader_kwargs)
    by_worker = {}
    for workers, batch in loader:
        for worker, item in zip(workers.tolist(), batch):
            by_worker.setdefault(worker, []).append(fingerprint(item))
    seen = [(w, f) for w, found in by_worker.items() for f in found]
    repeated = sum(1 for w, f in seen if any(f in by_worker[o] for o in by_worker if o != w))
    return repeated / float(len(seen))


@scenario("albumentations.compose_seed_workers", requires=OWN_SEED,
          goals={"duplicate_fraction": "down", "duplicate_fraction_reseeded": "down"})
def compose_seed_workers(ctx):
    """Compose(seed=) in a Dataset behind DataLoader workers: every worker holds a copy
    of the same seeded generators and augments alike, until a worker_init_fn reseeds
    the pipeline per worker (transform.set_random_seed(seed + worker_id))."""
    import albumentations as A
    image = np.asarray(images(1, size=48)[0])
    seeded = _Augmented(_training(A, seed=SEED), image)
    reseeded = _Augmented(_training(A, seed=SEED), image)
    return {"duplicate_fraction": _worker_duplicates(seeded),
            "duplicate_fraction_reseeded": _worker_duplicates(
                reseeded, worker_init_fn=_ReseedWorker(reseeded, SEED))}
