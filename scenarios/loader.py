"""Data loading: what DataLoader draws, from which generator, in which process.

Worker scenarios use tiny datasets (16 items, 2 forked workers, 2 epochs):
starting workers is what costs time, not the data. A worker's draw is reported
with its index and worker id, so the parent can tell whether two workers (or two
epochs) drew the same numbers.
"""
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, TensorDataset

from ..harness.cell import versions
from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario

SAMPLES = 100
EPOCHS = 2
WORKER_ITEMS = 16
WORKERS = 2
DRAW_LIMIT = 2 ** 30


def epoch_orders(loader, epochs=EPOCHS):
    return [torch.cat([batch for (batch,) in loader]) for _ in range(epochs)]


@scenario("loader.shuffle_global")
def shuffle_global(ctx):
    """shuffle=True drawing from the global torch generator (plus what ``full`` passes)."""
    dataset = TensorDataset(torch.arange(SAMPLES))
    loader = DataLoader(dataset, batch_size=10, shuffle=True, **ctx.loader_kwargs())
    return {"order": fingerprint(epoch_orders(loader))}


@scenario("loader.shuffle_generator", torch=">=1.6")
def shuffle_generator(ctx):
    """shuffle=True with the loader's own seeded generator (DataLoader(generator=) is 1.6+)."""
    generator = torch.Generator()
    generator.manual_seed(ctx.seed)
    dataset = TensorDataset(torch.arange(SAMPLES))
    loader = DataLoader(dataset, batch_size=10, shuffle=True, generator=generator)
    return {"order": fingerprint(epoch_orders(loader))}


@scenario("loader.random_split")
def random_split(ctx):
    """A train/val split; a ``full`` program passes its seeded generator (1.6+)."""
    dataset = TensorDataset(torch.arange(SAMPLES))
    generator = ctx.loader_kwargs().get("generator")
    kwargs = {} if generator is None else {"generator": generator}
    train, val = torch.utils.data.random_split(dataset, [70, 30], **kwargs)
    return {"indices": fingerprint(list(train.indices), list(val.indices))}


@scenario("loader.sampler_epochs", goals={"distinct_epochs": "up"})
def sampler_epochs(ctx):
    """An explicit RandomSampler iterated for 3 epochs: each epoch's order."""
    dataset = TensorDataset(torch.arange(SAMPLES))
    generator = ctx.loader_kwargs().get("generator")
    # RandomSampler(generator=) is 1.6+; ``full`` only passes one where it exists.
    sampler = RandomSampler(dataset) if generator is None else RandomSampler(
        dataset, generator=generator)
    loader = DataLoader(dataset, batch_size=10, sampler=sampler)
    orders = epoch_orders(loader, epochs=3)
    distinct = len(set(fingerprint(order) for order in orders))
    return {"order": fingerprint(orders), "distinct_epochs": distinct}


@scenario("loader.main_rng_after_epoch")
def main_rng_after_epoch(ctx):
    """How much of the global torch stream one epoch consumes, shuffled or not.

    ``next_rand`` is what the program's next ``torch.rand(4)`` returns after the
    epoch; ``sequential_draws`` says whether even an unshuffled loader moved the
    global generator (compared with the same draw taken without the loader).
    """
    dataset = TensorDataset(torch.arange(SAMPLES))
    start = torch.get_rng_state()
    untouched = torch.rand(4)
    torch.set_rng_state(start)
    for _ in DataLoader(dataset, batch_size=10, shuffle=False):
        pass
    sequential_draws = not torch.equal(torch.rand(4), untouched)
    torch.set_rng_state(start)
    for _ in DataLoader(dataset, batch_size=10, shuffle=True, **ctx.loader_kwargs()):
        pass
    next_rand = torch.rand(4)
    return {"next_rand": fingerprint(next_rand),
            "shuffle_draws": not torch.equal(next_rand, untouched),
            "sequential_draws": sequential_draws}


# -- worker processes ------------------------------------------------------------

# Draws repeated across workers or epochs are the NumPy-in-workers bug.
WORKER_GOALS = {"duplicate_fraction": "down", "epoch_repeat": "down"}

def _draw_numpy():
    return int(np.random.randint(0, DRAW_LIMIT))


def _draw_python():
    return random.randint(0, DRAW_LIMIT - 1)


def _draw_torch():
    return int(torch.randint(0, DRAW_LIMIT, (1,)).item())


