"""Which bump did it: each row a check found changed, blamed on one package's move and,
where that package moved across several releases, on the first release that changes it.

    groups = plan(old_pins, new_pins, declared)      what moves, in groups that move as one
    result = Blame(old_pins, rows, groups, observe, releases, budget).run()

No installs here: ``observe(changes)`` gives what the changed rows measure in the old
environment with ``changes`` ({name: version}) applied, or uv's reason why that
environment cannot be installed (``harness.envs.blamerun`` builds and runs it);
``releases(group)`` the positions strictly between a group's two ends, oldest first.

The order (see docs/your-upgrade.md, "Which bump did it"):

1. **One group at a time from the old side.** The old environment with only that group
   at its new versions: a row that moves there moves because of that group alone, and
   every answer is against the same baseline, so the groups' answers do not depend on
   the order they are tried in. A row no single group moves is said to need the
   combination; a row two groups each move alone is said to be moved by both.
2. **Bisect the group's releases.** For a row one group moves, its releases between the
   two ends (the lock's torch/torchvision pairs; a package's releases from the index with
   wheels for the check's Python) are bisected, one environment per release tried,
   shared by every row: the first release whose environment moves the row. A release
   uv cannot install with the other pins is skipped (and said) and its neighbour tried.
   Bisection assumes a row, once moved, stays moved along the releases.

Every environment built counts against ``budget``; when it is spent, what is left is
said (a group not tried, a row known only to lie between two releases).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from ..matrix import envs
from ..results.changes import movement
from ..results.frames import NOT_SEEN, Observation, Tolerance

Key = tuple  # (scenario, seeding, metric)
# What one environment measured: {key: (kind, Observation)}; a str: why uv refused it.
Probe = dict
LEADS = ("torchvision",)  # of a group, the package whose releases are bisected (with its torch)
NAMES = {"numpy": "NumPy", "pillow": "Pillow", "torch": "torch", "torchvision": "torchvision"}

# A row's verdict.
BLAMED = "blamed"            # one group moves it alone
SEVERAL = "several"          # more than one group moves it alone
TOGETHER = "together"        # no group moves it alone: only the combined bump does
UNDETERMINED = "undetermined"  # no installable group moves it, and some group could not move alone
NOT_TRIED = "not-tried"      # the budget ran out before every group was tried


class BudgetSpent(Exception):
    """No environment left to build under ``--blame-budget``."""


def display(name: str) -> str:
    return NAMES.get(name, name)


@dataclasses.dataclass(frozen=True)
class Group:
    """Packages that move as one (torch with torchvision), with both ends' versions
    (None where a side lacks the package)."""
    names: tuple[str, ...]
    old: tuple[str | None, ...]
    new: tuple[str | None, ...]

    @property
    def lead(self) -> str:
        return next((n for n in LEADS if n in self.names), self.names[0])

    def ends(self) -> tuple[dict, dict]:
        return dict(zip(self.names, self.old)), dict(zip(self.names, self.new))

    def version(self, position: Mapping[str, str | None]) -> str:
        """A position named by its lead's version, the others after it: '0.7.0 with
        torch 1.6.0'."""
        others = [f"{display(n)} {position.get(n) or '(none)'}" for n in self.names
                  if n != self.lead]
        return (position.get(self.lead) or "(none)") + (f" with {', '.join(others)}"
                                                          if others else "")

    @property
    def label(self) -> str:
        """'torchvision 0.6.0 → 0.7.0 (with torch 1.5.0 → 1.6.0)'."""
        parts = [f"{display(n)} {o or '(none)'} → {w or '(removed)'}"
                 for n, o, w in zip(self.names, self.old, self.new)]
        lead = self.names.index(self.lead)
        rest = [p for i, p in enumerate(parts) if i != lead and self.old[i] != self.new[i]]
        return parts[lead] + (f" (with {', '.join(rest)})" if rest else "")


def plan(old: Mapping[str, str], new: Mapping[str, str], declared: set[str],
         together=envs.TOGETHER) -> tuple[list[Group], list[str]]:
    """(the groups to move: the packages that differ between the two resolutions that
    either side declares, torch with torchvision; the packages that differ but nobody
    declares: they follow, chosen by uv in each intermediate environment)."""
    a, b = envs.Env.make("", old), envs.Env.make("", new)
    groups, followers = [], []
    for names in envs.groups(a, b, together):
        if not set(names) & set(declared):
            followers += list(names)
            continue
        groups.append(Group(names, tuple(old.get(n) for n in names),
                            tuple(new.get(n) for n in names)))
    groups.sort(key=lambda g: (g.lead not in LEADS, g.lead))
    return groups, sorted(followers)


def bisect(count: int, moved: Callable[[int], bool | None]) -> tuple[int, int, list[int], bool]:
    """The first of positions 0..count-1 where ``moved`` is true, given that it is false
    at 0 and true at count-1: (low, high, refused, spent). ``moved(i)`` None: position i
    cannot be installed; the nearest other position between the bounds is tried
    instead. high is the first position known to move it, low the last known not to;
    high - low == 1 when the bisection found it, more when refusals or the budget
    (``moved`` raising BudgetSpent: ``spent``) left a range."""
    low, high, refused = 0, count - 1, []
    try:
        low, high, refused = _narrow(low, high, refused, moved)
    except BudgetSpent as stop:
        low, high = stop.args[0] if stop.args else (low, high)
        return low, high, refused, True
    return low, high, refused, False


