"""harness.cell.attribution: draws counted in the scenario's process, in DataLoader
workers (fork and spawn, persistent or not) and in other processes it forks.

In-process with the tests venv's torch; tests/test_scenarios_loader.py and
tests/test_examples.py check the same in real torch 1.5 and newest cells.
"""
from __future__ import annotations

import multiprocessing
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import attribution, tracing  # noqa: E402
from _rngdrift.harness.cell.attribution import Attribution  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def installed():
    tracing.install()
    attribution.install()


class Flips(torch.utils.data.Dataset):
    """A dataset drawing the way augmentation code does: Python's random and torch."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return torch.tensor([random.random(), float(torch.rand(1))])


def rows_of(attr) -> dict[str, str]:
    return {metric: value for metric, _, value in attr.rows()}


@pytest.mark.parametrize("context, persistent", [
    ("fork", False), ("fork", True), ("spawn", False), ("spawn", True)])
def test_worker_draws_come_back_apart_from_the_main_process(context, persistent):
    seen = []
    with Attribution() as attr:
        loader = torch.utils.data.DataLoader(
            Flips(), batch_size=2, num_workers=2, persistent_workers=persistent,
            multiprocessing_context=context, worker_init_fn=seen.append)
        for _ in range(2):
            for _ in loader:
                pass
        del loader
    rows = rows_of(attr)
    assert rows["rng.worker.calls.random.random"] == str(8 * 2)
    assert rows["rng.worker.calls.torch.rand"] == str(8 * 2)
    assert rows["rng.worker.python"] == rows["rng.worker.torch"] == "1"
    assert rows["rng.worker.numpy"] == "0"
    assert rows["rng.worker.processes"] == ("2" if persistent else "4")
    # the main process only shuffled nothing and drew the workers' base seed
    assert "rng.calls.random.random" not in rows
    assert rows["rng.python"] == "0"


def test_the_users_worker_init_fn_still_runs():
    def init(worker_id):
        np.random.seed(worker_id)  # the seed_worker recipe
        np.random.rand()

    with Attribution() as attr:
        loader = torch.utils.data.DataLoader(Flips(), batch_size=4, num_workers=2,
                                             worker_init_fn=init)
        list(loader)
    rows = rows_of(attr)
    assert rows["rng.worker.calls.numpy.random.seed"] == "2"
    assert rows["rng.worker.numpy"] == "1"


def test_a_loader_keeps_the_worker_init_fn_the_program_gave_it():
    """Counting wraps it only while an iterator starts its workers: code that fills in a
    worker_init_fn where there is none (Lightning's Trainer under
    seed_everything(workers=True)) sees None, and the function it sets runs."""
    def init(worker_id):
        np.random.seed(worker_id)

    with Attribution() as attr:
        loader = torch.utils.data.DataLoader(Flips(), batch_size=4, num_workers=2)
        assert loader.worker_init_fn is None
        loader.worker_init_fn = init  # what a library does before iterating
        list(loader)
        assert loader.worker_init_fn is init
    rows = rows_of(attr)
    assert rows["rng.worker.calls.numpy.random.seed"] == "2"


def _rank(queue):
    queue.put(random.random() + float(torch.rand(1)))


def test_draws_in_other_forked_processes_are_counted():
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with Attribution() as attr:
        procs = [ctx.Process(target=_rank, args=(queue,)) for _ in range(2)]
        for p in procs:
            p.start()
        results = [queue.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(30)
    assert len(results) == 2
    rows = rows_of(attr)
    assert rows["rng.process.processes"] == "2"
    assert rows["rng.process.calls.random.random"] == "2"
    assert rows["rng.process.python"] == rows["rng.process.torch"] == "1"


def test_nothing_is_spooled_outside_a_scenario():
    loader = torch.utils.data.DataLoader(Flips(), batch_size=4, num_workers=1)
    assert not isinstance(loader.worker_init_fn, attribution.WorkerInit)
    list(loader)
