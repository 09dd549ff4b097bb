"""What changed between two cells: the one comparison core, and its vocabulary.

    movement(kind, before, after, tol)   how one (scenario, seeding, metric) moved
    deltas(observed, before, after, tol) every ``Delta`` from one cell to another

``rngdrift compare`` (two runs, cell by cell), the night's headline (the two newest
cells) and the report's findings (neighbouring cells, or an upgrade's two ends) are
projections of these deltas: what counts as a change is decided here, once, in one
vocabulary (``Movement``). Compare adds its categories (``Category``: the movements
plus where a run's cells, pins or environment differ, and why a difference may be
``unseeded``, ``platform`` or ``code-changed`` instead); the report judges a delta's
severity (``harness.report.severity``).
"""
from __future__ import annotations

import dataclasses
import enum
from typing import NamedTuple

from . import platforms
from ..cell import modes
from ..cell.schema import CODE_METRICS, OK, STATUS_METRIC
from .frames import NOT_SEEN, Observation, Tolerance, generators_drawn, same


class Movement(enum.Enum):
    """How one (scenario, seeding, metric) moved from one side to the other."""
    CHANGED = "changed"            # reproducible on both sides, the values differ
    LOST_REPRO = "lost-repro"      # the repeats agreed before and do not now
    GAINED_REPRO = "gained-repro"  # the repeats agree now and did not before
    NOW_FAILS = "now-fails"        # ran (or did not apply) before, raises or hangs now
    NOW_WORKS = "now-works"        # raised or hung before, runs now
    APPEARED = "appeared"          # did not apply (or did not exist) before, runs now
    VANISHED = "vanished"          # ran before, does not apply (or does not exist) now


def movement(kind: str, before: Observation, after: Observation,
             tol: Tolerance) -> Movement | None:
    """How a row measured on both sides moved; None when nothing a reader would call a
    change happened (equal values, random on both sides, n/a on both sides)."""
    if before.failed != after.failed:
        return Movement.NOW_FAILS if after.failed else (
            Movement.VANISHED if after.state != OK else Movement.NOW_WORKS)
    if before.failed:
        return None
    if before.state != after.state:
        return Movement.APPEARED if after.state == OK else Movement.VANISHED
    if before.state != OK:
        return None
    if before.agreed and after.agreed:
        return None if same(kind, before.values[0], after.values[0], tol) else Movement.CHANGED
    if before.agreed:
        return Movement.LOST_REPRO
    if after.agreed:
        return Movement.GAINED_REPRO
    return None  # random on both sides: nothing to compare


@dataclasses.dataclass(frozen=True)
class Delta:
    """One (scenario, seeding, metric) that moved from ``before_cell`` to ``after_cell``."""
    scenario: str
    seeding: str
    metric: str
    kind: str
    before_cell: str
    after_cell: str
    before: Observation
    after: Observation
    movement: Movement

    @property
    def run(self) -> tuple[str, str]:
        return self.scenario, self.seeding

    @property
    def key(self) -> tuple[str, str, str]:
        return self.scenario, self.seeding, self.metric


def deltas(observed: dict, kinds: dict, before_cell: str, after_cell: str,
           tol: Tolerance) -> list[Delta]:
    """Every row of ``observed`` ({(scenario, seeding, metric): {cell: Observation}})
    measured in both cells that moved between them (``kinds``: each row's kind)."""
    out = []
    for key, cells in observed.items():
        before, after = cells.get(before_cell, NOT_SEEN), cells.get(after_cell, NOT_SEEN)
        if not before.measured or not after.measured:
            continue
        moved = movement(kinds[key], before, after, tol)
        if moved is not None:
            out.append(Delta(*key, kinds[key], before_cell, after_cell, before, after, moved))
    return out


def unseeded(drawn: dict, cell: str, scenario: str, seeding: str) -> frozenset[str]:
    """Generators the results of (cell, scenario, seeding) depend on that its mode
    leaves unseeded (``drawn``: ``frames.generators_drawn``)."""
    return drawn.get((cell, scenario, seeding), frozenset()) - modes.seeded(seeding)


# -- compare's categories -----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Category:
    """A row category of ``rngdrift compare``; ``fails``: in the default --fail-on."""
    name: str
    fails: bool
    words: str


def _category(name, fails, words):
    return Category(name, fails, words)


