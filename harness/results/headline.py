"""The night's headline: a new newest release against the previous newest.

    newest_against_previous(candidate, previous, tol)   -> one Markdown line, or None
    for_run(run_path, loaded, tol)                       -> the same, the previous run found
                                                           from the run's plan (--reuse-from)

When a refreshed lock brings a new torch release, the default matrix's newest cell is
new. What a nightly reader wants first is what that release changes against the
newest one the previous run had: how many values moved, in which scenarios, which
scenarios stopped or started running. ``compare`` asks it of its baseline, the report
of the run its reused cells came from; both put the line at the top.
"""
from __future__ import annotations

from pathlib import Path

from ..matrix import compat
from . import platforms
from ..runs import reuse
from ..cell import schema
from .changes import Movement, movement
from .frames import Loaded, Observation, Tolerance, fold
from .resultfiles import read_cell
from ..text import code, plural

MAX_NAMED = 5


def _release(cell_id: str) -> str:
    cell = compat.parse_id(cell_id)
    return f"torch {cell.torch}" if cell else cell_id


def _newest(cells) -> str | None:
    ordered = compat.order(set(cells))
    return ordered[-1] if ordered else None


def _rows_of(loaded: Loaded, cell: str, tol: Tolerance) -> dict:
    """{(scenario, seeding, metric): (kind, Observation)} of one cell, results only."""
    out = {}
    for (_, scenario, seeding, metric), f in fold(loaded, tol, {cell}).items():
        if scenario.startswith(schema.CELL_LEVEL) or metric.startswith(schema.RNG_PREFIX):
            continue
        state = f.values[0] if metric == schema.STATUS_METRIC and len(f.values) == 1 \
            else schema.OK
        out[(scenario, seeding, metric)] = (f.kind, Observation(state, f.values, f.detail,
                                                                f.repeats))
    return out


def _platform(loaded: Loaded, cell: str) -> str:
    return next((r.platform for r in loaded.rows if r.cell == cell), "")


def differences(previous: Loaded, old: str, candidate: Loaded, new: str, tol: Tolerance,
                dependence: platforms.Dependence | None = None) -> dict[str, set]:
    """What differs between cell ``old`` of one run and cell ``new`` of another, by
    scenario (the comparison core's movements, ``harness.results.changes``): ``values``
    (reproducible on both sides and not equal), ``platform`` (those of them explained by
    the two cells' CPU classes), ``status`` (it started or stopped failing or applying),
    ``new``/``gone`` (ran in one only). Attribution (``rng.*``) and timings are left
    out: the draws are the report's."""
    a, b = _rows_of(previous, old, tol), _rows_of(candidate, new, tol)
    a_scenarios, b_scenarios = {k[0] for k in a}, {k[0] for k in b}
    out: dict[str, set] = {"values": set(), "platform": set(), "status": set(),
                           "new": b_scenarios - a_scenarios, "gone": a_scenarios - b_scenarios}
    cross = not platforms.same_class(_platform(previous, old), _platform(candidate, new))
    dependence = dependence if dependence is not None else platforms.Dependence.load()
    for key in a.keys() & b.keys():
        (kind, x), (_, y) = a[key], b[key]
        moved = movement(kind, x, y, tol)
        scenario, _, metric = key
        if moved is None:
            continue
        if metric == schema.STATUS_METRIC:
            out["status"].add(scenario)
        elif moved is not Movement.CHANGED:
            continue  # reproducibility that comes and goes is the report's to judge
        elif cross and dependence.lookup(scenario, metric) is not None:
            out["platform"].add(scenario)
        else:
            out["values"].add(scenario)
    return out


# What differs between the two newest cells, in the order the headline says it.
PARTS = (("values", "values changed in {n} ({names})", "scenario"),
         ("status", "{n} changed status ({names})", "scenario"),
         ("new", "{n} run only here ({names})", "scenario"),
         ("gone", "{n} no longer run ({names})", "scenario"),
         ("platform", "{n} differ as the two CPU classes do ({names})", "more scenario"))


def _names(scenarios: set) -> str:
    ordered = sorted(scenarios)
    more = f", … {len(ordered) - MAX_NAMED} more" if len(ordered) > MAX_NAMED else ""
    return ", ".join(map(code, ordered[:MAX_NAMED])) + more


def newest_against_previous(candidate: Loaded, previous: Loaded | None,
                            tol: Tolerance = Tolerance(),
                            previous_cells: set[str] | None = None) -> str | None:
    """'torch X (new, `cell`) against the previous newest, torch Y (`cell`): …' when the
    candidate's newest cell is newer than every cell of the previous run; else None.
    ``previous``: the previous run's rows (its newest cell's at least); ``previous_cells``:
    all its cells (default: those in ``previous``)."""
    if previous is None or not candidate.rows or not previous.rows:
        return None
    cells = set(previous.cells) if previous_cells is None else set(previous_cells)
    new, old = _newest(candidate.cells), _newest(cells)
    if new in cells or _newest([new, old]) != new or old not in set(previous.cells):
        return None
    head = (f"**{_release(new)} (new, {code(new)}) against the previous newest, "
            f"{_release(old)} ({code(old)}):**")
    failed = [c for c, side in ((new, candidate), (old, previous))
              if any(r.cell == c and r.scenario.startswith(schema.CELL_LEVEL)
                     and r.status != schema.OK for r in side.rows)]
    if failed:
        return f"{head} {', '.join(map(code, failed))} failed as a whole; nothing to compare."
    found = differences(previous, old, candidate, new, tol)
    parts = [template.format(n=plural(len(found[kind]), noun), names=_names(found[kind]))
             for kind, template, noun in PARTS if found[kind]]
    return f"{head} {'; '.join(parts) if parts else 'no value changed'}."


def for_run(run_path: Path, candidate: Loaded, tol: Tolerance = Tolerance()) -> str | None:
    """The headline of a run made with ``--reuse-from``: against the newest cell of the
    run its plan names (only that cell's CSV is read)."""
    previous = reuse.previous_run(run_path)
    if previous is None or Path(previous).resolve() == Path(run_path).resolve():
        return None
    csvs = {p.name[:-len(".csv")]: p for p in (previous / "cells").glob("*.csv")}
    old = _newest(csvs)
    if old is None:
        return None
    try:
        table = read_cell(csvs[old])
    except Exception:  # an unreadable previous run gives no headline, never a failed report
        return None
    return newest_against_previous(candidate, Loaded(table, csvs[old]), tol,
                                   previous_cells=set(csvs))


def run_notes(run_path: Path, loaded: Loaded, tol: Tolerance = Tolerance()) -> list[str]:
    """What a report says first about a run: the headline, which cells were reused,
    which CPU classes ran and what depends on them."""
    line = for_run(run_path, loaded, tol)
    return ([line] if line else []) + reuse.describe(run_path) + platforms.describe(loaded)
