"""Count the Python-level random APIs a scenario calls, and tell draws from seeding.

Wrapping module attributes catches every call that looks the function up by
attribute (``random.random()``, ``torch.rand(...)``, ``t.uniform_()``), which is
how torchvision, DataLoader and nn.init reach them. Calls made from C++ are not
seen; the generator rows (``rng.python`` ...) still show those draws.

Seeding calls (``random.seed``, ``numpy.random.seed``, ``torch.manual_seed``,
``*.set_state``...) are counted too, and they are where a ``rngstate.Draws``
tracker takes its checkpoints: a generator counts as *drawn from* when its state
moved between two seedings, never merely because it was reseeded.

Imports that run while a scenario runs (a lazily imported library initialising
itself) are not the scenario's draws: what they call is counted apart
(``import_counts``) and their generator moves are not attributed to it.
"""
import builtins
import functools
import importlib
import random
import sys
import threading

import numpy as np
import torch

_PYTHON = ("random", "uniform", "randint", "randrange", "choice", "choices",
           "shuffle", "sample", "gauss", "normalvariate", "lognormvariate",
           "expovariate", "vonmisesvariate", "gammavariate", "betavariate",
           "paretovariate", "weibullvariate", "triangular", "getrandbits")
_NUMPY = ("rand", "randn", "randint", "random", "random_sample", "ranf", "sample",
          "uniform", "normal", "standard_normal", "choice", "shuffle",
          "permutation", "binomial", "poisson", "beta", "exponential", "gamma",
          "multinomial", "default_rng")
_TORCH = ("rand", "randn", "randint", "randperm", "rand_like", "randn_like",
          "randint_like", "normal", "bernoulli", "multinomial", "poisson")
_TENSOR = ("uniform_", "normal_", "random_", "bernoulli_", "bernoulli",
           "exponential_", "cauchy_", "log_normal_", "geometric_", "multinomial")
_FUNCTIONAL = ("dropout", "dropout2d", "dropout3d", "alpha_dropout",
               "feature_alpha_dropout")
# Seeding and state-setting functions, with the generators each one resets.
_SEEDING = (
    (random, "random.", (("seed", ("python",)), ("setstate", ("python",)))),
    (np.random, "numpy.random.", (("seed", ("numpy",)), ("set_state", ("numpy",)))),
    (torch, "torch.", (("manual_seed", ("torch", "cuda")), ("seed", ("torch", "cuda")),
                       ("set_rng_state", ("torch",)))),
)

counts = {}         # api -> calls, while a scenario (or a subprocess of it) runs
import_counts = {}  # api -> calls made by imports that ran meanwhile
recipe = set()      # what the harness's seeding recipe handed out (Context.loader_kwargs)
_active = [False]
_installed = [False]
# Depth of the imports running now, per thread: a queue's feeder thread importing
# something must not turn the main thread's draws into an import's.
_imports = threading.local()


def _importing():
    return getattr(_imports, "depth", 0)

_draws = [None]     # the rngstate.Draws tracker of the running scenario


def api_names():
    """Every API name this module counts, as the rows name it (``rng.calls.<name>``)."""
    names = [prefix + attr for prefix, attrs in (
        ("random.", _PYTHON), ("numpy.random.", _NUMPY), ("torch.", _TORCH),
        ("torch.Tensor.", _TENSOR), ("torch.nn.functional.", _FUNCTIONAL)) for attr in attrs]
    names += [prefix + attr for _, prefix, functions in _SEEDING for attr, _ in functions]
    return names


def _wrap(name, func):
    @functools.wraps(func)
    def counted(*args, **kwargs):
        if _active[0]:
            bucket = import_counts if _importing() else counts
            bucket[name] = bucket.get(name, 0) + 1
        return func(*args, **kwargs)
    counted.__rngdrift_original__ = func
    return counted


def _wrap_seeding(name, func, generators):
    @functools.wraps(func)
    def seeding(*args, **kwargs):
        draws = _draws[0] if _active[0] else None
        if draws is not None:
            bucket = import_counts if _importing() else counts
            bucket[name] = bucket.get(name, 0) + 1
            if not _importing():
                draws.checkpoint(generators)
        try:
            return func(*args, **kwargs)
        finally:
            if draws is not None and not _importing():
                draws.rebase(generators)
    seeding.__rngdrift_original__ = func
    return seeding


def _wrap_import(func, module_of):
    """A first import while a scenario runs: its draws are set apart."""
    @functools.wraps(func)
    def importing(*args, **kwargs):
        name = module_of(*args, **kwargs)
        draws = _draws[0] if _active[0] else None
        if draws is None or name is None or name in sys.modules:
            return func(*args, **kwargs)
        depth = _importing()
        if not depth:
            draws.checkpoint()
        _imports.depth = depth + 1
        try:
            return func(*args, **kwargs)
        finally:
            _imports.depth = depth
            if not depth:
                draws.rebase()
    importing.__rngdrift_original__ = func
    return importing


def _import_target(name, globals=None, locals=None, fromlist=(), level=0):
    return name if level == 0 else None


def _import_module_target(name, package=None):
    return name if not name.startswith(".") else None


def _patch(owner, prefix, names, wrap=_wrap):
    for attr in names:
        func = getattr(owner, attr, None)
        if func is None or hasattr(func, "__rngdrift_original__"):
            continue
        try:
            setattr(owner, attr, wrap(prefix + attr, func))
        except (AttributeError, TypeError):  # read-only on some builds
            pass


def install():
    """Wrap the APIs once per process (idempotent)."""
    if _installed[0]:
        return
    import torch.nn.functional as F
    _patch(random, "random.", _PYTHON)
    _patch(np.random, "numpy.random.", _NUMPY)
    _patch(torch, "torch.", _TORCH)
    _patch(torch.Tensor, "torch.Tensor.", _TENSOR)
    _patch(F, "torch.nn.functional.", _FUNCTIONAL)
    for owner, prefix, functions in _SEEDING:
        for attr, generators in functions:
            _patch(owner, prefix, (attr,),
                   lambda name, func, gens=generators: _wrap_seeding(name, func, gens))
    if not hasattr(builtins.__import__, "__rngdrift_original__"):
        builtins.__import__ = _wrap_import(builtins.__import__, _import_target)
    if not hasattr(importlib.import_module, "__rngdrift_original__"):
        importlib.import_module = _wrap_import(importlib.import_module, _import_module_target)
    _installed[0] = True


def start(draws=None):
    """Count from here on (``draws``: the tracker that seed calls checkpoint)."""
    counts.clear()
    import_counts.clear()
    recipe.clear()
    _imports.depth = 0
    _draws[0] = draws
    _active[0] = True


def stop():
    """Stop counting; (counts, import_counts) so far."""
    _active[0] = False
    _draws[0] = None
    return dict(counts), dict(import_counts)


class counting(object):
    """Context manager: count calls inside the block; ``.counts`` and
    ``.import_counts`` after exit."""

    def __init__(self, draws=None):
        self.draws = draws

    def __enter__(self):
        start(self.draws)
        return self

    def __exit__(self, *exc):
        self.counts, self.import_counts = stop()
        return False
