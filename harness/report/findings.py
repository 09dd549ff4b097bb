"""From measured rows to findings: what changed, how bad, why, and what to do.

A *transition* is one ``Delta`` of the comparison core (``harness.results.changes``:
a (scenario, seeding, metric) that moved between two cells) judged for a user
(``severity.py``):

    broken          a correctness goal got materially worse (beyond the metric's
                    chance level: what its own repeats wander by)
    now-fails       it ran, now it raises or hangs
    lost-repro      the repeats agreed before and do not now
    drift           reproducible on both sides, different numbers: same seed, new results
    fixed-upstream  a goal got materially better; the rest of that scenario run moved
                    with it (a bug fixed upstream is good news)
    now-works, gained-repro, appeared, vanished: the movement itself
    unseeded        drawn from a generator the mode leaves unseeded on both sides
    harness         rngdrift's own recipe (a mode's DataLoader lines) changed between the
                    cells and nothing upstream explains it

Each transition is explained at its own step (``explain``: the versions and draws of
the step where it first appears). Transitions of one step that share an
explanation and a severity group form one *finding*, with a fix that rngdrift
verified in the cells on both sides of the step (``advice``).
"""
from __future__ import annotations

import dataclasses

from ..cell import modes
from ..cell.schema import OK, STATUS_METRIC, TEXT
from . import advice, explain
from . import severity as sev
from .evidence import Evidence
from ..results.changes import Movement, movement
from ..results.frames import Observation, text


@dataclasses.dataclass(frozen=True)
class Transition:
    scenario: str
    seeding: str
    metric: str
    kind: str
    before_cell: str
    after_cell: str
    before: Observation
    after: Observation
    severity: str
    first_cell: str = ""   # upgrade questions: the cell where it first showed
    step_cell: str = ""    # the cell before ``first_cell``: the step it is explained at

    @property
    def run(self) -> tuple[str, str]:
        return self.scenario, self.seeding

    @property
    def key(self) -> tuple[str, str, str]:
        return self.scenario, self.seeding, self.metric

    @property
    def step(self) -> tuple[str, str]:
        """(cell, next cell): the upgrade step where this change first shows."""
        return (self.step_cell or self.before_cell), (self.first_cell or self.after_cell)


@dataclasses.dataclass
class Finding:
    severity: str
    before_cell: str
    after_cell: str
    explanation: explain.Explanation
    transitions: list[Transition]
    fix: advice.Fix | None = None
    # each row's own explanation and fix (findings.csv and findings.json carry them)
    own: dict = dataclasses.field(default_factory=dict)

    @property
    def cause(self):
        return self.explanation.cause

    @property
    def mechanism(self) -> str:
        return self.explanation.mechanism

    @property
    def scenarios(self) -> list[str]:
        return list(dict.fromkeys(t.scenario for t in self.transitions))

    @property
    def first_seen(self) -> str:
        return self.transitions[0].step[1]

    @property
    def step(self) -> tuple[str, str]:
        return self.transitions[0].step

    def to_dict(self, evidence: Evidence, number: int) -> dict:
        """This finding as plain data: findings.json's ``findings`` items (the schema:
        ``harness/report/findings.schema.json``), findings.csv's rows."""
        return _as_dict(self, evidence, number)


# A goal metric must move by more than this (absolute, or relative above 1) to count
# as broken or fixed: goals are fractions, flags and counts, and a pair consistency of
# 1.0 falling to 0.5 or a duplicate fraction rising from 0 to 1 is what they exist to
# catch; 0.9816 against 0.9815 is not.
MATERIAL = 0.05
# Where the scenario draws from a generator its mode leaves unseeded, in both cells,
# the level itself wanders from run to run: only a move this large says more than chance.
MATERIAL_UNSEEDED = 0.2


def _numbers(values: tuple) -> list[float] | None:
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return numbers if numbers and len(numbers) == len(values) else None


