"""The cause catalog: known upstream changes that move random streams (``causes.csv``).

Each row names a release of torch, torchvision, NumPy, Pillow, CPython or another
package of the stack (albumentations, pytorch-lightning: a cell id names its pin), the scenarios
where its change shows, the random APIs the draws moved between, one line on what
changed and what to do, and the release note, issue or PR that documents it
(``causes.md`` says how every entry was checked). A change that matches no row is
reported as unexplained, never guessed at.
"""
from __future__ import annotations

import csv
import dataclasses
import fnmatch
import re
from functools import lru_cache
from pathlib import Path

from ..matrix import compat

CATALOG = Path(__file__).with_name("causes.csv")


@dataclasses.dataclass(frozen=True)
class Cause:
    id: str
    package: str          # torch, torchvision, numpy, python, pillow, or any PEP 503 name
    version: str          # the first release with the change
    apis: tuple[str, ...]
    draws_before: tuple[str, ...]
    draws_after: tuple[str, ...]
    scenarios: tuple[str, ...]   # fnmatch globs
    platform: str         # "", "cpu-vendor", "cuda"
    what: str
    fix: str
    link: str
    # scenarios that apply ``fix`` (globs): where one reproduces after the change, the
    # advice is verified by the run itself (``Compose(seed=)`` for albumentations 1.4.21)
    fix_scenarios: tuple[str, ...] = ()

    def crossed(self, before: dict[str, str], after: dict[str, str]) -> bool:
        """Whether a step from versions ``before`` to ``after`` brings this change in."""
        old, new = before.get(self.package), after.get(self.package)
        if not old or not new:
            return False
        return _padded(old) < _padded(self.version) <= _padded(new)

    def covers(self, scenario: str) -> bool:
        return any(fnmatch.fnmatchcase(scenario, glob) for glob in self.scenarios)


@lru_cache(maxsize=None)
def _padded(version: str) -> tuple[int, ...]:
    """(3, 11, 0) for '3.11': versions compare by release, missing parts are 0."""
    parts = compat._version(version)
    return parts + (0,) * (3 - len(parts))


# Not an upstream change: the `full` mode's recipe (PyTorch's reproducibility notes)
# hands DataLoaders a seeded generator where the version has DataLoader(generator=).
HARNESS_RECIPE = Cause(
    id="rngdrift-full-recipe", package="torch", version="1.6.0",
    apis=("DataLoader",), draws_before=(), draws_after=(), scenarios=("*",), platform="",
    what="the full seeding recipe (PyTorch's reproducibility notes) passes DataLoader a seeded "
         "generator= from torch 1.6, where that argument appeared: the change is in the recipe "
         "a program follows, not in torch or in your code",
    fix="in a program with several processes (DDP ranks), seed each process's DataLoader "
        "generator differently (seed + rank), or its workers repeat each other's draws",
    link="https://pytorch.org/docs/stable/notes/randomness.html#dataloader")


@lru_cache(maxsize=None)
def load(path: Path = CATALOG) -> tuple[Cause, ...]:
    with open(path, newline="", encoding="utf-8") as handle:
        return tuple(Cause(
            id=r["id"], package=r["package"], version=r["version"],
            apis=tuple(r["apis"].split()), draws_before=tuple(r["draws_before"].split()),
            draws_after=tuple(r["draws_after"].split()), scenarios=tuple(r["scenarios"].split()),
            platform=r["platform"], what=r["what"], fix=r["fix"], link=r["link"],
            fix_scenarios=tuple(r["fix_scenarios"].split()))
            for r in csv.DictReader(handle))


@dataclasses.dataclass(frozen=True)
class Step:
    """What one upgrade step shows for one (scenario, seeding): the versions on each side
    and how its draws moved there. Matching reads nothing else, so a user's code is
    matched exactly like a canonical scenario (the name only breaks ties)."""
    scenario: str
    before: dict            # {package: version} of the step's first cell
    after: dict             # ... of its second cell
    moved: dict             # {api: (calls before, calls after)} where the count changed
    called: frozenset       # the random APIs the code called on either side
    generators: dict = dataclasses.field(default_factory=dict)  # {api: (gen before, after)}
    failure: str = ""       # the error of a side that raised, if one did

    @property
    def fell(self) -> set[str]:
        return {api.rpartition(" ")[2] for api, (b, a) in self.moved.items() if a < b}

    @property
    def rose(self) -> set[str]:
        return {api.rpartition(" ")[2] for api, (b, a) in self.moved.items() if a > b}


