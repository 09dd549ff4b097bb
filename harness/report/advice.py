"""What to do: the weakest seeding that really makes a scenario reproducible, as code.

A seeding mode counts for a scenario in a cell only when

* every repeat agreed on every metric, and
* it seeds every generator the scenario's results depend on (attribution; so two
  repeats agreeing by chance under a mode that leaves a drawn generator unseeded
  never counts), and
* the scenario's correctness goals are as good as any valid mode gets them there.

For a broken goal, seeding is advice only where the mode brings the goal back to its
level before the change; where no mode does (pairs that no longer match under any
seeding), the advice says the code has to change.

The advice is the difference between the mode a change showed under and that mode,
written as the lines to add.
"""
from __future__ import annotations

import dataclasses

from ..cell.schema import MODES, OK, SEEDED

GENERATOR_CODE = {"python": "random.seed(seed)", "numpy": "np.random.seed(seed)",
                  "torch": "torch.manual_seed(seed)", "cuda": "torch.cuda.manual_seed_all(seed)"}
FULL_EXTRA = ("os.environ['PYTHONHASHSEED'] = str(seed)  # before Python starts",
              "os.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'",
              "torch.use_deterministic_algorithms(True)",
              "torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False",
              "DataLoader(..., worker_init_fn=seed_worker, generator=torch.Generator()"
              ".manual_seed(seed))")
# Each mode as the code of a program's start-up (the report's legend).
MODE_CODE = {
    "none": ("# no seeding",),
    "python": (GENERATOR_CODE["python"], GENERATOR_CODE["numpy"]),
    "torch": (GENERATOR_CODE["torch"],),
    "all": tuple(GENERATOR_CODE.values()),
    "full": tuple(GENERATOR_CODE.values()) + FULL_EXTRA,
}
NO_MODE = "no mode reproduces it"


@dataclasses.dataclass(frozen=True)
class Fix:
    text: str                      # one line for people
    mode: str | None = None        # the weakest mode that works, where one does
    add: tuple[str, ...] = ()      # lines to add to what the failing mode seeds
    upstream: str = ""             # the cause catalog's advice


def _rows(evidence, scenario: str, seeding: str):
    return evidence.by_run.get((scenario, seeding), [])


def valid_modes(evidence, cell: str, scenario: str) -> list[str]:
    """Modes under which ``scenario`` reproduces in ``cell`` without relying on chance."""
    out = []
    for mode in MODES:
        seen = [evidence.at(key, cell) for key in _rows(evidence, scenario, mode)]
        if not seen or not all(o.measured for o in seen):
            continue
        if all(o.state == OK and o.agreed for o in seen) and not evidence.unseeded(
                cell, scenario, mode):
            out.append(mode)
    return out


def weakest_mode(evidence, cell: str, scenario: str) -> str | None:
    """The weakest valid mode that also keeps the scenario's goals at their best."""
    valid = valid_modes(evidence, cell, scenario)
    goals = evidence.goals.get(scenario, {})
    best = {}
    for metric, direction in goals.items():
        values = [float(evidence.at((scenario, m, metric), cell).values[0]) for m in valid
                  if evidence.at((scenario, m, metric), cell).agreed]
        if values:
            best[metric] = (max if direction == "up" else min)(values)
    for mode in valid:
        if all(_close(evidence, (scenario, mode, metric), cell, value)
               for metric, value in best.items()):
            return mode
    return None


def _close(evidence, key, cell, value: float) -> bool:
    seen = evidence.at(key, cell)
    if not seen.agreed:
        return False
    got = float(seen.values[0])
    return abs(got - value) <= evidence.tol.atol + evidence.tol.rtol * max(abs(got), abs(value))


# A goal counts as restored when it is back within this much of its level before the
# change (the same margin findings.py calls material).
RESTORED = 0.05


def lost_goals(evidence, before_cell: str, after_cell: str, scenario: str,
               mode: str) -> list[tuple[str, float, float]]:
    """The goals of ``scenario`` that ``mode`` does not bring back at ``after_cell`` to
    the best level any reproducing mode reached at ``before_cell``: [(metric, was, is)]."""
    lost = []
    before_modes = valid_modes(evidence, before_cell, scenario)
    for metric, direction in evidence.goals.get(scenario, {}).items():
        pick = max if direction == "up" else min
        was = [float(evidence.at((scenario, m, metric), before_cell).values[0])
               for m in before_modes if evidence.at((scenario, m, metric), before_cell).agreed]
        now = evidence.at((scenario, mode, metric), after_cell)
        if not was or not now.agreed:
            continue
        best, got = pick(was), float(now.values[0])
        margin = RESTORED * max(1.0, abs(best))
        if (best - got if direction == "up" else got - best) > margin:
            lost.append((metric, best, got))
    return lost


def code_to_add(have: str, need: str) -> tuple[str, ...]:
    """The lines a program seeding like ``have`` adds to seed like ``need``."""
    lines = [GENERATOR_CODE[g] for g in SEEDED[need] if g not in SEEDED[have]]
    if need == "full" and have != "full":
        lines += list(FULL_EXTRA)
    return tuple(lines)


def fix_for(evidence, finding) -> Fix | None:
    t = finding.transitions[0]
    upstream = finding.cause.fix if finding.cause else ""
    if finding.cause is not None and finding.cause.id == "rngdrift-full-recipe":
        return Fix(upstream[:1].upper() + upstream[1:] + ".")
    if finding.severity == "drift":
        return Fix("No seeding brings the old numbers back: with the same seed this version "
                   "computes different results. Keep the old pins where you need them, or "
                   "accept the new results as your baseline.", upstream=upstream)
    if finding.severity not in ("broken", "lost-repro", "failing"):
        return None
    if finding.severity == "failing":
        return Fix(f"`{t.scenario}` now fails: {t.after.detail or 'see the cell log'}",
                   upstream=upstream)
    mode = weakest_mode(evidence, t.after_cell, t.scenario)
    lost = lost_goals(evidence, t.before_cell, t.after_cell, t.scenario, mode) if mode else []
    if finding.severity == "broken" and lost:
        moved = ", ".join(f"`{metric}` {got:.3g} (was {was:.3g})" for metric, was, got in lost)
        return Fix(f"No seeding brings the goals back: even seeded like `{mode}`, "
                   f"`{t.scenario}` gets {moved}; what the code computes from its draws "
                   f"changed, so the code has to change"
                   f"{' (upstream advice below)' if upstream else ''}.", mode=None,
                   upstream=upstream)
    if mode is None:
        return Fix(f"No seeding mode makes `{t.scenario}` reproducible here with its goals "
                   "kept.", mode=None, upstream=upstream)
    if MODES.index(mode) <= MODES.index(t.seeding):
        return Fix(f"Seeding does not fix this: `{mode}` seeding already reproduces "
                   f"`{t.scenario}` here; what it computes changed.", mode=mode,
                   upstream=upstream)
    add = code_to_add(t.seeding, mode)
    return Fix(f"Seed like `{mode}`: add the lines below to what `{t.seeding}` seeding does; "
               f"`{t.scenario}` then reproduces, and keeps its goals.",
               mode=mode, add=add, upstream=upstream)
