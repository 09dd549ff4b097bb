"""Lightning: ``seed_everything`` and what DataLoader workers draw under a Trainer.

``seed_everything(seed)`` seeds random, NumPy and torch in the main process. From
PyTorch Lightning 1.3.0 (PR 6960) ``seed_everything(seed, workers=True)`` also makes
the Trainer give every DataLoader without a ``worker_init_fn`` its own
(``pl_worker_init_function``), which seeds random, NumPy and torch in each worker from
the worker's base seed, id and rank. Later releases changed how it derives those seeds
(2.4.0: PR 20055; 2.5.0: PR 20369; 2.6.4: PR 21399), so the same seed gives other
worker draws.

The scenarios train one epoch of a tiny model on 16 items with 2 workers and record
what each worker drew; ``n/a`` where pytorch-lightning is not installed.
"""
import random
import tempfile

import numpy as np
import torch

from ..harness.cell import versions
from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario

NEEDS = {"pytorch-lightning": ">=1.2"}
WORKER_SEEDING = {"pytorch-lightning": ">=1.3"}  # seed_everything(workers=)
ITEMS = 16
WORKERS = 2
LIMIT = 2 ** 30
GOALS = {"duplicate_fraction": "down"}


class Draws(torch.utils.data.Dataset):
    """Each item: its index, the worker, and one draw from each global generator."""

    def __len__(self):
        return ITEMS

    def __getitem__(self, index):
        info = torch.utils.data.get_worker_info()
        return torch.tensor([index, -1 if info is None else info.id,
                             int(np.random.randint(0, LIMIT)), random.randint(0, LIMIT - 1),
                             int(torch.randint(0, LIMIT, (1,)).item())], dtype=torch.int64)


def _trainer(pl, root):
    if versions.satisfies(pl.__version__, ">=1.5"):
        return pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False,
                          num_sanity_val_steps=0, accelerator="cpu", devices=1,
                          default_root_dir=root)
    return pl.Trainer(max_epochs=1, logger=False, checkpoint_callback=False,
                      progress_bar_refresh_rate=0, weights_summary=None,
                      num_sanity_val_steps=0, default_root_dir=root)


def fit_and_record(seed, **seed_kwargs):
    """seed_everything, then Trainer.fit over the draws; the rows every batch held."""
    import pytorch_lightning as pl

    class Model(pl.LightningModule):
        def __init__(self):
            super(Model, self).__init__()
            self.layer = torch.nn.Linear(1, 1)
            self.seen = []

        def training_step(self, batch, batch_idx):
            self.seen.append(batch.clone())
            return self.layer(batch[:, :1].float()).sum() * 0.0

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.0)

    pl.seed_everything(seed, **seed_kwargs)
    model = Model()
    loader = torch.utils.data.DataLoader(Draws(), batch_size=2, num_workers=WORKERS,
                                         multiprocessing_context="fork")
    root = tempfile.mkdtemp(prefix="rngdrift-lightning-")
    _trainer(pl, root).fit(model, loader)
    return torch.cat(model.seen)


def _result(rows):
    by_worker = {}
    for worker, draw in rows[:, [1, 2]].tolist():
        by_worker.setdefault(worker, set()).add(draw)
    draws = [d for w in by_worker.values() for d in w]
    repeated = sum(1 for d in draws if sum(d in w for w in by_worker.values()) > 1)
    rows = rows[rows[:, 0].argsort()]
    return {"draws": fingerprint(rows[:, 2:]), "duplicate_fraction": repeated / float(len(draws))}


@scenario("lightning.trainer_workers", requires=WORKER_SEEDING, goals=GOALS)
def trainer_workers(ctx):
    """seed_everything(seed, workers=True): the Trainer seeds each worker itself."""
    return _result(fit_and_record(ctx.seed, workers=True))


@scenario("lightning.trainer_default", requires=NEEDS, goals=GOALS)
def trainer_default(ctx):
    """seed_everything(seed) alone: the workers get what torch's DataLoader gives them
    (NumPy repeated across workers before torch 1.9)."""
    return _result(fit_and_record(ctx.seed))