def chance(evidence: Evidence, scenario: str, metric: str, cells) -> float:
    """What the metric moves by when only the random stream changes: the widest spread
    of its repeats in ``cells`` under a mode that leaves a drawn generator unseeded
    (there every repeat draws another stream). A duplicate fraction over 8 items that
    wanders by a quarter between such repeats moving by an eighth under a seeded mode
    is the stream, not a bug."""
    cache = evidence.memo.setdefault("chance", {})
    if (scenario, metric, cells) not in cache:
        widest = 0.0
        for key in evidence.by_scenario.get(scenario, ()):
            if key[2] != metric:
                continue
            for cell in cells:
                if not evidence.unseeded(cell, scenario, key[1]):
                    continue
                numbers = _numbers(evidence.at(key, cell).values)
                if numbers and len(numbers) > 1:
                    widest = max(widest, max(numbers) - min(numbers))
        cache[(scenario, metric, cells)] = widest
    return cache[(scenario, metric, cells)]


def worse(direction: str, before: Observation, after: Observation, tol,
          material: float = MATERIAL, step: float = 0.0) -> bool | None:
    """True when ``after`` is materially worse than ``before`` for a goal metric, False
    when materially better, None otherwise. Repeats that disagree count by their mean
    (a pipeline that pairs image and mask in some runs and not in others is broken),
    but only where the repeats of the two sides do not overlap: what the repeats
    themselves wander by is no change. ``step``: what the metric moves by when only the
    stream changes (``chance``); a move must exceed it."""
    b, a = _numbers(before.values), _numbers(after.values)
    if not b or not a:
        return None
    if len(a) + len(b) > 2 and max(a) >= min(b) and max(b) >= min(a):
        return None  # the repeats of one side reach the other's: chance, not a change
    sign = 1 if direction == "up" else -1
    margin = max(material * max(1.0, max(abs(x) for x in b)), step * 1.0001,
                 tol.atol + tol.rtol * max(abs(x) for x in b + a))
    moved = sign * (sum(a) / len(a) - sum(b) / len(b))
    if moved < -margin:
        return True
    if moved > margin:
        return False
    return None


def classify(evidence: Evidence, key: tuple[str, str, str], before_cell: str,
             after_cell: str) -> str | None:
    """The severity of the change of row ``key`` from one cell to another; None when
    nothing a reader would call a change happened."""
    scenario, seeding, metric = key
    before, after = evidence.at(key, before_cell), evidence.at(key, after_cell)
    if not before.measured or not after.measured:
        return None
    moved = movement(evidence.kinds[key], before, after, evidence.tol)
    unseeded = bool(evidence.unseeded(before_cell, scenario, seeding)
                    and evidence.unseeded(after_cell, scenario, seeding))
    goal = evidence.goals.get(scenario, {}).get(metric)
    if goal and before.state == OK and after.state == OK:
        # A goal's level moving is a finding even where runs differ from each other (a
        # net that scored 0.98 in every run and 0.70 in every run now is broken), but
        # only beyond what chance moves it by.
        margin = MATERIAL_UNSEEDED if unseeded else MATERIAL
        verdict = worse(goal, before, after, evidence.tol, margin,
                        chance(evidence, scenario, metric, (before_cell, after_cell)))
        if verdict is not None:
            return sev.BROKEN if verdict else sev.FIXED_UPSTREAM
        if moved is Movement.CHANGED and worse(goal, before, after, evidence.tol) is None:
            return None  # 0.999998 -> 1.0: below what a goal can tell apart
    if moved is None:
        return None
    if unseeded and moved in (Movement.CHANGED, Movement.LOST_REPRO, Movement.GAINED_REPRO):
        return sev.UNSEEDED
    return sev.FROM_MOVEMENT[moved]


