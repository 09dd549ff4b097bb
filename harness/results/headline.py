"""The night's headline: a new newest release against the previous newest.

    newest_against_previous(candidate, previous, tol)   -> one Markdown line, or None
    for_run(run_path, frame, tol)                       -> the same, the previous run found
                                                           from the run's plan (--reuse-from)

When a refreshed lock brings a new torch release, the default matrix's newest cell is
new. What a nightly reader wants first is what that release changes against the
newest one the previous run had: how many values moved, in which scenarios, which
scenarios stopped or started running. ``compare`` asks it of its baseline, the report
of the run its reused cells came from; both put the line at the top.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..matrix import compat
from . import platforms
from ..runs import reuse
from ..cell import schema
from .resultfiles import read_cell
from .frames import Tolerance, fold, same
from ..text import code, plural

MAX_NAMED = 5


def _release(cell_id: str) -> str:
    cell = compat.parse_id(cell_id)
    return f"torch {cell.torch}" if cell else cell_id


def _newest(cells) -> str | None:
    ordered = compat.order(set(cells))
    return ordered[-1] if ordered else None


def differences(old: pd.DataFrame, new: pd.DataFrame, tol: Tolerance,
                dependence: platforms.Dependence | None = None) -> dict[str, set]:
    """What differs between two cells' rows, by scenario: ``values`` (reproducible on
    both sides and not equal), ``platform`` (those of them explained by the two cells'
    CPU classes), ``status`` (ok/n/a/error changed), ``new``/``gone`` (ran in one only).
    Attribution (``rng.*``) and timings are left out: the draws are the report's."""
    a, b = fold(old, tol), fold(new, tol)
    key = ["scenario", "seeding", "metric"]
    a = a[~a["scenario"].str.startswith(schema.CELL_LEVEL) & ~a["metric"].str.startswith("rng.")]
    b = b[~b["scenario"].str.startswith(schema.CELL_LEVEL) & ~b["metric"].str.startswith("rng.")]
    left, right = a.set_index(key), b.set_index(key)
    out: dict[str, set] = {"values": set(), "platform": set(), "status": set(),
                           "new": set(b["scenario"]) - set(a["scenario"]),
                           "gone": set(a["scenario"]) - set(b["scenario"])}
    old_platform = old["platform"].iloc[0] if len(old) else ""
    new_platform = new["platform"].iloc[0] if len(new) else ""
    cross = not platforms.same_class(old_platform, new_platform)
    dependence = dependence if dependence is not None else platforms.Dependence.load()
    for idx in left.index.intersection(right.index):
        x, y = left.loc[idx], right.loc[idx]
        if len(x["distinct"]) != 1 or len(y["distinct"]) != 1:
            continue
        if same(x["kind"], x["distinct"][0], y["distinct"][0], tol):
            continue
        scenario, _, metric = idx
        if metric == schema.STATUS_METRIC:
            out["status"].add(scenario)
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


def newest_against_previous(candidate: pd.DataFrame, previous: pd.DataFrame | None,
                            tol: Tolerance = Tolerance(),
                            previous_cells: set[str] | None = None) -> str | None:
    """'torch X (new, `cell`) against the previous newest, torch Y (`cell`): …' when the
    candidate's newest cell is newer than every cell of the previous run; else None.
    ``previous``: the previous run's rows (its newest cell's at least); ``previous_cells``:
    all its cells (default: those in ``previous``)."""
    if previous is None or candidate.empty or previous.empty:
        return None
    cells = set(previous["cell"]) if previous_cells is None else set(previous_cells)
    new, old = _newest(candidate["cell"]), _newest(cells)
    if new in cells or _newest([new, old]) != new or old not in set(previous["cell"]):
        return None
    head = (f"**{_release(new)} (new, {code(new)}) against the previous newest, "
            f"{_release(old)} ({code(old)}):**")
    failed = [c for c, frame in ((new, candidate), (old, previous))
              if (frame[frame["cell"] == c]["scenario"].str.startswith(schema.CELL_LEVEL)
                  & (frame[frame["cell"] == c]["status"] != schema.OK)).any()]
    if failed:
        return f"{head} {', '.join(map(code, failed))} failed as a whole; nothing to compare."
    found = differences(previous[previous["cell"] == old], candidate[candidate["cell"] == new],
                        tol)
    parts = [template.format(n=plural(len(found[kind]), noun), names=_names(found[kind]))
             for kind, template, noun in PARTS if found[kind]]
    return f"{head} {'; '.join(parts) if parts else 'no value changed'}."


def for_run(run_path: Path, frame: pd.DataFrame, tol: Tolerance = Tolerance()) -> str | None:
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
        rows = read_cell(csvs[old]).drop(columns="_line", errors="ignore")
    except Exception:  # an unreadable previous run gives no headline, never a failed report
        return None
    return newest_against_previous(frame, rows, tol, previous_cells=set(csvs))


def run_notes(run_path: Path, frame: pd.DataFrame, tol: Tolerance = Tolerance()) -> list[str]:
    """What a report says first about a run: the headline, which cells were reused,
    which CPU classes ran and what depends on them."""
    line = for_run(run_path, frame, tol)
    return ([line] if line else []) + reuse.describe(run_path) + platforms.describe(frame)