CATEGORY_RECORDS = (
    _category(Movement.CHANGED.value, True, "both sides reproducible, values differ"),
    _category(Movement.LOST_REPRO.value, True, "the baseline's repeats agreed, the candidate's "
                                               "do not"),
    _category(Movement.GAINED_REPRO.value, False, "the baseline's repeats disagreed, the "
                                                  "candidate's agree"),
    _category(Movement.NOW_FAILS.value, True, "a scenario (or a whole cell) that ran now "
                                              "raises, hangs or fails to install"),
    _category(Movement.NOW_WORKS.value, False, "a scenario (or cell) that failed now runs"),
    _category(Movement.VANISHED.value, True, "a key only in the baseline, or a scenario that "
                                             "no longer applies"),
    _category(Movement.APPEARED.value, False, "a key only in the candidate, or a scenario that "
                                              "now applies"),
    _category("missing-cell", True, "a cell only in the baseline"),
    _category("new-cell", False, "a cell only in the candidate"),
    _category("pins-changed", True, "a shared cell's torch/torchvision/numpy/pillow differ"),
    _category("env-changed", False, "a shared cell's python patch release, device or platform "
                                    "differ"),
    _category("platform", False, "a value that depends on the CPU class, where the cell ran on "
                                 "two classes"),
    _category("unseeded", False, "moved in a scenario that draws from a generator its seeding "
                                 "mode leaves unseeded, in both runs"),
    _category("code-changed", False, "a user scenario's own code changed, and what moved "
                                     "with it"),
)
CATEGORY = {c.name: c for c in CATEGORY_RECORDS}
CATEGORIES = tuple(c.name for c in CATEGORY_RECORDS)
DEFAULT_FAIL_ON = tuple(c.name for c in CATEGORY_RECORDS if c.fails)
# What --fail-on takes besides category names: every category, or none.
ALL_CATEGORIES, NO_CATEGORY = "all", "none"
MISSING_CELL, NEW_CELL, PINS_CHANGED, ENV_CHANGED, PLATFORM, UNSEEDED, CODE_CHANGED = (
    "missing-cell", "new-cell", "pins-changed", "env-changed", "platform", "unseeded",
    "code-changed")
# A cell's exact pins: when they differ, the two runs did not test the same thing.
PIN_COLUMNS = ("torch", "torchvision", "numpy", "pillow")
# Where it ran: differs between a laptop baseline and a CI runner without being a change.
ENV_COLUMNS = PIN_COLUMNS + ("python", "device", "platform")
# A move of values or reproducibility: what `unseeded`, `platform` and `code-changed` take.
_VALUE_MOVES = (Movement.CHANGED.value, Movement.LOST_REPRO.value, Movement.GAINED_REPRO.value)
_KEYS_MOVES = (Movement.VANISHED.value, Movement.APPEARED.value)


class Change(NamedTuple):
    """One row of compare.csv."""
    category: str
    cell: str
    scenario: str
    seeding: str
    metric: str
    kind: str
    baseline: str
    candidate: str
    detail: str

    @property
    def run(self) -> tuple[str, str, str]:
        """(cell, scenario, seeding): the scenario run this change belongs to."""
        return self.cell, self.scenario, self.seeding


COLUMNS = list(Change._fields)


def numbers_detail(kind: str, a, b) -> str:
    if not isinstance(a, float) or not isinstance(b, float):
        return ""
    return f"|diff| = {abs(a - b):.3g}"


def unseeded_draws(loaded) -> set[tuple[str, str, str]]:
    """(cell, scenario, seeding) whose results depend on a generator the mode does not seed."""
    return {key for key, generators in generators_drawn(loaded).items()
            if not generators <= modes.seeded(key[2])}


def as_unseeded(change: Change, noise: set) -> Change:
    if change.category in _VALUE_MOVES and change.run in noise and change.metric != STATUS_METRIC:
        why = f"{change.category}, but the scenario draws from a generator " \
              f"{change.seeding or 'its mode'} leaves unseeded in both runs"
        return change._replace(category=UNSEEDED, detail=f"{why}; {change.detail}".rstrip("; "))
    return change


def as_platform(change: Change, dependence: platforms.Dependence, b_platform: dict,
                c_platform: dict) -> Change:
    """A `changed` value of a cell that ran on two CPU classes, in a row the measured data
    says depends on the class, is `platform`; anything else keeps its category."""
    if change.category != Movement.CHANGED.value or change.metric == STATUS_METRIC:
        return change
    why = platforms.explains(dependence, change.cell, change.scenario, change.metric,
                             b_platform[change.cell], c_platform[change.cell])
    return change._replace(category=PLATFORM, detail=f"{why}; {change.detail}".rstrip("; ")) \
        if why else change


def under_code_changes(changes: list[Change]) -> list[Change]:
    """A scenario run whose code identity row moved: that row and the other moves of
    the run (values, reproducibility, metrics that came or went) become
    ``code-changed``; its status changes keep their category."""
    moved = {r.run for r in changes if r.metric in CODE_METRICS}

    def recategorised(r: Change) -> Change:
        if r.run not in moved or r.metric == STATUS_METRIC:
            return r
        if r.metric in CODE_METRICS:
            return r._replace(category=CODE_CHANGED, detail="the scenario's code changed")
        return r._replace(category=CODE_CHANGED,
                          detail=f"{r.category} with its code; {r.detail}".rstrip("; "))
    return [recategorised(r) for r in changes]


def keys_move(category: str) -> bool:
    """A key that exists on one side only (``vanished``, ``appeared``)."""
    return category in _KEYS_MOVES
