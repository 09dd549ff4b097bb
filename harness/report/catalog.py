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

    def crossed(self, before: dict[str, str], after: dict[str, str]) -> bool:
        """Whether a step from versions ``before`` to ``after`` brings this change in."""
        old, new = before.get(self.package), after.get(self.package)
        if not old or not new:
            return False
        return _padded(old) < _padded(self.version) <= _padded(new)

    def covers(self, scenario: str) -> bool:
        return any(fnmatch.fnmatchcase(scenario, glob) for glob in self.scenarios)

    def fits_draws(self, moved: dict[str, tuple[int, int]]) -> bool:
        """Whether the attribution agrees. A change of where draws come from needs some
        of ``draws_before`` to have fallen or some of ``draws_after`` to have risen; a
        change of kernels, generators or sampling needs the same APIs called on both
        sides (their counts may differ: a sampler drawing twice)."""
        apis = {api.rpartition(" ")[2]: counts for api, counts in moved.items()}
        if not self.draws_before and not self.draws_after:
            return not any(b == 0 or a == 0 for b, a in apis.values())
        fell = {api for api, (b, a) in apis.items() if a < b}
        rose = {api for api, (b, a) in apis.items() if a > b}
        return bool(fell & set(self.draws_before)) or bool(rose & set(self.draws_after))


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
            platform=r["platform"], what=r["what"], fix=r["fix"], link=r["link"])
            for r in csv.DictReader(handle))


def match(scenario: str, before: dict[str, str], after: dict[str, str],
          moved: dict[str, tuple[int, int]], causes: tuple[Cause, ...] | None = None) -> Cause | None:
    """The cause of a change of ``scenario`` between cells with versions ``before`` and
    ``after`` ({package: version}), given how its API calls ``moved`` ({api: (before,
    after)} for the calls whose count changed); None when nothing in the catalog fits.

    A row counts when the step crosses its release, its scenarios cover this one and
    its draws agree with the attribution (a row about draws that moved needs them to
    have moved that way; a row about a kernel needs the calls to have stayed). The
    first such row wins.

    Where no row naming the scenario fits (always, for the user's own code: ``--call``,
    ``--script`` ...), it is matched by its draws alone: a row about draws that moved
    counts when some of its ``draws_before`` fell *and* some of its ``draws_after``
    rose; of several, the one that explains the most moved calls (then the earliest).
    """
    causes = causes if causes is not None else load()
    found = next((c for c in causes if c.covers(scenario) and c.crossed(before, after)
                  and c.fits_draws(moved)), None)
    if found:
        return found
    fell = {api.rpartition(" ")[2] for api, (b, a) in moved.items() if a < b}
    rose = {api.rpartition(" ")[2] for api, (b, a) in moved.items() if a > b}
    fits = [(len(fell & set(c.draws_before)) + len(rose & set(c.draws_after)), -i, c)
            for i, c in enumerate(causes)
            if c.draws_before and c.draws_after and c.crossed(before, after)
            and fell & set(c.draws_before) and rose & set(c.draws_after)]
    return max(fits, key=lambda f: f[:2])[2] if fits else None