def judged(evidence: Evidence, key: tuple[str, str, str], before_cell: str,
           after_cell: str) -> str | None:
    """``classify``, with what only a fix recipe shows folded: a recipe mode is
    rngdrift's own code run to verify fixes, not a program a user runs; a change that
    breaks it is the harness's to answer."""
    found = classify(evidence, key, before_cell, after_cell)
    if found and modes.known(key[1]) and modes.get(key[1]).recipe and sev.get(found).actionable:
        return sev.HARNESS
    return found


def _with_goals(evidence: Evidence, out: list[Transition]) -> list[Transition]:
    """The rest of a scenario run whose goal broke or got fixed at this step moved with
    it: its other changes take the goal's severity (one event, not several)."""
    goal_verdict = {}
    for t in out:
        if t.severity in (sev.BROKEN, sev.FIXED_UPSTREAM) and \
                t.metric in evidence.goals.get(t.scenario, {}):
            goal_verdict.setdefault(t.run, t.severity)
    with_goal = (sev.DRIFT, sev.LOST_REPRO, sev.GAINED_REPRO, sev.UNSEEDED)
    return [dataclasses.replace(t, severity=goal_verdict[t.run])
            if t.run in goal_verdict and t.severity in with_goal else t for t in out]


# A scenario run that starts or stops failing or applying is one event: one row
# (``status``), not one per metric.
RUN_EVENTS = (sev.NOW_FAILS, sev.NOW_WORKS, sev.APPEARED, sev.VANISHED)


def _as_status(seen: Observation) -> Observation:
    return Observation(seen.state, (seen.state,), seen.detail, seen.repeats)


def transitions(evidence: Evidence, before_cell: str, after_cell: str,
                first_cell=None) -> list[Transition]:
    """Every classified change from ``before_cell`` to ``after_cell``. ``first_cell(key)``:
    the cell where it first showed (upgrade questions); its step is explained there."""
    cells = evidence.cells
    out = []
    events = set()
    for key in evidence.observed:
        severity = judged(evidence, key, before_cell, after_cell)
        if severity is None:
            continue
        if severity in RUN_EVENTS:
            if (key[:2], severity) in events:
                continue
            events.add((key[:2], severity))
            first = first_cell(key) if first_cell else ""
            step_cell = cells[cells.index(first) - 1] if first and first in cells \
                and cells.index(first) > 0 else ""
            out.append(Transition(key[0], key[1], STATUS_METRIC, TEXT, before_cell, after_cell,
                                  _as_status(evidence.at(key, before_cell)),
                                  _as_status(evidence.at(key, after_cell)), severity, first,
                                  step_cell))
            continue
        first = first_cell(key) if first_cell else ""
        step_cell = cells[cells.index(first) - 1] if first and first in cells \
            and cells.index(first) > 0 else ""
        out.append(Transition(*key, evidence.kinds[key], before_cell, after_cell,
                              evidence.at(key, before_cell), evidence.at(key, after_cell),
                              severity, first, step_cell))
    return _with_goals(evidence, out)


def _explained(evidence: Evidence, t: Transition, cache: dict) -> tuple[Transition, explain.Explanation]:
    found = cache.get((t.run, t.step, t.metric == STATUS_METRIC))
    if found is None:
        found = cache[(t.run, t.step, t.metric == STATUS_METRIC)] = explain.explain(evidence, t)
    if found.cause is explain.HARNESS and t.severity != sev.HARNESS:
        t = dataclasses.replace(t, severity=sev.HARNESS)
    return t, found