@dataclasses.dataclass(frozen=True)
class Match:
    """The cause the step's evidence points at, or the catalogued changes of the step
    that touch what the code calls (``candidates``) when nothing points at one."""
    cause: Cause | None = None
    candidates: tuple = ()
    how: str = ""           # why this cause: "draws", "generator", "apis", "error", "scenario"


_QUOTED = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)'")


def _apis(cause: Cause) -> set[str]:
    return set(cause.apis) | set(cause.draws_before) | set(cause.draws_after)


def _touches(cause: Cause, called) -> bool:
    """Whether the code called an API the row names (a row naming a module, such as
    ``numpy.random``, names every function in it)."""
    names = _apis(cause)
    return any(api in names or any(api.startswith(n + ".") for n in names if "." in n)
               for api in called)


_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception|Warning))\b")


def _evidence(cause: Cause, step: Step) -> tuple[int, str]:
    """(strength, how) of what ties ``cause`` to ``step``: 3 the draws moved the way the
    row says (or an API it names changed generator); 2 part of that, with the code
    calling what the row names; 1 same calls, and the code calls an API the row names;
    0 nothing."""
    fell = step.fell & set(cause.draws_before)
    rose = step.rose & set(cause.draws_after)
    if step.failure:
        words = set(_QUOTED.findall(step.failure))
        text = f"{cause.what} {' '.join(cause.apis)}"
        raised = set(_EXCEPTION.findall(step.failure))
        if any(re.search(rf"\b{re.escape(w)}\b", text) for w in words | raised) or any(
                api in step.failure for api in cause.apis if "." in api):
            return 3, "error"
        if not cause.draws_before and _touches(cause, step.called):
            return 1, "apis"
        return 0, ""
    if _touches(cause, {api.rpartition(" ")[2] for api in step.generators}):
        return 3, "generator"
    if cause.draws_before or cause.draws_after:
        if fell and rose:
            return 3, "draws"
        if (fell or rose) and (_touches(cause, step.called) or cause.covers(step.scenario)):
            return 2, "draws"
        return 0, ""
    switched = any(b == 0 or a == 0 for b, a in step.moved.values())
    if not switched and _touches(cause, step.called):
        return 1, "apis"
    return 0, ""


def match(step: Step, causes: tuple[Cause, ...] | None = None) -> Match:
    """The cause of a change at ``step``: a catalogued change that the step crosses (its
    package moved past the release) and that the step's evidence ties to it
    (``_evidence``). Strong evidence (the draws moved as the row says, or an API it names
    drew from another generator) decides; a row that only names APIs the code calls is
    the cause only when it names this scenario; else the step's rows that touch what the
    code calls are listed as ``candidates`` (a call alone does not show the change moved
    the numbers). A row
    naming the scenario but with nothing in the draws to tie it counts only where the
    row has no draws to check (a kernel change of an API the scenario does not trace).
    """
    causes = causes if causes is not None else load()
    crossed = [(i, c) for i, c in enumerate(causes) if c.crossed(step.before, step.after)]
    scored = []
    for i, cause in crossed:
        strength, how = _evidence(cause, step)
        if strength == 0 and cause.covers(step.scenario) and not (
                cause.draws_before or cause.draws_after or step.failure or step.moved):
            strength, how = 1, "scenario"
        if strength:
            explained = len(step.fell & set(cause.draws_before)) + \
                len(step.rose & set(cause.draws_after))
            scored.append(((strength, cause.covers(step.scenario), explained, -i), how, cause))
    if not scored:
        return Match()
    scored.sort(key=lambda s: s[0], reverse=True)
    (strength, named, _, _), how, best = scored[0]
    weak = [c for (st, *_), _, c in scored if st == 1]
    if strength >= 2 or named:
        return Match(best, how=how)
    return Match(candidates=tuple(weak))
