import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import modes, seeding, tracing  # noqa: E402


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


@pytest.mark.parametrize("mode, fixed", [
    ("none", ()), ("numpy", ("numpy",)), ("python", ("python", "numpy")), ("torch", ("torch",)),
    ("all", ("python", "numpy", "torch")), ("full", ("python", "numpy", "torch")),
    ("python-torch", ("python", "numpy")), ("workers", ("python", "numpy", "torch")),
    ("generator", ("python", "numpy", "torch")),
])
def test_each_mode_seeds_exactly_its_generators(mode, fixed):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    seeding.reseed(mode)
    first = _draws()
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    seeding.reseed(mode)
    second = _draws()
    same = tuple(g for g, a, b in zip(("python", "numpy", "torch"), first, second) if a == b)
    assert same == fixed
    assert set(fixed) <= modes.get(mode).seeds  # the record says what reseed seeds


def test_child_env_sets_what_the_record_says_and_clears_the_rest():
    base = {"PYTHONHASHSEED": "123", "CUBLAS_WORKSPACE_CONFIG": ":16:8", "KEEP": "1"}
    for mode in ("none", "python", "torch", "all", "numpy", "workers", "python-torch"):
        env = seeding.child_env(mode, base)
        assert "PYTHONHASHSEED" not in env and "CUBLAS_WORKSPACE_CONFIG" not in env
        assert env["KEEP"] == "1"
    for mode in ("full", "ranks"):
        env = seeding.child_env(mode, base)
        assert env["PYTHONHASHSEED"] == str(seeding.SEED)
        assert env["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_python_torch_seeds_torch_next_to_every_random_seed(monkeypatch):
    """The fix recipe for datasets that reseed only ``random``: a random.seed(x) the code
    makes itself also seeds torch, with x (ints) or a number derived from x."""
    monkeypatch.setattr(random, "seed", random.seed)  # undone after the test
    seeding.apply_process_flags("python-torch")
    seeding.apply_process_flags("python-torch")  # once per process, however often asked
    random.seed(7)
    a = torch.rand(1)
    torch.manual_seed(99)
    random.seed(7)
    assert torch.equal(torch.rand(1), a) and torch.initial_seed() == 7
    random.seed("img-3")
    b = (random.random(), torch.rand(1))
    random.seed("img-3")
    assert (random.random(), torch.rand(1)) == b


def _own_loader(dataset):
    """A loader built by code that is not rngdrift's (the test module stands in)."""
    return torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=2)


def test_a_worker_recipe_reaches_loaders_that_code_other_than_rngdrift_builds(monkeypatch):
    from torch.utils.data import DataLoader
    monkeypatch.setattr(DataLoader, "__init__", DataLoader.__init__)
    seeding.apply_process_flags("workers")
    tracing.recipe.clear()
    loader = _own_loader(_Probe())
    assert loader.worker_init_fn is seeding._seed_worker
    assert tracing.recipe == {"worker_init_fn"}
    positional = DataLoader(_Probe(), 1, False, None, None, 2, None, False, False, 0, _own_init)
    assert isinstance(positional.worker_init_fn, seeding.ChainedWorkerInit)


def test_ranks_seeds_each_rank_s_loader_generator_apart(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    kwargs = seeding.Context("ranks").loader_kwargs()
    assert kwargs["generator"].initial_seed() == seeding.SEED + 1
    assert seeding.Context("full").loader_kwargs()["generator"].initial_seed() == seeding.SEED


def test_context_reseed_follows_the_mode():
    ctx = seeding.Context("python")
    ctx.reseed(5)
    a = random.random()
    ctx.reseed(5)
    assert random.random() == a
    assert ctx.seeds_python and not ctx.seeds_torch


def test_loader_kwargs_only_under_full():
    assert seeding.Context("all").loader_kwargs() == {}
    kwargs = seeding.Context("full").loader_kwargs()
    assert callable(kwargs["worker_init_fn"])
    assert kwargs["generator"].initial_seed() == seeding.SEED


# -- loader_kwargs merges with what the loader already has ---------------------------

def _own_init(worker_id):
    """A dataset's own worker_init_fn (module level: picklable)."""
    import torch.utils.data as data
    data.get_worker_info().dataset.inits.append(worker_id)


class _Probe(torch.utils.data.Dataset):
    def __init__(self):
        self.inits = []

    def __len__(self):
        return 4

    def __getitem__(self, index):
        # what each worker's own init did, and a NumPy draw the recipe seeds
        return torch.tensor([len(self.inits), float(np.random.rand())])


def test_loader_kwargs_keeps_what_the_loader_passes_in_every_mode():
    own = {"worker_init_fn": _own_init, "shuffle": True}
    for mode in ("none", "numpy", "python", "torch", "all", "python-torch"):
        ctx = seeding.Context(mode)
        tracing.recipe.clear()  # what the recipe handed out, read from any process
        assert ctx.loader_kwargs(**own) == own
        assert tracing.recipe == set()


def test_loader_kwargs_chains_an_own_worker_init_fn_under_full():
    import pickle
    ctx = seeding.Context("full")
    tracing.recipe.clear()
    kwargs = ctx.loader_kwargs(worker_init_fn=_own_init, batch_size=1)
    assert kwargs["batch_size"] == 1
    assert isinstance(kwargs["worker_init_fn"], seeding.ChainedWorkerInit)
    assert tracing.recipe == {"worker_init_fn+own", "generator"}
    # picklable, so spawned workers get it
    again = pickle.loads(pickle.dumps(kwargs["worker_init_fn"]))
    assert again.user_fn is _own_init
    loader = torch.utils.data.DataLoader(_Probe(), num_workers=2, **kwargs)
    items = [tuple(batch[0].tolist()) for batch in loader]
    assert [count for count, _ in items] == [1.0] * 4  # the own init ran in each worker
    draws = [draw for _, draw in items]
    assert len(set(draws)) == 4  # ... after the recipe seeded NumPy per worker
    assert draws == [tuple(b[0].tolist())[1] for b in
                     torch.utils.data.DataLoader(_Probe(), num_workers=2,
                                                 **seeding.Context("full").loader_kwargs(
                                                     worker_init_fn=_own_init, batch_size=1))]


def test_loader_kwargs_keeps_an_own_generator_and_notes_it():
    ctx = seeding.Context("full")
    tracing.recipe.clear()
    mine = torch.Generator()
    kwargs = ctx.loader_kwargs(generator=mine)
    assert kwargs["generator"] is mine
    assert kwargs["worker_init_fn"] is seeding._seed_worker
    assert tracing.recipe == {"worker_init_fn", "generator=own"}
