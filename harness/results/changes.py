"""The categories of ``rngdrift compare`` and the rules that move a difference out of
``changed``: a row of compare.csv (``Change``), what fails by default, and why a
difference may be ``unseeded``, ``platform`` or ``code-changed`` instead.

Kept apart from ``harness.compare`` (which finds the differences, renders and runs)
so the rules read on one screen and are tested on their own.
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from . import platforms
from ..cell.schema import CODE_METRICS, STATUS_METRIC
from .frames import SEEDED, generators_drawn

CATEGORIES = ("changed", "lost-repro", "gained-repro", "vanished", "appeared",
              "missing-cell", "new-cell", "pins-changed", "env-changed", "platform", "unseeded",
              "code-changed")
# A scenario that draws from a generator its seeding mode leaves unseeded (rng.torch = 1
# under `python` seeding, anything under `none`) promises no repeatability: two repeats
# can agree by chance (a pair consistency of 0.0 twice). Where it does so in both runs, a
# value or reproducibility that moves is listed as `unseeded`, not failed on. Where only
# the candidate draws unseeded, the move is a real regression and keeps its category.
DEFAULT_FAIL_ON = ("changed", "lost-repro", "vanished", "missing-cell", "pins-changed")
# A cell's exact pins: when they differ, the two runs did not test the same thing.
PIN_COLUMNS = ("torch", "torchvision", "numpy", "pillow")
# Where it ran: differs between a laptop baseline and a CI runner without being a change.
ENV_COLUMNS = PIN_COLUMNS + ("python", "device", "platform")


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


def shown(values: tuple) -> str:
    return " | ".join(v or "missing" for v in values)


def numbers_detail(kind: str, a: str, b: str) -> str:
    if kind != "number":
        return ""
    try:
        return f"|diff| = {abs(float(a) - float(b)):.3g}"
    except ValueError:
        return ""


def unseeded_draws(frame: pd.DataFrame) -> set[tuple[str, str, str]]:
    """(cell, scenario, seeding) whose results depend on a generator the mode does not seed."""
    return {key for key, generators in generators_drawn(frame).items()
            if not generators <= set(SEEDED.get(key[2], ()))}


def as_unseeded(change: Change, noise: set) -> Change:
    if change.category in ("changed", "lost-repro", "gained-repro") and change.run in noise \
            and change.metric != STATUS_METRIC:
        why = f"{change.category}, but the scenario draws from a generator " \
              f"{change.seeding or 'its mode'} leaves unseeded in both runs"
        return change._replace(category="unseeded",
                               detail=f"{why}; {change.detail}".rstrip("; "))
    return change


def as_platform(change: Change, dependence: platforms.Dependence, b_meta: pd.DataFrame,
                 c_meta: pd.DataFrame) -> Change:
    """A `changed` value of a cell that ran on two CPU classes, in a row the measured data
    says depends on the class, is `platform`; anything else keeps its category."""
    if change.category != "changed" or change.metric == STATUS_METRIC:
        return change
    why = platforms.explains(dependence, change.cell, change.scenario, change.metric,
                             b_meta.at[change.cell, "platform"], c_meta.at[change.cell, "platform"])
    return change._replace(category="platform", detail=f"{why}; {change.detail}".rstrip("; ")) \
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
            return r._replace(category="code-changed", detail="the scenario's code changed")
        return r._replace(category="code-changed",
                          detail=f"{r.category} with its code; {r.detail}".rstrip("; "))
    return [recategorised(r) for r in changes]