def _narrow(low, high, refused, moved):
    while high - low > 1:
        middle = (low + high) // 2
        order = sorted(range(low + 1, high), key=lambda i: (abs(i - middle), i))
        answer = None
        for i in order:
            if i in refused:
                continue
            try:
                answer = moved(i)
            except BudgetSpent:
                raise BudgetSpent((low, high)) from None
            if answer is None:
                refused.append(i)
                continue
            if answer:
                high = i
            else:
                low = i
            break
        if answer is None:
            break
    return low, high, refused


@dataclasses.dataclass
class RowBlame:
    key: Key
    kind: str
    before: Observation
    after: Observation
    verdict: str
    groups: tuple[Group, ...] = ()
    first: str = ""          # the first release that moves it (a position's version)
    last_same: str = ""      # the last release known not to
    exact: bool = False      # first found (no range left)
    matches_new: bool = True  # the group alone gives the new side's value
    detail: str = ""


@dataclasses.dataclass
class GroupResult:
    group: Group
    refused: str = ""          # uv's reason the group cannot move alone
    tried: bool = False
    moved: list = dataclasses.field(default_factory=list)       # keys it moves alone
    releases: int = 0          # positions strictly between its ends
    skipped: list = dataclasses.field(default_factory=list)     # (version, reason) uv refused


@dataclasses.dataclass
class Result:
    groups: list[GroupResult]
    rows: list[RowBlame]
    followers: list[str]
    built: int
    budget: int
    spent: bool = False


class Blame:
    """One blame: ``run()`` moves each group alone, then bisects the groups that moved
    something; environments are built once each (``observe`` is asked once per set of
    changes)."""

    def __init__(self, old: Mapping[str, str], rows: dict, groups: list[Group],
                 observe: Callable[[dict], Probe | str], releases: Callable[[Group], list[dict]],
                 budget: int, followers=(), tol: Tolerance = Tolerance()):
        self.old, self.rows, self.groups = dict(old), rows, groups
        self._observe, self._releases = observe, releases
        self.budget, self.followers, self.tol = budget, list(followers), tol
        self.built, self.spent = 0, False
        self._probes: dict[frozenset, Probe | str] = {}

    def probe(self, changes: Mapping[str, str | None]) -> Probe | str:
        key = frozenset(changes.items())
        if key not in self._probes:
            if self.built >= self.budget:
                self.spent = True
                raise BudgetSpent()
            answer = self._observe(dict(changes))
            self.built += not isinstance(answer, str)
            self._probes[key] = answer
        return self._probes[key]

    def moves(self, key: Key, probe: Probe) -> bool:
        kind, before, _ = self.rows[key]
        return movement(kind, before, probe.get(key, (kind, NOT_SEEN))[1], self.tol) is not None

    def run(self) -> Result:
        results = [GroupResult(g) for g in self.groups]
        alone: dict[int, Probe] = {}
        for i, result in enumerate(results):
            try:
                answer = self.probe(result.group.ends()[1])
            except BudgetSpent:
                break
            result.tried = True
            if isinstance(answer, str):
                result.refused = answer
                continue
            alone[i] = answer
            result.moved = [k for k in self.rows if self.moves(k, answer)]
        rows = [self._verdict(key, results, alone) for key in self.rows]
        for i, result in enumerate(results):
            mine = [r for r in rows if r.verdict == BLAMED and r.groups == (result.group,)]
            if mine:
                self._bisect(result, mine)
        return Result(results, rows, self.followers, self.built, self.budget, self.spent)

    def _verdict(self, key: Key, results: list[GroupResult], alone: dict) -> RowBlame:
        kind, before, after = self.rows[key]
        row = RowBlame(key, kind, before, after, TOGETHER)
        movers = [results[i].group for i in alone if key in results[i].moved]
        if movers:
            row.verdict = BLAMED if len(movers) == 1 else SEVERAL
            row.groups = tuple(movers)
            if len(movers) == 1:
                i = next(i for i in alone if results[i].group == movers[0])
                got = alone[i].get(key, (kind, NOT_SEEN))[1]
                row.matches_new = movement(kind, got, after, self.tol) is None
            for group in movers:
                row.first, row.last_same = group.version(group.ends()[1]), \
                    group.version(group.ends()[0])
        elif any(not r.tried for r in results):
            row.verdict = NOT_TRIED
        elif any(r.refused for r in results):
            row.verdict = UNDETERMINED
        return row

    def _bisect(self, result: GroupResult, rows: list[RowBlame]) -> None:
        group = result.group
        old, new = group.ends()
        try:
            between = self._releases(group)
        except Exception as exc:  # an index that cannot be read: the ends stand
            for row in rows:
                row.detail = f"releases of {display(group.lead)} not listed ({exc})"
            return
        positions = [old, *between, new]
        result.releases = len(between)
        for row in rows:
            row.exact = not between
            if not between:
                continue

            def moved(i: int, row=row) -> bool | None:
                answer = self.probe(positions[i])
                if isinstance(answer, str):
                    found = (group.version(positions[i]), answer)
                    if found not in result.skipped:
                        result.skipped.append(found)
                    return None
                return self.moves(row.key, answer)
            low, high, _, spent = bisect(len(positions), moved)
            if spent:
                row.detail = "the budget ran out before the bisection ended"
            row.first, row.last_same = group.version(positions[high]), group.version(positions[low])
            row.exact = high - low == 1
