"""What to do: fixes that rngdrift verified, and the weakest seeding that reproduces.

A fix is a seeding mode's lines (``harness.cell.modes``): each at its place (start-up,
every reseed, next to every ``random.seed``, a DataLoader's ``worker_init_fn`` or
``generator=``, per rank). The cells applied exactly those lines at exactly those
places, so a mode's rows are the measurement of its lines as a fix. For a finding
shown under mode M at the step (B, A), a fix is printed as code only where a mode T
that seeds at least what M seeds was run in both cells and there

* broken: keeps every goal at the best level B reached, in both cells, reproducibly;
* lost reproducibility: reproduces in both cells (and no drawn generator unseeded);
* drift, fixed upstream, harness: gives the same values in B and A (the old numbers
  back), reproducibly, goals kept.

The printed fix is the lines T adds to M (and those it replaces), with the measured
result next to it ("verified: `pair_consistency` 1.0 at torchvision 0.6.0 and 0.7.0
under `python-torch`"). Where no run mode passes, the fix says so plainly, with what
the user must change (the catalog's advice) and which recipe to run to verify one.
"""
from __future__ import annotations

import dataclasses
import fnmatch

from ..cell import modes
from ..cell.modes import Place
from ..cell.schema import OK
from . import severity as sev
from .model import step_versions
from ..results.frames import same

NO_MODE = "no mode reproduces it"
# A goal counts as kept when it is within this much of its level before the change.
RESTORED = 0.05


@dataclasses.dataclass(frozen=True)
class Verification:
    mode: str
    cells: tuple[str, str]
    measured: str            # "`pair_consistency` 1.0 at torchvision 0.6.0 and 0.7.0"

    @property
    def text(self) -> str:
        return f"verified: {self.measured} under `{self.mode}`"


@dataclasses.dataclass(frozen=True)
class Fix:
    text: str                                   # what to do, for people
    mode: str | None = None                     # the verified mode whose lines are the fix
    lines: tuple = ()                           # modes.Line to add, at their places
    replaces: tuple = ()                        # modes.Line the fix replaces
    verified: Verification | None = None
    upstream: str = ""                          # the cause catalog's advice
    to_verify: str = ""                         # how to have rngdrift verify a fix

    @property
    def add(self) -> tuple[str, ...]:
        """The fix as code, a comment naming each line's place (and torch gate)."""
        return code_lines(self.lines)


def code_lines(lines) -> tuple[str, ...]:
    out, place = [], None
    for line in lines:
        if line.place != place:
            place = line.place
            out.append(f"# {place.label}")
        gate = f"  # torch {line.torch} only" if line.torch else ""
        out.append(line.code.split("  #")[0] + gate if gate else line.code)
    return tuple(out)


def _numbers(seen) -> list[float]:
    return [v for v in seen.values if isinstance(v, (int, float)) and not isinstance(v, bool)]


def _rows(evidence, scenario: str, seeding: str):
    return evidence.by_run.get((scenario, seeding), [])


def reproduces(evidence, cell: str, scenario: str, mode: str) -> bool:
    """Every repeat agreed on every metric, and the mode seeds every generator drawn."""
    seen = [evidence.at(key, cell) for key in _rows(evidence, scenario, mode)]
    return bool(seen) and all(o.agreed for o in seen) and not evidence.unseeded(
        cell, scenario, mode)


def valid_modes(evidence, cell: str, scenario: str) -> list[str]:
    """Modes under which ``scenario`` reproduces in ``cell`` without relying on chance."""
    ran = {key[1] for key in evidence.by_scenario.get(scenario, ())}
    return [m for m in modes.weakest_first(ran) if reproduces(evidence, cell, scenario, m)]


def _goal_level(evidence, cell: str, scenario: str, metric: str, mode: str):
    seen = evidence.at((scenario, mode, metric), cell)
    numbers = _numbers(seen) if seen.state == OK else []
    return sum(numbers) / len(numbers) if numbers else None


def best_goals(evidence, cell: str, scenario: str) -> dict[str, float]:
    """Each goal's best level under a mode that reproduces the scenario in ``cell``."""
    best = {}
    valid = valid_modes(evidence, cell, scenario)
    for metric, direction in evidence.goals.get(scenario, {}).items():
        levels = [v for v in (_goal_level(evidence, cell, scenario, metric, m) for m in valid)
                  if v is not None]
        if levels:
            best[metric] = (max if direction == "up" else min)(levels)
    return best


def keeps_goals(evidence, cell: str, scenario: str, mode: str, best: dict) -> bool:
    for metric, level in best.items():
        got = _goal_level(evidence, cell, scenario, metric, mode)
        direction = evidence.goals[scenario][metric]
        if got is None or (level - got if direction == "up" else got - level) > \
                RESTORED * max(1.0, abs(level)):
            return False
    return True


def weakest_modes(evidence, cell: str, scenario: str) -> list[str]:
    """The weakest modes (minimal under ``covers``) that reproduce the scenario in
    ``cell`` and keep its goals at their best."""
    best = best_goals(evidence, cell, scenario)
    good = [m for m in valid_modes(evidence, cell, scenario)
            if keeps_goals(evidence, cell, scenario, m, best)]
    return [m for m in good if not any(
        o != m and modes.get(m).covers(modes.get(o)) for o in good)]


