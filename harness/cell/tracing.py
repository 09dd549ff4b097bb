"""Count the Python-level random APIs a scenario calls.

Wrapping module attributes catches every call that looks the function up by
attribute (``random.random()``, ``torch.rand(...)``, ``t.uniform_()``), which is
how torchvision, DataLoader and nn.init reach them. Calls made from C++ or in
DataLoader worker processes are not seen; the generator-state rows
(``rng.python`` ...) still show those draws in the main process.
"""
import functools
import random

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

counts = {}
_active = [False]
_installed = [False]


def _wrap(name, func):
    @functools.wraps(func)
    def counted(*args, **kwargs):
        if _active[0]:
            counts[name] = counts.get(name, 0) + 1
        return func(*args, **kwargs)
    counted.__rngdrift_original__ = func
    return counted


def _patch(owner, prefix, names):
    for attr in names:
        func = getattr(owner, attr, None)
        if func is None or hasattr(func, "__rngdrift_original__"):
            continue
        try:
            setattr(owner, attr, _wrap(prefix + attr, func))
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
    _installed[0] = True


class counting(object):
    """Context manager: count calls inside the block; ``.counts`` after exit."""

    def __enter__(self):
        counts.clear()
        _active[0] = True
        return self

    def __exit__(self, *exc):
        _active[0] = False
        self.counts = dict(counts)
        counts.clear()
        return False
