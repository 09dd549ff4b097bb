"""From measured rows to findings: what changed, how bad, why, and what to do.

A *transition* is one row (scenario, seeding, metric) whose value group changes
between two cells. It is classified by what it means for a user:

    broken      a correctness metric (a scenario's declared goal) got worse
    failing     the scenario now raises or hangs
    lost-repro  the repeats agreed before and do not now
    drift       reproducible on both sides, different numbers: same seed, new results
    improved    a correctness metric got better
    regained    the repeats agree again
    new, gone   the scenario became applicable, or stopped being
    noise       drawn from a generator the mode leaves unseeded on both sides (two
                repeats can agree by chance); random on both sides is no change at all
    harness     rngdrift's own ``full`` recipe changed between the cells

Transitions that share a cause (an entry of the cause catalog, or for the rest
the same step, severity and scenario family) form one *finding*, which carries the
mechanism (how the draws moved, from attribution in the mode where it shows) and
the fix (``advice.py``).
"""
from __future__ import annotations

import dataclasses

from ..cell.schema import ERROR, NA, OK, TIMEOUT
from . import advice, catalog
from .evidence import Evidence, Observation
from ..results.frames import same

SEVERITIES = ("broken", "failing", "lost-repro", "drift", "improved", "regained", "new", "gone",
              "noise", "harness")
# What a reader has to act on; the rest is good news or folded away.
ACTIONABLE = SEVERITIES[:4]
FOLDED = ("new", "gone", "noise", "harness")
SEVERITY_WORDS = {
    "broken": "broken: a correctness metric got worse",
    "failing": "now fails: the scenario raises or hangs",
    "lost-repro": "lost reproducibility: the repeats no longer agree",
    "drift": "drift: the same seed gives different numbers (reproducible on both sides)",
    "improved": "improved: a correctness metric got better",
    "regained": "regained reproducibility",
    "new": "newly available (the version gate opened)",
    "gone": "no longer available",
    "noise": "noise: drawn from a generator the mode leaves unseeded, on both sides",
    "harness": "rngdrift's own full recipe changed (not torch, not your code)",
}


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
    first_cell: str = ""   # upgrade questions: the step where it first showed

    @property
    def run(self) -> tuple[str, str]:
        return self.scenario, self.seeding


@dataclasses.dataclass
class Finding:
    severity: str
    before_cell: str
    after_cell: str
    cause: catalog.Cause | None
    transitions: list[Transition]
    mechanism: str = ""
    fix: advice.Fix | None = None

    @property
    def scenarios(self) -> list[str]:
        return list(dict.fromkeys(t.scenario for t in self.transitions))

    @property
    def first_seen(self) -> str:
        return self.transitions[0].first_cell or self.after_cell