def findings(evidence: Evidence, changes: list[Transition]) -> list[Finding]:
    """Transitions grouped by step, explanation and severity group; most serious and
    earliest first. Each finding gets its verified fix."""
    groups: dict[tuple, Finding] = {}
    cache: dict = {}
    fixes: dict = {}
    for t in changes:
        t, why = _explained(evidence, t, cache)
        family = None if why.cause or why.candidates else t.scenario.split(".", 1)[0]
        key = (t.step, why.key, family, sev.get(t.severity).group,
               t.severity if sev.get(t.severity).folded else "")
        found = groups.get(key)
        if found is None:
            groups[key] = found = Finding(t.severity, t.before_cell, t.after_cell, why, [])
        found.transitions.append(t)
        if sev.more_serious(t.severity, found.severity):
            found.severity = t.severity
    out = list(groups.values())
    for finding in out:
        # correctness rows first: they are what a reader has to see
        finding.transitions.sort(key=lambda t: (
            sev.RANK[t.severity], t.metric not in evidence.goals.get(t.scenario, {}),
            t.scenario, t.seeding, t.metric))
        lead = finding.transitions[0]
        if lead.run != (finding.explanation.scenario, finding.explanation.seeding):
            finding.explanation = cache[(lead.run, lead.step, lead.metric == STATUS_METRIC)]
        finding.fix = advice.fix_for(evidence, finding)
        for t in finding.transitions:
            why = cache[(t.run, t.step, t.metric == STATUS_METRIC)]
            fix_key = (t.run, t.step, t.severity, t.metric if t.severity == sev.DRIFT else "")
            if fix_key not in fixes:
                fixes[fix_key] = advice.fix_for_row(evidence, t.severity, t,
                                                    why.cause.fix if why.cause else "")
            finding.own[t.key] = (why, fixes[fix_key])
    order = {cell: i for i, cell in enumerate(evidence.cells)}
    return sorted(out, key=lambda f: (sev.RANK[f.severity], order.get(f.first_seen, 0),
                                      f.cause is None, -len(f.transitions), f.scenarios[0]))


def explanation_of(evidence: Evidence, t: Transition, cache: dict | None = None):
    """A row's own explanation (findings.csv gives every row its own why)."""
    cache = {} if cache is None else cache
    return _explained(evidence, t, cache)[1]


# -- a finding as data (findings.json, findings.csv) ---------------------------------------

def _side(kind: str, seen: Observation) -> dict:
    values = [text(kind, v) if v is not None else None for v in seen.values]
    return {"state": seen.state, "values": values, "agreed": seen.agreed,
            **({"detail": seen.detail} if seen.detail else {})}


def _explanation(why: explain.Explanation) -> dict:
    cause = None if why.cause is None else {
        "id": why.cause.id, "package": why.cause.package, "version": why.cause.version,
        "what": why.cause.what, "link": why.cause.link, "matched_by": why.how}
    return {"cause": cause, "candidates": [c.id for c in why.candidates],
            "mechanism": why.mechanism}


def _fix(fix) -> dict | None:
    if fix is None:
        return None
    verified = None if fix.verified is None else {
        "mode": fix.verified.mode, "cells": list(fix.verified.cells),
        "measured": fix.verified.measured, "text": fix.verified.text}
    return {"text": fix.text, "mode": fix.mode, "code": list(fix.add),
            "replaces": [ln.code for ln in fix.replaces], "verified": verified,
            "upstream": fix.upstream, "to_verify": fix.to_verify}


def _as_dict(self: Finding, evidence: Evidence, number: int) -> dict:
    before, after = self.step
    versions = {name: [evidence.versions[before].get(name, ""), evidence.versions[after].get(name, "")]
                for name in evidence.moved_packages(before, after)}
    rows = []
    for t in self.transitions:
        why, fix = self.own.get(t.key, (self.explanation, self.fix))
        rows.append({"scenario": t.scenario, "seeding": t.seeding, "metric": t.metric,
                     "kind": t.kind, "severity": t.severity, "before_cell": t.before_cell,
                     "after_cell": t.after_cell, "step": list(t.step),
                     "before": _side(t.kind, t.before), "after": _side(t.kind, t.after),
                     **_explanation(why), "fix": _fix(fix)})
    return {"number": number, "severity": self.severity, "group": sev.get(self.severity).group,
            "step": {"before": before, "after": after, "moved": versions},
            **_explanation(self.explanation), "fix": _fix(self.fix),
            "scenarios": self.scenarios, "rows": rows}

