"""Scenario registration, version gating and selection.

A scenario module registers functions with ``@scenario``; the runner does the
rest (seeding, timing, error capture, RNG bookkeeping)::

    from rngdrift import scenario          # the public name of this decorator

    @scenario("pairs.hflip", torchvision=">=0.3")
    def hflip(ctx):
        ...
        return {"pair_consistency": 1.0}

Scenario modules, built-in and the users' own (``--scenarios PATH``), are
imported by ``harness.cell.loader``; this module only keeps what they register.
"""
import fnmatch
import hashlib
import os

from . import versions
from .schema import GOALS, name_problem


# What every cell reports of itself (``environment.installed_versions``); the scenario
# gates on any other distribution look it up.
OWN_PACKAGES = ("python", "torch", "torchvision", "numpy", "pillow")


class NotApplicable(Exception):
    """Raise from a scenario when this version/environment lacks what it needs."""


class ScenarioFailed(Exception):
    """Raise from a scenario to make it an ``error`` row whose detail is the message as
    it is (a user's script that exited with code 2, a test file pytest cannot collect)."""


class RegistrationError(Exception):
    pass


class DuplicateScenario(RegistrationError):
    """A name registered twice; the message names both places."""


class Scenario(object):
    def __init__(self, name, func, requires, cuda, timeout, goals=None):
        self.name = name
        self.func = func
        self.requires = requires
        self.cuda = cuda
        self.timeout = timeout
        self.goals = dict(goals or {})  # metric -> "up"/"down": what correctness means
        self.module = func.__module__
        code = getattr(func, "__code__", None)
        self.filename = code.co_filename if code else None
        self.source = "%s:%s" % (code.co_filename, code.co_firstlineno) if code else self.module
        # The user's files this scenario runs (None for the canonical ones): their
        # closure's hash is its ``code.sha256`` row (see codeid.py); ``code_search``:
        # folders its imports are looked up in before sys.path.
        self.code_files = None
        self.code_search = ()
        self.user = False  # the user's own (a file of theirs, --call, --script ...)
        self.forks = False  # runs the user's program in a fork (--script, --pytest)
        self.invalid = None  # why the name it was registered with cannot be used

    @property
    def family(self):
        return self.name.split(".", 1)[0]

    def unmet(self, installed):
        """Reason this scenario cannot run here, or None. ``installed``: the cell's
        python/torch/torchvision/numpy/pillow; any other distribution a scenario
        requires (albumentations, pytorch-lightning) is looked up as installed."""
        for package, spec in sorted(self.requires.items()):
            have = installed.get(package) if package in installed or package in OWN_PACKAGES \
                else versions.distribution(package)
            if have is None:
                return "needs %s %s; not installed" % (package, spec)
            if not versions.satisfies(have, spec):
                return "needs %s%s; cell has %s" % (package, spec, have)
        if self.cuda and not installed.get("cuda"):
            return "no CUDA device"
        return None


SCENARIOS = {}  # name -> Scenario, in registration order (dicts keep order on 3.7)


def scenario(name, torch=None, torchvision=None, python=None, numpy=None,
             cuda=False, timeout=None, goals=None, pillow=None, requires=None):
    """Register a scenario. Version specs like '>=0.8' or '>=1.6,<2.0'; ``requires``
    gates on any other distribution, e.g. ``requires={"albumentations": ">=1.4.21"}``
    (without it installed, or older, the scenario is ``n/a`` with the reason).

    ``goals`` names the metrics that measure correctness and which way is good,
    e.g. ``{"pair_consistency": "up", "duplicate_fraction": "down"}``: a change the
    wrong way is reported as broken, not as drift, and the seeding advice keeps them.
    """
    requires = dict((versions.normalize(package), spec)
                    for package, spec in sorted((requires or {}).items()))
    for package, spec in (("torch", torch), ("torchvision", torchvision),
                          ("python", python), ("numpy", numpy), ("pillow", pillow)):
        if spec:
            requires[package] = spec

    invalid = name_problem(name, "scenario")
    if invalid:
        # The scenario becomes an error row under a stand-in name (the same in every
        # cell); everything else in its file, and the run, goes on.
        name = "invalid." + hashlib.sha256(repr(name).encode("utf-8")).hexdigest()[:12]
    for metric, direction in sorted((goals or {}).items()):
        if name_problem(metric, "metric") or direction not in GOALS:
            raise RegistrationError("scenario %r: goals want {metric: 'up' or 'down'}, got %r: %r"
                                    % (name, metric, direction))
    for package, spec in requires.items():
        try:
            versions.satisfies("0", spec)
        except ValueError:
            raise RegistrationError("scenario %r: bad %s version spec %r (use e.g. '>=1.8' "
                                    "or '>=0.8,<0.15')" % (name, package, spec))

    def register(func):
        if name in SCENARIOS:
            first, again = SCENARIOS[name], Scenario(name, func, {}, False, None)
            if first.source == again.source and first.module != again.module:
                raise DuplicateScenario(
                    "scenario %r registered twice: %s ran twice, as modules %s and %s "
                    "(import it by one name)" % (name, short_path(first.source), first.module,
                                                 again.module))
            raise DuplicateScenario("scenario %r registered twice: at %s and at %s" % (
                name, short_path(first.source), short_path(again.source)))
        SCENARIOS[name] = Scenario(name, func, requires, cuda, timeout, goals)
        if invalid:
            SCENARIOS[name].invalid = "%s (registered at %s); rename it" % (
                invalid, short_path(SCENARIOS[name].source))
        return func
    return register


def add(name, func, source, filename=None, timeout=None, goals=None):
    """Register a scenario rngdrift made from a user's code (``--call``, ``--script`` ...):
    ``func`` is rngdrift's wrapper; ``source`` ('file:line') and ``filename`` say where
    the user's code is; ``goals`` as for ``scenario``. RegistrationError for a bad or
    taken name."""
    problem = name_problem(name, "scenario")
    if problem:
        raise RegistrationError(problem)
    if name in SCENARIOS:
        raise DuplicateScenario("scenario %r registered twice: at %s and at %s" % (
            name, short_path(SCENARIOS[name].source), short_path(source)))
    sc = Scenario(name, func, {}, False, timeout, goals)
    sc.source, sc.filename = source, filename
    SCENARIOS[name] = sc
    return sc


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


def short_path(path):
    """``path`` relative to the working directory when it lies below it."""
    path = str(path)
    here = os.getcwd() + os.sep
    return path[len(here):] if path.startswith(here) else path