class RandomDraws(Dataset):
    """Each item is (index, worker id, one random draw): a dataset doing random
    augmentation in ``__getitem__``, reduced to the draw itself."""

    def __init__(self, draw, size=WORKER_ITEMS):
        self.draw = draw
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        info = torch.utils.data.get_worker_info()
        worker = -1 if info is None else info.id
        return torch.tensor([index, worker, self.draw()], dtype=torch.int64)


def worker_epochs(ctx, draw, epochs=EPOCHS, **loader_kwargs):
    """[(index, worker, draw) rows] per epoch from WORKERS forked workers."""
    kwargs = dict(batch_size=2, num_workers=WORKERS, multiprocessing_context="fork")
    kwargs.update(ctx.loader_kwargs())
    kwargs.update(loader_kwargs)
    loader = DataLoader(RandomDraws(draw), **kwargs)
    return [torch.cat(list(loader)) for _ in range(epochs)]


def duplicate_fraction(epoch):
    """Fraction of draws in one epoch that another worker also drew."""
    by_worker = {}
    for _, worker, drawn in epoch.tolist():
        by_worker.setdefault(worker, []).append(drawn)
    shared = 0
    for worker, draws in by_worker.items():
        others = set()
        for other, other_draws in by_worker.items():
            if other != worker:
                others.update(other_draws)
        shared += sum(1 for drawn in draws if drawn in others)
    return shared / float(len(epoch))


def worker_metrics(epochs):
    first, second = epochs[0][:, 2].tolist(), epochs[1][:, 2].tolist()
    return {
        "duplicate_fraction": sum(duplicate_fraction(e) for e in epochs) / float(len(epochs)),
        "epoch_repeat": sum(1 for a, b in zip(first, second) if a == b) / float(len(first)),
        "values": fingerprint([e[:, 2] for e in epochs]),
    }


@scenario("loader.numpy_workers", goals=WORKER_GOALS)
def numpy_workers(ctx):
    """np.random in __getitem__: forked workers inherit one NumPy state unless
    torch reseeds it (1.9+) or the program passes a worker_init_fn."""
    return worker_metrics(worker_epochs(ctx, _draw_numpy))


@scenario("loader.python_workers", goals=WORKER_GOALS)
def python_workers(ctx):
    """random in __getitem__: DataLoader has reseeded ``random`` per worker for long."""
    return worker_metrics(worker_epochs(ctx, _draw_python))


@scenario("loader.torch_workers", goals=WORKER_GOALS)
def torch_workers(ctx):
    """torch.randint in __getitem__: each worker gets base_seed + worker_id."""
    return worker_metrics(worker_epochs(ctx, _draw_torch))


@scenario("loader.persistent_workers", torch=">=1.7", goals=WORKER_GOALS)
def persistent_workers(ctx):
    """NumPy draws with persistent workers: epoch 2 continues each worker's stream."""
    return worker_metrics(worker_epochs(ctx, _draw_numpy, persistent_workers=True))


def lightning_worker_init(worker_id):
    # What pytorch_lightning.utilities.seed.pl_worker_init_function does (rank 0):
    # derive NumPy, torch and random seeds from the seed torch gave this worker.
    process_seed = torch.initial_seed()
    base_seed = process_seed - worker_id
    sequence = np.random.SeedSequence([base_seed, worker_id, 0])
    np.random.seed(sequence.generate_state(4))
    torch_sequence, stdlib_sequence = sequence.spawn(2)
    torch_seed = int(torch_sequence.generate_state(1, dtype=np.uint64)[0])
    if not versions.satisfies(torch.__version__, ">=1.7"):
        # torch < 1.7 rejects seeds >= 2**63 ("Overflow when unpacking long"), so
        # the recipe as written fails there for half of all seeds. Folding the
        # seed keeps it running; the NumPy draws measured here do not depend on it.
        torch_seed %= 2 ** 63
    torch.manual_seed(torch_seed)
    stdlib_seed = (stdlib_sequence.generate_state(2, dtype=np.uint64).astype(object)
                   * [1 << 64, 1]).sum()
    random.seed(stdlib_seed)


@scenario("loader.worker_init_fn", goals=WORKER_GOALS)
def worker_init_fn(ctx):
    """NumPy draws with Lightning's per-worker seeding as the worker_init_fn."""
    return worker_metrics(worker_epochs(ctx, _draw_numpy, worker_init_fn=lightning_worker_init))
