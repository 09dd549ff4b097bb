"""Multi-process training on CPU: DistributedSampler, per-rank seeding, DDP.

Each scenario starts its own group of 2 ranks (``gloo`` over a file store, see
``scenarios/_dist.py``), every rank a fresh process that seeds the way the mode
says, as a user's ``set_seed(seed)`` at the top of a ``torchrun`` script would.
What is measured is what decides whether a multi-GPU run is correct and
reproducible, none of which needs a GPU: how the sampler splits and shuffles
the data per rank and per epoch, whether ranks draw the same dropout masks,
augmentations and worker draws, and what DDP keeps equal across ranks.
Variants that need no process group compute in-process with explicit
``num_replicas``/``rank``.
"""
import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms as T
from PIL import Image
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario
from . import _dist, _train

SAMPLES = 11  # not divisible by the 2 ranks: the sampler pads (or drops) one
EPOCHS = 3
SAMPLER_SEED = 1234  # what a script passes as DistributedSampler(seed=args.seed)
STEPS = 8
WORKER_ITEMS = 16
DRAW_LIMIT = 2 ** 30
TRAIN_SAMPLES = 64
RANK_BATCH = 8
LR = 0.1
SAME_WEIGHTS = 1e-5  # DDP vs one process: only the summation order differs


# -- DistributedSampler ------------------------------------------------------------

def epoch_indices(sampler, set_epoch=True, epochs=EPOCHS):
    orders = []
    for epoch in range(epochs):
        if set_epoch:
            sampler.set_epoch(epoch)
        orders.append(list(sampler))
    return orders


def split_facts(per_rank, size=SAMPLES):
    """Coverage (mean over epochs) and the most indices both ranks got in one epoch."""
    coverage, duplicates = [], []
    for epoch in zip(*per_rank):
        seen = [i for rank_order in epoch for i in rank_order]
        coverage.append(len(set(seen)) / float(size))
        duplicates.append(len(seen) - len(set(seen)))
    return sum(coverage) / len(coverage), max(duplicates)


def distinct_epochs(per_rank):
    return len(set(fingerprint(list(epoch)) for epoch in zip(*per_rank)))


def _sampler_rank(ctx, rank, world):
    # What a training script does: the sampler takes rank and world size from the
    # process group, the loader batches what it yields.
    dataset = TensorDataset(torch.arange(SAMPLES))
    sampler = DistributedSampler(dataset)
    loader = DataLoader(dataset, batch_size=3, sampler=sampler)
    with_set_epoch = []
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        with_set_epoch.append(torch.cat([batch for (batch,) in loader]).tolist())
    forgetful = DistributedSampler(dataset)
    without = [torch.cat([batch for (batch,) in DataLoader(dataset, batch_size=3,
                                                            sampler=forgetful)]).tolist()
               for _ in range(EPOCHS)]
    return with_set_epoch, without


@scenario("distributed.sampler_order",
          goals={"coverage": "up", "duplicate_indices": "down", "distinct_epochs": "up"})
def sampler_order(ctx):
    """Each rank's DistributedSampler order over 3 epochs, with and without set_epoch."""
    ranks = _dist.run_ranks(ctx, _sampler_rank)
    with_set_epoch = [r[0] for r in ranks]
    without = [r[1] for r in ranks]
    coverage, duplicates = split_facts(with_set_epoch)
    return {"order": fingerprint(with_set_epoch),
            "order_no_set_epoch": fingerprint(without),
            "distinct_epochs": distinct_epochs(with_set_epoch),
            "distinct_epochs_no_set_epoch": distinct_epochs(without),
            "coverage": coverage,
            "duplicate_indices": duplicates}


def in_process_ranks(world=_dist.WORLD, **sampler_kwargs):
    """Each rank's epochs, computed here: the sampler needs no process group when
    it is given num_replicas and rank."""
    dataset = TensorDataset(torch.arange(SAMPLES))
    per_rank = []
    for rank in range(world):
        kwargs = dict(sampler_kwargs)
        if callable(kwargs.get("seed")):
            kwargs["seed"] = kwargs["seed"](rank)
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank, **kwargs)
        per_rank.append(epoch_indices(sampler))
    return per_rank


@scenario("distributed.sampler_seed", torch=">=1.6",
          goals={"coverage": "up", "duplicate_indices": "down"})
