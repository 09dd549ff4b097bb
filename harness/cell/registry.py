"""Scenario registration, version gating and selection.

A scenario module registers functions with ``@scenario``; the runner does the
rest (seeding, timing, error capture, RNG bookkeeping)::

    from harness.cell.registry import scenario

    @scenario("pairs.hflip", torchvision=">=0.3")
    def hflip(ctx):
        ...
        return {"pair_consistency": 1.0}
"""
import fnmatch
import importlib
import importlib.util
import os
import pkgutil
import sys

from . import versions


class NotApplicable(Exception):
    """Raise from a scenario when this version/environment lacks what it needs."""


class RegistrationError(Exception):
    pass


class Scenario(object):
    def __init__(self, name, func, requires, cuda, timeout):
        self.name = name
        self.func = func
        self.requires = requires
        self.cuda = cuda
        self.timeout = timeout
        self.module = func.__module__
        code = getattr(func, "__code__", None)
        self.source = "%s:%s" % (code.co_filename, code.co_firstlineno) if code else self.module

    @property
    def family(self):
        return self.name.split(".", 1)[0]

    def unmet(self, installed):
        """Reason this scenario cannot run here, or None."""
        for package, spec in sorted(self.requires.items()):
            have = installed.get(package)
            if have is None:
                return "needs %s %s; not installed" % (package, spec)
            if not versions.satisfies(have, spec):
                return "needs %s%s; cell has %s" % (package, spec, have)
        if self.cuda and not installed.get("cuda"):
            return "no CUDA device"
        return None


SCENARIOS = {}  # name -> Scenario, in registration order (dicts keep order on 3.7)


def scenario(name, torch=None, torchvision=None, python=None, numpy=None,
             cuda=False, timeout=None):
    """Register a scenario. Version specs like '>=0.8' or '>=1.6,<2.0'."""
    requires = {}
    for package, spec in (("torch", torch), ("torchvision", torchvision),
                          ("python", python), ("numpy", numpy)):
        if spec:
            requires[package] = spec

    def register(func):
        if name in SCENARIOS:
            raise RegistrationError("scenario %r registered twice (%s and %s)" % (
                name, SCENARIOS[name].source, Scenario(name, func, {}, False, None).source))
        SCENARIOS[name] = Scenario(name, func, requires, cuda, timeout)
        return func
    return register


def load_builtin():
    """Import every module of the ``scenarios`` package (registers its scenarios)."""
    import scenarios
    for info in sorted(pkgutil.iter_modules(scenarios.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):  # private helpers, not scenario modules
            continue
        importlib.import_module("scenarios." + info.name)


def select(names, only=(), skip=()):
    """Names kept by ``only`` globs (all when empty) minus ``skip`` globs, in order."""
    kept = []
    for name in names:
        if only and not any(fnmatch.fnmatchcase(name, pat) for pat in only):
            continue
        if any(fnmatch.fnmatchcase(name, pat) for pat in skip):
            continue
        kept.append(name)
    return kept


def installed_versions():
    import numpy
    import PIL
    import torch
    import torchvision
    return {
        "python": "%d.%d.%d" % sys.version_info[:3],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "pillow": getattr(PIL, "__version__", None) or getattr(PIL, "PILLOW_VERSION", "?"),
        "cuda": torch.cuda.is_available(),
    }


def load_paths(paths):
    """Import user scenario files or packages (each registers its scenarios).

    A file is imported under a private module name; a package directory is
    imported by its name with its parent on ``sys.path``, submodules included.
    """
    for path in paths:
        path = os.path.abspath(path)
        if os.path.isdir(path):
            parent, name = os.path.split(path.rstrip(os.sep))
            if parent not in sys.path:
                sys.path.insert(0, parent)
            package = importlib.import_module(name)
            for info in pkgutil.walk_packages(package.__path__, name + "."):
                importlib.import_module(info.name)
        else:
            stem = os.path.splitext(os.path.basename(path))[0]
            module_name = "rngdrift_user_" + "".join(c if c.isalnum() else "_" for c in stem)
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None:
                raise RegistrationError("%s: not a Python file" % path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
