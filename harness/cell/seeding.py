"""Applying a seeding mode: each line of its record (``harness.cell.modes``) at its place.

    child_env(mode)            ENVIRONMENT lines: the child's environment
    apply_process_flags(mode)  PROCESS lines once per process, and the hooks of the
                               RANDOM_SEED and DataLoader places
    reseed(mode)               RESEED lines: at start-up (before each scenario) and
                               whenever a scenario calls ``ctx.reseed()``
    Context.loader_kwargs()    WORKER_INIT, LOADER and PER_RANK lines for the
                               DataLoaders rngdrift's scenarios build

DataLoaders that code other than rngdrift's builds (a team's own loader, dataset or
script) get a mode's DataLoader lines through a hook on ``DataLoader.__init__``: a
fix recipe that says "pass worker_init_fn=seed_worker" is verified on the loader the
team really uses. rngdrift's own scenarios ask with ``ctx.loader_kwargs()`` (some
build loaders without the recipe on purpose).

Nothing here decides what a mode is: add a mode in modes.py, not here.
"""
import functools
import inspect
import os
import random
import sys

import numpy as np
import torch

from . import modes, tracing, versions
from .modes import CUDA, NUMPY, PYTHON, TORCH, Place

SEED = 0


def child_env(mode, base=None):
    """Environment for a child process running under ``mode``: every variable any mode
    sets is cleared, then this mode's are set."""
    env = dict(os.environ if base is None else base)
    for record in modes.MODES:
        for name, _ in record.env:
            env.pop(name, None)
    for name, value in modes.get(mode).env:
        env[name] = value.strip()
    return env


def _seed_generator(generator, seed):
    if generator == PYTHON:
        random.seed(seed)
    elif generator == NUMPY:
        np.random.seed(seed)
    elif generator == TORCH:
        torch.manual_seed(seed)
    elif generator == CUDA:
        if not torch.cuda.is_available():
            return False
        torch.cuda.manual_seed_all(seed)
    return True


def reseed(mode, seed=SEED):
    """Apply ``mode``'s RESEED lines. Returns the names of the generators seeded."""
    seeded = []
    for line in modes.get(mode).at(Place.RESEED):
        if _seed_generator(line.generator, seed):
            seeded.append(line.generator)
    return seeded


def apply_process_flags(mode):
    """Once per process: ``mode``'s PROCESS lines (determinism switches) and the hooks
    its RANDOM_SEED and DataLoader lines need."""
    record = modes.get(mode)
    if record.applies(Place.PROCESS):
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        if hasattr(torch, "use_deterministic_algorithms"):  # torch >= 1.8
            torch.use_deterministic_algorithms(True)
        elif hasattr(torch, "set_deterministic"):  # torch 1.7
            torch.set_deterministic(True)
    if record.applies(Place.RANDOM_SEED):
        _torch_with_random_seed()
    if any(record.applies(p) for p in (Place.WORKER_INIT, Place.LOADER, Place.PER_RANK)):
        _hook_dataloader(mode)


# -- RANDOM_SEED: torch.manual_seed(x) next to every random.seed(x) -------------------------

def _torch_seed_for(a):
    """The torch seed that goes with ``random.seed(a)``: ``a`` itself for an int, else a
    number derived from ``a`` without touching the global ``random`` stream."""
    if isinstance(a, int) and not isinstance(a, bool):
        return a % (2 ** 63)
    return random.Random(a).getrandbits(63)


def _torch_with_random_seed():
    current = random.seed
    if getattr(current, "__rngdrift_torch_too__", False):
        return

    @functools.wraps(current)
    def seed(a=None, *args, **kwargs):
        result = current(a, *args, **kwargs)
        if a is None:
            torch.seed()
        else:
            torch.manual_seed(_torch_seed_for(a))
        return result
    seed.__rngdrift_torch_too__ = True
    random.seed = seed


# -- WORKER_INIT, LOADER, PER_RANK ---------------------------------------------------------

def _seed_worker(worker_id):
    # The recipe from PyTorch's reproducibility notes (modes.SEED_WORKER): derive the
    # worker's python/numpy seeds from the torch seed the DataLoader gave it.
    worker_seed = torch.initial_seed() % 2 ** 32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


