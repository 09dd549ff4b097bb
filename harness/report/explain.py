"""Why a row changed: the cause catalog matched at the row's own step.

A change is explained with the versions and the draws of the step where it first
appears (for ``--from/--to``, the neighbouring cells around that step, never the
ends of the range): which packages moved there (torch, torchvision, Python, NumPy,
Pillow, the CPU class), which random APIs' call counts moved, which APIs drew from
another generator (``rng.generator.<api>`` rows), and for a failure the error. The
catalog is matched on that (``catalog.match``), the same way for the user's code as
for rngdrift's scenarios. Where nothing ties one cause to the step, the catalogued
changes of the step that touch the APIs the code calls are listed as candidates.
"""
from __future__ import annotations

import dataclasses

from . import catalog
from . import severity as sev
from .evidence import Evidence

HARNESS = catalog.HARNESS_RECIPE
MAX_MOVED = 6


@dataclasses.dataclass(frozen=True)
class Explanation:
    scenario: str
    seeding: str
    step: tuple[str, str]
    cause: catalog.Cause | None = None
    candidates: tuple = ()
    how: str = ""
    mechanism: str = ""

    @property
    def key(self) -> tuple:
        """What findings group on: the cause, or the candidate set, or nothing."""
        if self.cause is not None:
            return ("cause", self.cause.id)
        if self.candidates:
            return ("candidates", tuple(c.id for c in self.candidates))
        return ("unexplained",)


def step_of(evidence: Evidence, scenario: str, seeding: str, before: str, after: str,
            failure: str = "") -> catalog.Step:
    return catalog.Step(
        scenario=scenario, before=evidence.versions[before], after=evidence.versions[after],
        moved=evidence.moved_calls(scenario, seeding, before, after),
        called=frozenset(evidence.called(scenario, seeding, before, after)),
        generators=evidence.moved_generators(scenario, seeding, before, after), failure=failure)


def explain(evidence: Evidence, t) -> Explanation:
    """The explanation of transition ``t`` (``findings.Transition``) at its step."""
    before, after = t.step
    failure = ""
    key = next(iter(evidence.by_run.get(t.run, ())), t.key)  # a status row stands for them all
    for seen in (evidence.at(key, after), evidence.at(key, before)):
        if seen.failed:
            failure = seen.detail
            break
    step = step_of(evidence, t.scenario, t.seeding, before, after, failure)
    found = catalog.Match()
    judged = t.severity not in (sev.APPEARED, sev.VANISHED, sev.UNSEEDED)
    if judged:
        found = catalog.match(step)
    cause, candidates, how = found.cause, found.candidates, found.how
    if judged and evidence.recipe_changed(t.scenario, t.seeding, before, after):
        # The mode handed the scenario other DataLoader lines at this step (generator=
        # exists from torch 1.6): whatever else moved, rngdrift's own recipe changed.
        cause, candidates, how = HARNESS, (), "recipe"
    return Explanation(t.scenario, t.seeding, (before, after), cause, candidates, how,
                       mechanism(evidence, t, step))


def _api(name: str) -> str:
    """'`random.random`', or '`numpy.random.randint` in workers' for a worker's calls."""
    role, _, api = name.rpartition(" ")
    return f"`{api}`" + (f" in {role}s" if role else "")


def mechanism(evidence: Evidence, t, step: catalog.Step) -> str:
    """How the draws moved at the step, in the mode where the change shows."""
    if step.failure:  # the side that raised recorded no draws: its error is the story
        return f"`{t.scenario}` raised: {step.failure}"
    parts = []
    moved = step.moved
    fell = [f"{_api(api)} {b} → {a}" for api, (b, a) in moved.items() if a < b]
    rose = [f"{_api(api)} {b} → {a}" for api, (b, a) in moved.items() if a > b]
    if fell or rose:
        shown = fell + rose
        parts.append(f"under `{t.seeding}` seeding, `{t.scenario}`'s calls moved: "
                     + "; ".join(shown[:MAX_MOVED]) + (" …" if len(shown) > MAX_MOVED else ""))
    for api, (b, a) in list(step.generators.items())[:MAX_MOVED]:
        parts.append(f"{_api(api)} drew from the {b} generator and now from the {a} one"
                     + ("" if api in moved else " (same number of calls)"))
    if not parts and t.severity in (sev.DRIFT, sev.BROKEN, sev.FIXED_UPSTREAM):
        parts.append(f"`{t.scenario}` makes the same random calls on both sides: the numbers "
                     "they return (or what is computed from them) changed")
    unseeded = evidence.unseeded(t.step[1], t.scenario, t.seeding)
    if unseeded and t.severity in (sev.BROKEN, sev.LOST_REPRO, sev.DRIFT):
        parts.append(f"`{t.seeding}` seeding does not seed {', '.join(sorted(unseeded))}, "
                     f"which `{t.scenario}` now draws from")
    return "; ".join(parts)