def sampler_seed(ctx):
    """DistributedSampler(seed=) (1.6+): one seed for all ranks, and the mistake of
    passing seed + rank, which gives each rank its own permutation to split."""
    shared = in_process_ranks(seed=SAMPLER_SEED)
    per_rank = in_process_ranks(seed=lambda rank: SAMPLER_SEED + rank)
    coverage, duplicates = split_facts(shared)
    coverage_per_rank, duplicates_per_rank = split_facts(per_rank)
    return {"order": fingerprint(shared),
            "seed_changes_order": shared != in_process_ranks(),
            "coverage": coverage,
            "duplicate_indices": duplicates,
            "coverage_seed_per_rank": coverage_per_rank,
            "duplicate_indices_seed_per_rank": duplicates_per_rank}


@scenario("distributed.sampler_drop_last", torch=">=1.7",
          goals={"coverage": "up", "duplicate_indices": "down"})
def sampler_drop_last(ctx):
    """DistributedSampler(drop_last=True) (1.7+): no padding, one sample left out per epoch."""
    per_rank = in_process_ranks(drop_last=True)
    coverage, duplicates = split_facts(per_rank)
    return {"order": fingerprint(per_rank),
            "coverage": coverage,
            "duplicate_indices": duplicates,
            "samples_per_rank": len(per_rank[0][0])}


# -- per-rank seeding ----------------------------------------------------------------

def _image():
    pixels = _train.recipe(5).randint(0, 256, size=(256, 256, 3)).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def _draws_rank(ctx, rank, world):
    """A training step's random draws, STEPS times: a dropout mask (torch), a
    torchvision crop (Python's random before tv 0.8, torch after) and a NumPy
    brightness factor (albumentations-style)."""
    image = _image()
    crop = T.RandomResizedCrop(8)
    draws = {"dropout": [], "torchvision": [], "numpy": []}
    for _ in range(STEPS):
        mask = nn.functional.dropout(torch.ones(32), 0.5, training=True) > 0
        draws["dropout"].append(mask.tolist())
        draws["torchvision"].append(np.asarray(crop(image)).tobytes())
        draws["numpy"].append(float(np.random.uniform(0.8, 1.2)))
    return draws


def shared_fraction(a, b):
    """Fraction of positions where two ranks drew exactly the same thing."""
    return sum(1 for x, y in zip(a, b) if x == y) / float(len(a))


@scenario("distributed.rank_seeding",
          goals={"duplicate_fraction_seed_rank": "down"})
def rank_seeding(ctx):
    """Ranks that all call set_seed(seed) against ranks that call set_seed(seed + rank):
    identical draws on every rank are the multi-process twin of the NumPy-in-workers bug."""
    same = _dist.run_ranks(ctx, _draws_rank)
    offset = _dist.run_ranks(ctx, _draws_rank, seed_per_rank=True)
    kinds = sorted(same[0])
    out = {}
    for kind in kinds:
        out[kind + "_duplicate_fraction"] = shared_fraction(same[0][kind], same[1][kind])

    def overall(ranks):
        return sum(shared_fraction(ranks[0][k], ranks[1][k]) for k in kinds) / len(kinds)

    out.update({"duplicate_fraction": overall(same),
                "duplicate_fraction_seed_rank": overall(offset),
                "draws": fingerprint(same),
                "draws_seed_rank": fingerprint(offset)})
    return out


class NumpyDraws(Dataset):
    """(index, rank, worker, np.random draw): NumPy augmentation in __getitem__."""

    def __init__(self, rank):
        self.rank = rank

    def __len__(self):
        return WORKER_ITEMS

    def __getitem__(self, index):
        info = torch.utils.data.get_worker_info()
        worker = -1 if info is None else info.id
        return torch.tensor([index, self.rank, worker, np.random.randint(0, DRAW_LIMIT)],
                            dtype=torch.int64)


def _worker_rank(ctx, rank, world):
    dataset = NumpyDraws(rank)
    loader = DataLoader(dataset, batch_size=2, sampler=DistributedSampler(dataset),
                        num_workers=2, multiprocessing_context="fork", **ctx.loader_kwargs())
    return torch.cat(list(loader)).tolist()


