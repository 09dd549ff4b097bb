"""Severities: what a change means for a user, as records, most serious first.

A severity judges one ``Delta`` of the comparison core (``harness.results.changes``):
where it only restates how the row moved, it carries the movement's own name
(``now-fails``, ``lost-repro``, ``gained-repro``, ``appeared`` ...), so the report,
findings.csv, findings.json and ``rngdrift compare`` speak one vocabulary. The
judged ones add what the rows alone do not say: a goal got worse (``broken``) or
better (``fixed-upstream``), a reproducible value moved (``drift``), the draws are
unseeded on both sides (``unseeded``), rngdrift's own recipe changed (``harness``).

``group`` says where a finding goes: ``actionable`` ones are the verdict, ``good``
news is counted as good news, ``folded`` ones sit below the rest, never on the first
screen. Severities are ranked (their order here is how serious they are), unlike
seeding modes.
"""
from __future__ import annotations

import dataclasses

from ..results.changes import UNSEEDED as UNSEEDED_CATEGORY, Movement

ACTIONABLE, GOOD, FOLDED = "actionable", "good", "folded"


@dataclasses.dataclass(frozen=True)
class Severity:
    name: str
    heading: str        # "Broken": a finding's title
    plural: str         # "3 broken": the verdict's count
    words: str          # the legend
    group: str          # actionable, good, folded
    colour: str         # badge and heatmap colour
    ink: str = "#111"   # text on that colour

    @property
    def actionable(self) -> bool:
        return self.group == ACTIONABLE

    @property
    def folded(self) -> bool:
        return self.group == FOLDED

    @property
    def good(self) -> bool:
        return self.group == GOOD


SEVERITIES = (
    Severity("broken", "Broken", "broken", "a correctness goal got worse", ACTIONABLE,
             "#d7263d", "#fff"),
    Severity(Movement.NOW_FAILS.value, "Now fails", "now failing",
             "it ran before; now it raises or hangs", ACTIONABLE, "#8e0e25", "#fff"),
    Severity(Movement.LOST_REPRO.value, "Lost reproducibility", "lost reproducibility",
             "the repeats agreed before and do not now", ACTIONABLE, "#f46036"),
    Severity("drift", "Drift", "drift", "the same seed gives different numbers (reproducible "
             "on both sides)", ACTIONABLE, "#f2c14e"),
    Severity("fixed-upstream", "Fixed upstream", "fixed upstream",
             "a correctness goal got better: a bug fixed upstream", GOOD, "#2a9d8f", "#fff"),
    Severity(Movement.NOW_WORKS.value, "Now works", "now working",
             "it raised or hung before; now it runs", GOOD, "#52b788"),
    Severity(Movement.GAINED_REPRO.value, "Gained reproducibility", "gained reproducibility",
             "the repeats agree now and did not before", GOOD, "#8ac926"),
    Severity(Movement.APPEARED.value, "Newly available", "newly available",
             "the version gate opened: it runs here and did not apply before", FOLDED, "#9ecae1"),
    Severity(Movement.VANISHED.value, "No longer available", "no longer available",
             "it ran before and does not apply here", FOLDED, "#c7c7c7"),
    Severity(UNSEEDED_CATEGORY, "Unseeded noise", "unseeded noise",
             "drawn from a generator the mode leaves unseeded, on both sides: repeats agree "
             "only by chance", FOLDED, "#e6e6e6"),
    Severity("harness", "Harness recipe changed", "harness recipe",
             "rngdrift's own seeding recipe (a mode's lines) changed between the cells, not "
             "torch and not your code", FOLDED, "#d4c2fc"),
)
BY_NAME = {s.name: s for s in SEVERITIES}
NAMES = tuple(s.name for s in SEVERITIES)
RANK = {s.name: i for i, s in enumerate(SEVERITIES)}
BROKEN, DRIFT, FIXED_UPSTREAM, UNSEEDED, HARNESS = (
    "broken", "drift", "fixed-upstream", UNSEEDED_CATEGORY, "harness")
NOW_FAILS, NOW_WORKS = Movement.NOW_FAILS.value, Movement.NOW_WORKS.value
LOST_REPRO, GAINED_REPRO = Movement.LOST_REPRO.value, Movement.GAINED_REPRO.value
APPEARED, VANISHED = Movement.APPEARED.value, Movement.VANISHED.value
# What a severity a reader acts on is, when a movement is all there is to judge.
FROM_MOVEMENT = {m: m.value for m in (Movement.NOW_FAILS, Movement.NOW_WORKS,
                                      Movement.LOST_REPRO, Movement.GAINED_REPRO,
                                      Movement.APPEARED, Movement.VANISHED)}
FROM_MOVEMENT[Movement.CHANGED] = DRIFT


def get(name: str) -> Severity:
    return BY_NAME[name]


def in_group(group: str) -> tuple[str, ...]:
    return tuple(s.name for s in SEVERITIES if s.group == group)


def more_serious(a: str, b: str) -> bool:
    return RANK[a] < RANK[b]