def weakest_mode(evidence, cell: str, scenario: str) -> str | None:
    """The weakest modes as a label ('torch', 'numpy or torch'); a fix recipe only where
    no mode a program runs by default is among them (the recipe is then the answer:
    `workers` for NumPy in workers before torch 1.9)."""
    found = weakest_modes(evidence, cell, scenario)
    usual = [m for m in found if not modes.get(m).recipe]
    found = usual or found
    return " or ".join(found) if found else None


# -- fixes ---------------------------------------------------------------------------------

def candidates(have: str) -> list[str]:
    """Modes that could fix a change shown under ``have``: they seed at least what it
    seeds; those adding to its lines first, fewest added lines first, then those that
    replace DataLoader lines of it (a per-rank generator for a shared one)."""
    base = modes.get(have)
    loader = (Place.LOADER, Place.PER_RANK, Place.WORKER_INIT)
    out = []
    for mode in modes.MODES:
        if mode.name == have or not mode.seeded >= base.seeded:
            continue
        dropped = [ln for ln in base.lines if ln not in mode.lines]
        if all(ln.place in loader for ln in dropped):
            out.append((bool(dropped), len(mode.added_to(base)), mode.name))
    return [name for _, _, name in sorted(out)]


def _place_of_step(evidence, step) -> str:
    return step_versions(evidence.versions, *step)


def _check(evidence, finding_severity: str, t, mode: str, step) -> str | None:
    """What ``mode`` measured at both cells of the step when it fixes ``t``; else None."""
    before, after = step
    scenario = t.scenario
    if not all(reproduces(evidence, c, scenario, mode) for c in step):
        return None
    at = _place_of_step(evidence, step)
    goals = evidence.goals.get(scenario, {})
    best = best_goals(evidence, before, scenario)
    if not all(keeps_goals(evidence, c, scenario, mode, best) for c in step):
        return None
    shown = [f"`{m}` {_level(evidence, before, scenario, m, mode)}" for m in goals]
    if finding_severity in (sev.DRIFT, sev.FIXED_UPSTREAM):
        if any(not same(evidence.kinds[key], evidence.at(key, before).values[0],
                        evidence.at(key, after).values[0], evidence.tol)
               for key in _rows(evidence, scenario, mode)):
            return None
        shown.append(f"every value of `{scenario}` identical")
    return f"{', '.join(shown or [f'`{scenario}` reproducible'])} at {at}"


def _level(evidence, cell, scenario, metric, mode) -> str:
    level = _goal_level(evidence, cell, scenario, metric, mode)
    return "?" if level is None else repr(round(level, 4)) if level != int(level) else f"{level:.1f}"


FIXABLE = (sev.BROKEN, sev.LOST_REPRO, sev.DRIFT, sev.FIXED_UPSTREAM, sev.HARNESS)


def fix_for(evidence, finding) -> Fix | None:
    """The verified fix of a finding, or why there is none: its rows are tried per
    seeding mode, weakest first (a fix for code seeded like `python` is the one most
    programs need), each mode's lead row (goals first); the verified fix adding the fewest lines wins, else
    (for a goal or reproducibility lost) the first that says how to have one verified, else
    the lead row's answer."""
    cause = finding.cause
    upstream, applying = (cause.fix, cause.fix_scenarios) if cause else ("", ())
    leads: dict = {}
    for t in finding.transitions:  # sorted goals first: the first row of a mode leads it
        leads.setdefault(t.seeding, t)
    order = [finding.transitions[0].seeding] + modes.weakest_first(leads)
    fixes = [fix_for_row(evidence, finding.severity, leads[m], upstream, applying)
             for m in dict.fromkeys(order)]
    hint = finding.severity in (sev.BROKEN, sev.LOST_REPRO)  # a recipe can bring it back
    verified = [f for f in fixes if f and f.verified]
    if verified:  # the one that adds the fewest lines (ties: the order above)
        return min(verified, key=lambda f: len(f.lines))
    return next((f for f in fixes if hint and f and f.to_verify), None) or fixes[0]


