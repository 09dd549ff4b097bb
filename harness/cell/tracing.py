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

Every counted call also says *which* generator it drew from (``uses``): the global
one (torch's default generator, NumPy's global RandomState, the ``random`` module),
or one of the program's own (a ``torch.Generator`` passed as ``generator=``, a
``random.Random``, NumPy ``RandomState`` or ``Generator`` instance: ``owndraws.py``
counts those under the same API names). torch 1.9's RandomSampler calls
``torch.randperm`` as often as 1.8's did, but with a generator of its own: the
counts stay, the use moves from global to own.
"""
import builtins
import functools
import importlib
import random
import sys
import threading

import numpy as np
import torch

from . import owndraws
from .schema import GENERATOR_USES

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

# Which generator a call drew from: bits of ``uses``; USE_TEXT names their union.
GLOBAL, OWN = 1, 2
USE_TEXT = dict(zip((GLOBAL, OWN, GLOBAL | OWN), GENERATOR_USES))

counts = {}         # api -> calls, while a scenario (or a subprocess of it) runs
uses = {}           # api -> GLOBAL | OWN: the generators the counted calls drew from
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
    names += ["numpy.random." + attr for attr in owndraws.GENERATOR_ONLY]
    names += [prefix + attr for _, prefix, functions in _SEEDING for attr, _ in functions]
    return names


def count(name, use):
    """Count one call of ``name`` that drew from ``use`` (GLOBAL or OWN), while counting."""
    if _importing():
        import_counts[name] = import_counts.get(name, 0) + 1
    else:
        counts[name] = counts.get(name, 0) + 1
        uses[name] = uses.get(name, 0) | use


def uses_text(bits):
    """{api: "global", "own" or "global+own"} of a ``uses`` mapping."""
    return dict((api, USE_TEXT[use]) for api, use in bits.items() if use in USE_TEXT)


_Generator = torch.Generator
_DEFAULT = getattr(torch, "default_generator", None)


def _torch_use(args, kwargs):
    """GLOBAL, or OWN for a call given a ``torch.Generator`` other than a default one."""
    generator = kwargs.get("generator") if kwargs else None
    if generator is None:
        for arg in args:  # torch.poisson(input, generator) takes it by position too
            if type(arg) is _Generator:
                generator = arg
                break
        else:
            return GLOBAL
    if generator is _DEFAULT:
        return GLOBAL  # random_split(generator=default_generator), a user passing it
    cuda = getattr(torch.cuda, "default_generators", ())  # empty until CUDA starts
    return GLOBAL if cuda and any(generator is g for g in cuda) else OWN


def _wrap(name, func, use_of=None):
    """Count calls of ``func`` as ``name``; ``use_of(args, kwargs)``: which generator a
    call draws from (GLOBAL when None)."""
    @functools.wraps(func)
    def counted(*args, **kwargs):
        if _active[0]:
            if getattr(_imports, "depth", 0):
                import_counts[name] = import_counts.get(name, 0) + 1
            else:
                counts[name] = counts.get(name, 0) + 1
                uses[name] = uses.get(name, 0) | (GLOBAL if use_of is None
                                                  else use_of(args, kwargs))
        return func(*args, **kwargs)
    counted.__rngdrift_original__ = func
    return counted


def _wrap_torch(name, func):
    return _wrap(name, func, _torch_use)


def _wrap_own(name, func):
    """An API that makes a generator of the program's own (``numpy.random.default_rng``)."""
    return _wrap(name, func, lambda args, kwargs: OWN)


def _wrap_seeding(name, func, generators):
    @functools.wraps(func)
    def seeding(*args, **kwargs):
        draws = _draws[0] if _active[0] else None
        if draws is not None:
            count(name, GLOBAL)
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
    # first: numpy.random.default_rng's own-Generator wrapper goes under the count
    owndraws.install(lambda name: count(name, OWN), _active, _PYTHON, _NUMPY)
    _patch(random, "random.", _PYTHON)
    _patch(np.random, "numpy.random.", tuple(n for n in _NUMPY if n != "default_rng"))
    _patch(np.random, "numpy.random.", ("default_rng",), _wrap_own)
    _patch(torch, "torch.", _TORCH, _wrap_torch)
    _patch(torch.Tensor, "torch.Tensor.", _TENSOR, _wrap_torch)
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
    uses.clear()
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
    """Context manager: count calls inside the block; ``.counts``, ``.uses`` (text,
    as ``uses_text``) and ``.import_counts`` after exit."""

    def __init__(self, draws=None):
        self.draws = draws

    def __enter__(self):
        start(self.draws)
        return self

    def __exit__(self, *exc):
        self.counts, self.import_counts = stop()
        self.uses = uses_text(uses)
        return False