@scenario("distributed.rank_workers",
          goals={"duplicate_fraction": "down", "cross_rank_duplicate_fraction": "down"})
def rank_workers(ctx):
    """2 DataLoader workers in each of 2 ranks seeded seed + rank, NumPy in __getitem__:
    which (rank, worker) pairs draw the same numbers."""
    rows = [row for rank_rows in _dist.run_ranks(ctx, _worker_rank, seed_per_rank=True)
            for row in rank_rows]
    shared = cross_rank = 0
    for _, rank, worker, drawn in rows:
        others = [(r, w) for _, r, w, d in rows if d == drawn and (r, w) != (rank, worker)]
        shared += bool(others)
        cross_rank += any(r != rank for r, _ in others)
    return {"duplicate_fraction": shared / float(len(rows)),
            "cross_rank_duplicate_fraction": cross_rank / float(len(rows)),
            "values": fingerprint(sorted(rows))}


# -- DistributedDataParallel ------------------------------------------------------------

def _state(model):
    return [(name, tensor.clone()) for name, tensor in _train.weights(model)]


def _ddp_fit(model, dataset):
    """Wrap in DDP (rank 0's parameters are broadcast), train 2 epochs; (init, final)."""
    ddp = DistributedDataParallel(model)
    init = _state(model)
    sampler = DistributedSampler(dataset)
    loader = DataLoader(dataset, batch_size=RANK_BATCH, sampler=sampler)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=LR, momentum=0.9)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        _train.train_epoch(ddp, loader, optimizer)
    return init, _state(model)


def _ddp_rank(ctx, rank, world):
    dataset = TensorDataset(*_train.classification(TRAIN_SAMPLES))
    model = _train.mlp()  # right after the rank's set_seed, as in a script
    built = _state(model)
    init, final = _ddp_fit(model, dataset)
    # The same recipe without dropout: nothing random left after the broadcast.
    plain_init, plain_final = _ddp_fit(_train.mlp(dropout=0.0), dataset)
    return {"built": built, "init": init, "final": final,
            "plain_init": plain_init, "plain_final": plain_final}


def single_process(init, dataset, world=_dist.WORLD):
    """The dropout-free model trained in one process on the union of the ranks'
    batches (the same global batch), starting from rank 0's broadcast weights."""
    model = _train.mlp(dropout=0.0)
    model.load_state_dict(dict(init))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    inputs, labels = dataset.tensors
    for epoch in range(2):
        samplers = [DistributedSampler(dataset, num_replicas=world, rank=r) for r in range(world)]
        orders = []
        for sampler in samplers:
            sampler.set_epoch(epoch)
            orders.append(list(sampler))
        for start in range(0, len(orders[0]), RANK_BATCH):
            batch = [i for order in orders for i in order[start:start + RANK_BATCH]]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimizer.step()
    return _state(model)


def max_difference(a, b):
    return max((x - y).abs().max().item() for (_, x), (_, y) in zip(a, b))


@scenario("distributed.ddp_train",
          goals={"ranks_equal": "up", "init_broadcast": "up", "matches_single_process": "up"})
def ddp_train(ctx):
    """An MLP with dropout trained 2 epochs with DDP on 2 ranks and a DistributedSampler;
    then with each rank built from its own seed; then without dropout against one process."""
    same = _dist.run_ranks(ctx, _ddp_rank)
    own = _dist.run_ranks(ctx, _ddp_rank, seed_per_rank=True)
    reference = single_process(same[0]["plain_init"],
                               TensorDataset(*_train.classification(TRAIN_SAMPLES)))
    difference = max_difference(reference, same[0]["plain_final"])

    def equal(ranks, key):
        return fingerprint(ranks[0][key]) == fingerprint(ranks[1][key])

    return {"weights": fingerprint(same[0]["final"]),
            "ranks_equal": equal(same, "final") and equal(same, "plain_final"),
            "ranks_equal_seed_per_rank": equal(own, "final") and equal(own, "plain_final"),
            "built_differently_seed_per_rank": not equal(own, "built"),
            "init_broadcast": equal(own, "init"),
            "seed_per_rank_matches": fingerprint(own[0]["final"]) == fingerprint(same[0]["final"]),
            "matches_single_process": difference <= SAME_WEIGHTS,
            "single_process_max_diff": difference}