def fix_for_row(evidence, severity: str, t, upstream: str = "",
                fix_scenarios: tuple[str, ...] = ()) -> Fix | None:
    if severity == sev.NOW_FAILS:
        return Fix(f"`{t.scenario}` now fails ({t.after.detail or 'see the cell log'}); no "
                   "seeding mode makes it run again here, so the code has to change"
                   + (" (upstream advice below)." if upstream else "."), upstream=upstream)
    if severity not in FIXABLE:
        return None
    step = t.step
    ran = {key[1] for key in evidence.by_scenario.get(t.scenario, ())}
    options = candidates(t.seeding)
    for mode in options:
        if mode not in ran:
            continue
        measured = _check(evidence, severity, t, mode, step)
        if measured is None:
            continue
        base, record = modes.get(t.seeding), modes.get(mode)
        lines = record.added_to(base)
        replaces = tuple(ln for ln in base.lines if ln not in record.lines)
        verified = Verification(mode, step, measured)
        return Fix(_fix_words(severity, t, mode, lines, replaces), mode, lines, replaces, verified,
                   upstream)
    if severity == sev.HARNESS:
        return None  # rngdrift's own recipe: a fix only where one was measured
    applied = _applied_upstream(evidence, severity, t, fix_scenarios) if upstream else None
    if applied is not None:
        return Fix(f"No seeding brings `{t.scenario}` back; the upstream advice below does, "
                   "measured on a scenario that applies it.", None, (), (),
                   Verification(t.seeding, step, applied), upstream)
    missing = [m for m in options if m not in ran and modes.get(m).recipe
               and _relevant(evidence, t, modes.get(m).added_to(modes.get(t.seeding)))]
    to_verify = (f"run with `--seeding {','.join(modes.weakest_first(ran | {missing[0]}))}` "
                 f"to have rngdrift verify the `{missing[0]}` recipe"
                 f" ({modes.get(missing[0]).summary})") if missing else ""
    return Fix(_no_fix_words(evidence, severity, t, step, ran, upstream, bool(missing)),
               None, (), (), None,
               upstream, to_verify)


def _applied_upstream(evidence, severity: str, t, globs: tuple[str, ...]) -> str | None:
    """What a scenario applying the catalog's advice (``Cause.fix_scenarios``) measured
    after the change, under the finding's mode, where it reproduces there and keeps the
    goals it shares with ``t``'s scenario at their level before the change; else None."""
    if severity not in (sev.BROKEN, sev.LOST_REPRO) or not globs:
        return None
    before, after = t.step
    goals = evidence.goals.get(t.scenario, {})
    applying = [s for s in evidence.by_scenario
                if s != t.scenario and any(fnmatch.fnmatchcase(s, g) for g in globs)]
    # one that measures the same goal first: it shows the goal kept, not only repeats
    applying.sort(key=lambda s: (not set(evidence.goals.get(s, {})) & set(goals), s))
    for scenario in applying:
        if not reproduces(evidence, after, scenario, t.seeding):
            continue
        shared = [m for m in evidence.goals.get(scenario, {}) if m in goals]
        was = {m: _goal_level(evidence, before, t.scenario, m, t.seeding) for m in shared}
        if None in was.values() or not keeps_goals(evidence, after, scenario, t.seeding, was):
            continue
        shown = [f"`{m}` {_level(evidence, after, scenario, m, t.seeding)}" for m in shared]
        package = step_versions(evidence.versions, before, after).split(" ", 1)[0]
        return (f"`{scenario}` (the advice applied) "
                + (f"gets {', '.join(shown)}" if shown else "repeats run to run")
                + f" at {package} {evidence.versions[after].get(package, '?')}")
    return None


def _relevant(evidence, t, lines) -> bool:
    """Whether lines at these places could touch what the scenario does: a DataLoader
    line needs DataLoader workers or other processes, a ``random.seed`` line its own
    ``random.seed`` calls."""
    cells = t.step
    roles = set().union(*(evidence.roles.get((c, t.scenario, t.seeding), set()) for c in cells))
    calls = evidence.called(t.scenario, t.seeding, *cells)
    for line in lines:
        if line.place in (Place.WORKER_INIT, Place.LOADER, Place.PER_RANK) and not roles:
            return False
        if line.place == Place.PER_RANK and "process" not in roles:
            return False
        if line.place == Place.RANDOM_SEED and "random.seed" not in calls:
            return False
    return bool(lines)


def _fix_words(severity: str, t, mode: str, lines, replaces) -> str:
    places = "; ".join(dict.fromkeys(ln.place.words for ln in lines))
    instead = f", instead of `{replaces[0].code.split('  #')[0]}`" if replaces else ""
    head = ("Nothing to fix: the goal got better upstream. To get the same values on both "
            "sides, add" if severity == sev.FIXED_UPSTREAM else "Add")
    return (f"{head} the lines below to what `{t.seeding}` seeding does ({places}){instead}: "
            f"that is the `{mode}` mode, measured in both cells.")


def _no_fix_words(evidence, severity: str, t, step, ran, upstream: str,
                  recipe_left: bool = False) -> str:
    tried = ", ".join(f"`{m}`" for m in modes.weakest_first(ran))
    advice = " Upstream advice below." if upstream else ""
    if severity == sev.BROKEN:
        then = ("; a recipe this run did not have may (below)" if recipe_left
                else ", so the code has to change")
        return (f"No fix was verified: under none of the modes this run has ({tried}) does "
                f"`{t.scenario}` keep its goals in both cells{then}." + advice)
    if severity in (sev.DRIFT, sev.FIXED_UPSTREAM, sev.HARNESS):
        return (f"No seeding this run has ({tried}) gives `{t.scenario}` the same values in "
                "both cells (measured): with the same seed this version computes different "
                "results. Re-baseline, or keep the old pins where you need the old numbers."
                + advice)
    return (f"No fix was verified: under none of the modes this run has ({tried}) does "
            f"`{t.scenario}` reproduce in both cells." + advice)