class ChainedWorkerInit(object):
    """The recipe's worker seeding, then the loader's own ``worker_init_fn``. A class,
    not a closure, so it pickles for spawned workers (when the user's function does)."""

    def __init__(self, user_fn):
        self.user_fn = user_fn

    def __call__(self, worker_id):
        _seed_worker(worker_id)
        return self.user_fn(worker_id)


def _rank():
    """This process's rank in a process group (0 outside one)."""
    dist = getattr(torch, "distributed", None)
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return dist.get_rank()
    except (RuntimeError, AttributeError):
        pass
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _has_loader_generator():
    return versions.satisfies(torch.__version__, ">=1.6")  # DataLoader(generator=) is 1.6+


def recipe_kwargs(mode, seed, own):
    """``own`` DataLoader keyword arguments with ``mode``'s DataLoader lines added.

    Merged, never colliding: the loader's own ``worker_init_fn`` runs after the
    recipe's (``rng.recipe``: ``worker_init_fn+own``), and its own ``generator`` is
    kept instead of the recipe's (``generator=own``)."""
    record = modes.get(mode)
    kwargs = dict(own)
    if record.applies(Place.WORKER_INIT):
        user_fn = own.get("worker_init_fn")
        if user_fn is None:
            kwargs["worker_init_fn"] = _seed_worker
            tracing.recipe.add("worker_init_fn")
        elif not _is_recipe(user_fn):
            kwargs["worker_init_fn"] = ChainedWorkerInit(user_fn)
            tracing.recipe.add("worker_init_fn+own")
    per_rank = record.applies(Place.PER_RANK)
    if record.applies(Place.LOADER) or per_rank:
        given = own.get("generator")
        if given is not None:
            if not any(given is g for g in _RECIPE_GENERATORS):  # ctx.loader_kwargs' own
                tracing.recipe.add("generator=own")
        elif _has_loader_generator():
            generator = torch.Generator()
            generator.manual_seed(seed + (_rank() if per_rank else 0))
            _RECIPE_GENERATORS.append(generator)
            kwargs["generator"] = generator
            tracing.recipe.add("generator+rank" if per_rank else "generator")
    return kwargs


# The generators the recipe made in this process: a scenario that builds its DataLoader
# with ctx.loader_kwargs() passes one back through the DataLoader hook, and it is the
# recipe's, not the program's own.
_RECIPE_GENERATORS = []


def _is_recipe(fn):
    return fn is _seed_worker or isinstance(fn, ChainedWorkerInit)


def _from_rngdrift(frame):
    """Whether the DataLoader being built was asked for by rngdrift's own code (its
    scenarios and harness), found by the first caller outside torch.utils.data."""
    package = __name__.split(".")[0]
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not name.startswith("torch.utils.data"):
            return name == package or name.startswith(package + ".")
        frame = frame.f_back
    return False


def _hook_dataloader(mode):
    """Give DataLoaders built by code that is not rngdrift's ``mode``'s DataLoader
    lines (once per process)."""
    from torch.utils.data import DataLoader
    original = DataLoader.__init__
    if getattr(original, "__rngdrift_mode__", None) == mode:
        return

    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        if not _from_rngdrift(sys._getframe(1)):
            try:  # arguments passed by position become keywords, so none is passed twice
                bound = signature.bind(self, *args, **kwargs)
            except TypeError:
                return original(self, *args, **kwargs)  # DataLoader raises it itself
            named = dict(bound.arguments)
            named.pop(next(iter(signature.parameters)))
            extra = named.pop("kwargs", {}) if "kwargs" in signature.parameters else {}
            named.update(extra)
            return original(self, **recipe_kwargs(mode, SEED, named))
        return original(self, *args, **kwargs)
    __init__.__rngdrift_mode__ = mode
    DataLoader.__init__ = __init__


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
        return PYTHON in modes.get(self.mode).seeds

    @property
    def seeds_torch(self):
        return TORCH in modes.get(self.mode).seeds

    def loader_kwargs(self, **own):
        """DataLoader keyword arguments: the loader's ``own`` ones, plus this mode's
        DataLoader lines (``full``: PyTorch's recipe, a worker_init_fn that seeds random
        and NumPy in each worker, and a seeded generator on torch >= 1.6)::

            DataLoader(dataset, **ctx.loader_kwargs(worker_init_fn=fn, shuffle=True))
        """
        return recipe_kwargs(self.mode, self.seed, own)
