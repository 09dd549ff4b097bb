"""Draws from generators of the program's own: ``random.Random``, NumPy ``RandomState``
and ``Generator`` instances, counted under the API names of the global functions
(``rng.random()`` on a ``random.Random`` is ``random.random``, ``rs.randint`` on a
RandomState is ``numpy.random.randint``, a Generator's ``integers`` is
``numpy.random.integers``) with the use ``own``: tracing.py installs this with its
own counter, ``install(count, active, python_names, numpy_names)``.

* ``random.Random``: its methods are wrapped on the class; calls on the module's
  hidden instance (``random._inst``, what ``random.random()`` draws from) are the
  module functions' business and pass straight through.
* NumPy's classes are extension types that cannot be patched, so ``numpy.random.
  RandomState`` and ``numpy.random.Generator`` become subclasses whose methods count
  (``isinstance`` against them still answers for every instance of NumPy's own
  classes), and ``numpy.random.default_rng`` returns one. An instance made before
  ``install``, or by a class imported by name before it, is not counted; one that is
  pickled (a spawned DataLoader worker) arrives as NumPy's own class.

A method that calls another (``Generator.choice`` calls ``self.permutation``; Python's
``uniform`` calls ``self.random``) is one call: nested ones are not counted. Not
counted either: an own ``random.Random``'s ``getrandbits`` (see ``_install_python``),
``random.SystemRandom`` (OS entropy, no stream to reproduce) and the
standard library's own instance in ``tempfile`` (names of temporary files and of
multiprocessing's locks: a DataLoader makes several, more or fewer by Python version).
"""
import functools
import random
import sys
import threading

import numpy as np

# Generator methods that are no module function's name (numpy.random.integers ...).
GENERATOR_ONLY = ("integers", "permuted")

# Modules whose own draws are the standard library's business, not the program's.
_QUIET_CALLERS = ("tempfile",)
# Instances whose draws are OS entropy: no stream to reproduce.
_NOT_COUNTED = (random.SystemRandom,)

_inside = threading.local()  # depth of own-generator calls running now


def _counting(name, func, skip, count, active):
    """``func`` (a method) counting its calls as ``name`` with ``count`` while ``active[0]``;
    calls on ``skip`` (the random module's own instance) pass straight through."""
    @functools.wraps(func)
    def drawn(self, *args, **kwargs):
        if self is skip or not active[0] or getattr(_inside, "depth", 0):
            return func(self, *args, **kwargs)
        if not isinstance(self, _NOT_COUNTED) and \
                sys._getframe(1).f_globals.get("__name__") not in _QUIET_CALLERS:
            count(name)
        _inside.depth = 1
        try:
            return func(self, *args, **kwargs)
        finally:
            _inside.depth = 0
    drawn.__rngdrift_own__ = func
    return drawn


def _passing(func):
    """``func`` as a plain Python method that counts nothing (see _install_python)."""
    @functools.wraps(func)
    def method(self, *args, **kwargs):
        return func(self, *args, **kwargs)
    method.__rngdrift_own__ = func
    return method


def _keeps_randbelow(cls):
    """Python 3.7 picks how ``_randbelow`` draws per call, by whether ``getrandbits`` is
    a plain method: a subclass that overrides only ``random()`` must keep seeing the
    built-in ``getrandbits`` (3.8+ decides once per class and needs nothing)."""
    for klass in cls.__mro__:
        if klass is random.Random:
            return
        if "getrandbits" in klass.__dict__:
            return
        if "random" in klass.__dict__:
            cls.getrandbits = random.Random.__bases__[0].getrandbits
            return


def _install_python(names, count, active):
    """Wrap ``random.Random``'s methods. ``getrandbits`` is left alone (every draw of an
    integer goes through it: counting would cost the module functions a frame each), except
    on Python 3.7, where ``_randbelow`` picks its algorithm per call by whether ``random``
    and ``getrandbits`` are plain methods: there both must be, or the stream changes."""
    cls = random.Random
    if getattr(cls, "__rngdrift_own__", False):
        return
    inst = getattr(random, "_inst", None)
    for attr in names:
        func = cls.__dict__.get(attr) or getattr(cls, attr, None)
        if func is None or hasattr(func, "__rngdrift_own__") or attr == "getrandbits":
            continue
        setattr(cls, attr, _counting("random." + attr, func, inst, count, active))
    if sys.version_info < (3, 8):
        cls.getrandbits = _passing(cls.getrandbits)

        def walk(klass):
            for sub in klass.__subclasses__():
                _keeps_randbelow(sub)
                walk(sub)
        walk(cls)
        original = cls.__dict__.get("__init_subclass__")

        def __init_subclass__(sub, **kwargs):
            if original is not None:
                original.__func__(sub, **kwargs)
            _keeps_randbelow(sub)
        cls.__init_subclass__ = classmethod(__init_subclass__)
    cls.__rngdrift_own__ = True


class _StandsFor(type):
    """The metaclass of a counting subclass: ``isinstance`` and ``issubclass`` against it
    answer as against the NumPy class it stands for."""

    def __instancecheck__(cls, obj):
        base = cls.__dict__.get("_stands_for")
        return isinstance(obj, base) if base is not None else type.__instancecheck__(cls, obj)

    def __subclasscheck__(cls, sub):
        base = cls.__dict__.get("_stands_for")
        return issubclass(sub, base) if base is not None else type.__subclasscheck__(cls, sub)


def _counting_class(base, names, count, active):
    # Named where it is found (numpy.random.RandomState): a pickled reference to the class
    # finds it there, and in a process without rngdrift finds NumPy's own.
    namespace = {"_stands_for": base, "__module__": "numpy.random", "__qualname__": base.__name__,
                 "__doc__": base.__doc__}
    for attr in names:
        func = getattr(base, attr, None)
        if func is not None:
            namespace[attr] = _counting("numpy.random." + attr, func, None, count, active)
    return _StandsFor(base.__name__, (base,), namespace)


def _own_default_rng(original, generator):
    @functools.wraps(original)
    def default_rng(*args, **kwargs):
        rng = original(*args, **kwargs)
        given = list(args) + list(kwargs.values())
        if type(rng) is generator.__bases__[0] and not any(rng is g for g in given):
            rng = generator(rng.bit_generator)  # the same bit generator: the same stream
        return rng
    default_rng.__rngdrift_own__ = original
    return default_rng


def _install_numpy(legacy, count, active):
    state = getattr(np.random, "RandomState", None)
    if state is not None and not isinstance(state, _StandsFor):
        np.random.RandomState = _counting_class(
            state, [n for n in legacy if n != "default_rng"], count, active)
    generator = getattr(np.random, "Generator", None)
    if generator is not None and not isinstance(generator, _StandsFor):
        np.random.Generator = _counting_class(
            generator, [n for n in legacy + GENERATOR_ONLY if n != "default_rng"], count, active)
        default_rng = getattr(np.random, "default_rng", None)
        if default_rng is not None and not hasattr(default_rng, "__rngdrift_own__"):
            np.random.default_rng = _own_default_rng(default_rng, np.random.Generator)


def install(count, active, python_names, numpy_names):
    """Once per process, before tracing wraps the module functions: ``count(api)`` counts
    an own-generator call while ``active[0]``; the names are the module functions'."""
    for part, names in ((_install_python, python_names), (_install_numpy, numpy_names)):
        try:
            part(tuple(names), count, active)
        except (AttributeError, TypeError):  # a build that refuses: those draws go unseen
            pass