def _numbers(values: tuple[str, ...]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


# A goal metric must move by more than this (absolute, or relative above 1) to count
# as broken or improved: goals are fractions, flags and counts, and a pair
# consistency of 1.0 falling to 0.5 or a duplicate fraction rising from 0 to 1 is
# what they exist to catch; 0.9816 against 0.9815 is drift.
MATERIAL = 0.05
# Where the scenario draws from a generator its mode leaves unseeded, in both cells,
# the level itself wanders from run to run (pair consistency 0.0 in one run, 0.25 in
# another): only a move this large says more than chance.
MATERIAL_UNSEEDED = 0.2


def worse(direction: str, before: Observation, after: Observation, tol,
          material: float = MATERIAL) -> bool | None:
    """True when ``after`` is materially worse than ``before`` for a goal metric, False
    when materially better, None otherwise. Repeats that disagree count by their mean:
    a pipeline that pairs image and mask in some runs and not in others is broken."""
    b, a = _numbers(before.values), _numbers(after.values)
    if not b or not a:
        return None
    sign = 1 if direction == "up" else -1
    margin = max(material * max(1.0, max(abs(x) for x in b)),
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
    failed = (ERROR, TIMEOUT)
    if not before.measured or not after.measured:
        return None
    if before.state == NA and after.state == OK:
        return "new"
    if before.state == OK and after.state == NA:
        return "gone"
    if after.state in failed and before.state not in failed:
        return "failing"
    if before.state in failed and after.state not in failed:
        return "regained"
    if before.state != OK or after.state != OK:
        return None
    kind = evidence.kinds[key]
    if before.agreed and after.agreed and same(kind, before.values[0], after.values[0],
                                               evidence.tol):
        return None
    unseeded = bool(evidence.unseeded(before_cell, scenario, seeding)
                    and evidence.unseeded(after_cell, scenario, seeding))
    goal = evidence.goals.get(scenario, {}).get(metric)
    if goal:
        # A goal's level moving is a finding even where runs differ from each other: a
        # net that scored 0.98 in every run and now scores 0.70 in every run is broken.
        # Where a drawn generator is unseeded on both sides, only a large move counts.
        verdict = worse(goal, before, after, evidence.tol,
                        MATERIAL_UNSEEDED if unseeded else MATERIAL)
        if verdict is not None:
            return "broken" if verdict else "improved"
    if not before.agreed and not after.agreed:
        return None  # random on both sides: nothing to compare
    if unseeded:
        return "noise"
    if before.agreed and after.agreed:
        return "drift"
    return "lost-repro" if before.agreed else "regained"


def transitions(evidence: Evidence, before_cell: str, after_cell: str,
                first_cell=None) -> list[Transition]:
    """Every classified change from ``before_cell`` to ``after_cell``.
    ``first_cell(key)``: the step where it first showed (upgrade questions)."""
    out = []
    for key in evidence.observed:
        severity = classify(evidence, key, before_cell, after_cell)
        if severity is None:
            continue
        out.append(Transition(*key, evidence.kinds[key], before_cell, after_cell,
                              evidence.at(key, before_cell), evidence.at(key, after_cell),
                              severity, first_cell(key) if first_cell else ""))
    return out


def findings(evidence: Evidence, changes: list[Transition]) -> list[Finding]:
    """Transitions grouped by cause, most severe and earliest first."""
    groups: dict[tuple, Finding] = {}
    for t in changes:
        moved = evidence.moved_calls(t.scenario, t.seeding, t.before_cell, t.after_cell)
        step_from = evidence.versions[t.before_cell]
        step_to = evidence.versions[t.first_cell or t.after_cell]
        cause = None
        if t.severity not in ("noise", "new", "gone"):
            cause = catalog.match(t.scenario, step_from, step_to, moved) or \
                catalog.match(t.scenario, evidence.versions[t.before_cell],
                              evidence.versions[t.after_cell], moved)
        if cause is None and evidence.recipe_changed(t.scenario, t.seeding, t.before_cell,
                                                     t.after_cell):
            # Nothing upstream explains it, and rngdrift's own `full` recipe handed the
            # scenario something new: say so; a goal it breaks stays broken (users copy
            # that recipe), the rest is folded
            cause = catalog.HARNESS_RECIPE
            if t.severity != "broken":
                t = dataclasses.replace(t, severity="harness")
        family = t.scenario.split(".", 1)[0]
        key = (t.before_cell, (t.first_cell or t.after_cell), cause.id if cause else None,
               None if cause else (t.severity, family))
        found = groups.get(key)
        if found is None:
            groups[key] = found = Finding(t.severity, t.before_cell, t.after_cell, cause, [])
        found.transitions.append(t)
        if SEVERITIES.index(t.severity) < SEVERITIES.index(found.severity):
            found.severity = t.severity
    out = list(groups.values())
    for finding in out:
        # correctness rows first: they are what a reader has to see
        finding.transitions.sort(key=lambda t: (
            SEVERITIES.index(t.severity), t.metric not in evidence.goals.get(t.scenario, {}),
            t.scenario, t.seeding, t.metric))
        finding.mechanism = mechanism(evidence, finding)
        finding.fix = advice.fix_for(evidence, finding)
    order = {cell: i for i, cell in enumerate(evidence.cells)}
    return sorted(out, key=lambda f: (SEVERITIES.index(f.severity), order[f.first_seen],
                                      f.cause is catalog.HARNESS_RECIPE, -len(f.transitions),
                                      f.scenarios[0]))


def mechanism(evidence: Evidence, finding: Finding) -> str:
    """How the draws moved, in the mode where the change shows (its most severe row)."""
    t = finding.transitions[0]
    moved = evidence.moved_calls(t.scenario, t.seeding, t.before_cell, t.after_cell)
    parts = []
    fell = [f"{_api(api)} {b} → {a}" for api, (b, a) in moved.items() if a < b]
    rose = [f"{_api(api)} {b} → {a}" for api, (b, a) in moved.items() if a > b]
    if fell or rose:
        parts.append(f"under `{t.seeding}` seeding, `{t.scenario}`'s calls moved: "
                     + "; ".join((fell + rose)[:6]) + (" …" if len(fell + rose) > 6 else ""))
    elif t.severity in ("drift", "broken", "improved"):
        parts.append(f"`{t.scenario}` makes the same random calls on both sides: the numbers "
                     "they return (or what is computed from them) changed")
    unseeded = evidence.unseeded(t.after_cell, t.scenario, t.seeding)
    if unseeded and t.severity in ACTIONABLE:
        parts.append(f"`{t.seeding}` seeding does not seed {', '.join(sorted(unseeded))}, "
                     f"which `{t.scenario}` now draws from")
    return "; ".join(parts)


def _api(name: str) -> str:
    """'`random.random`', or '`numpy.random.randint` in workers' for a worker's calls."""
    role, _, api = name.rpartition(" ")
    return f"`{api}`" + (f" in {role}s" if role else "")
