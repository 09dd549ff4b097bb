"""The seeding modes: the one place that says what each mode seeds.

A mode stands for what a user's program does at start-up:

    none    nothing (what a script without any seeding gets)
    python  random.seed + numpy.random.seed (most tutorials before 2020)
    torch   torch.manual_seed only
    all     python + numpy + torch + cuda
    full    all + PYTHONHASHSEED + CUBLAS_WORKSPACE_CONFIG + cudnn flags +
            deterministic algorithms + a DataLoader worker_init_fn/generator

Settings that must exist before the interpreter or CUDA starts go into the child's
environment (``child_env``); the rest is applied in-process (``apply``).
"""
import os
import random

import numpy as np
import torch

from . import tracing, versions
from .schema import SEEDED

SEED = 0

_SEEDS_PYTHON = set(mode for mode, seeded in SEEDED.items() if "python" in seeded)
_SEEDS_TORCH = set(mode for mode, seeded in SEEDED.items() if "torch" in seeded)


def child_env(mode, base=None):
    """Environment for a child process running under ``mode``."""
    env = dict(os.environ if base is None else base)
    for name in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG"):
        env.pop(name, None)
    if mode == "full":
        env["PYTHONHASHSEED"] = str(SEED)
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    return env


def reseed(mode, seed=SEED):
    """Seed the generators ``mode`` seeds. Returns the names of those generators."""
    seeded = []
    if mode in _SEEDS_PYTHON:
        random.seed(seed)
        np.random.seed(seed)
        seeded += ["python", "numpy"]
    if mode in _SEEDS_TORCH:
        torch.manual_seed(seed)
        seeded.append("torch")
    if mode in ("all", "full") and torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        seeded.append("cuda")
    return seeded


def apply_process_flags(mode):
    """Once per process: determinism switches that ``full`` turns on."""
    if mode != "full":
        return
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    if hasattr(torch, "use_deterministic_algorithms"):  # torch >= 1.8
        torch.use_deterministic_algorithms(True)
    elif hasattr(torch, "set_deterministic"):  # torch 1.7
        torch.set_deterministic(True)


def _seed_worker(worker_id):
    # The recipe from PyTorch's reproducibility notes: derive the worker's
    # python/numpy seeds from the torch seed the DataLoader gave it.
    worker_seed = torch.initial_seed() % 2 ** 32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


class ChainedWorkerInit(object):
    """``full``'s worker seeding, then the loader's own ``worker_init_fn``. A class, not
    a closure, so it pickles for spawned workers (when the user's function does)."""

    def __init__(self, user_fn):
        self.user_fn = user_fn

    def __call__(self, worker_id):
        _seed_worker(worker_id)
        return self.user_fn(worker_id)


class Context(object):
    """What a scenario may ask of the runner. Scenarios never seed by themselves."""

    def __init__(self, mode, seed=SEED, device="cpu"):
        self.mode = mode
        self.seed = seed
        self.device = device

    def reseed(self, seed=None):
        """Reseed what this mode's program would reseed (the pair idiom's 'seed again')."""
        return reseed(self.mode, self.seed if seed is None else seed)

    @property
    def seeds_python(self):
        return self.mode in _SEEDS_PYTHON

    @property
    def seeds_torch(self):
        return self.mode in _SEEDS_TORCH

    def loader_kwargs(self, **own):
        """DataLoader keyword arguments: the loader's ``own`` ones, plus what a
        ``full``-mode program adds (PyTorch's recipe: a worker_init_fn that seeds
        random and NumPy in each worker, and a seeded generator on torch >= 1.6).

        Merged, never colliding: the loader's own ``worker_init_fn`` runs after the
        recipe's (``rng.recipe``: ``worker_init_fn+own``), and its own ``generator`` is
        kept instead of the recipe's (``generator=own``)::

            DataLoader(dataset, **ctx.loader_kwargs(worker_init_fn=fn, shuffle=True))
        """
        kwargs = dict(own)
        if self.mode != "full":
            return kwargs
        user_fn = own.get("worker_init_fn")
        if user_fn is None:
            kwargs["worker_init_fn"] = _seed_worker
            tracing.recipe.add("worker_init_fn")
        else:
            kwargs["worker_init_fn"] = ChainedWorkerInit(user_fn)
            tracing.recipe.add("worker_init_fn+own")
        if own.get("generator") is not None:
            tracing.recipe.add("generator=own")
        elif versions.satisfies(torch.__version__, ">=1.6"):  # DataLoader(generator=) is 1.6+
            generator = torch.Generator()
            generator.manual_seed(self.seed)
            kwargs["generator"] = generator
            tracing.recipe.add("generator")
        return kwargs
