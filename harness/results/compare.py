"""Compare two runs: what changed since the baseline?

    rngdrift compare <baseline> <candidate> [--fail-on CATS] [--atol A --rtol R] [--out DIR]
    nox -s compare -- results/baseline results/latest

Each side is a run directory (read through its matrix.csv; without one, its
cells/*.csv are merged on the fly) or a matrix.csv file. Rows are keyed on
(cell, scenario, seeding, metric); the repeats of a key are separate processes,
so a side's value is the set of values its repeats gave (one value: reproducible).

Categories (one row each in compare.csv):

    changed       both sides reproducible, values differ (numbers beyond atol/rtol;
                  fingerprints, counts, text exactly)
    lost-repro    the baseline's repeats agreed, the candidate's do not
    gained-repro  the baseline's repeats disagreed, the candidate's agree
    now-fails     a scenario that ran (or did not apply) now raises or hangs, or a
                  cell that ran now failed as a whole (a failed install)
    now-works     a scenario (or a whole cell) that failed now runs
    vanished      a key only in the baseline, or a scenario that no longer applies
                  (ok -> n/a); a scenario's metrics are not listed again when its
                  status row already explains them
    appeared      a key only in the candidate, or a scenario that now applies
    missing-cell  a cell only in the baseline (its rows are not compared)
    new-cell      a cell only in the candidate
    pins-changed  a shared cell's torch/torchvision/numpy/pillow versions differ: the
                  runs did not test the same thing
    env-changed   a shared cell's python patch release, device or platform differ
    unseeded      a value or reproducibility that moved in a scenario that draws from a
                  generator its seeding mode leaves unseeded, in both runs (e.g. anything
                  under `none`): repeats agree there only by chance (status changes keep
                  their category)
    platform      a value that differs where the cell ran on two CPU classes (Intel and
                  AMD ...) and harness/platform_dependence.csv, measured, says that value
                  depends on the class (``harness.platforms``); any other difference
                  between two classes stays `changed`
    code-changed  a user scenario's own code changed (its ``code.sha256``), and the
                  values, reproducibility and metrics of that scenario that moved with it:
                  a change of the code under test, not of torch (status changes keep
                  their category)

Timing rows are never compared. Exit status: 0 when no row falls in a --fail-on
category, 1 when one does, 2 on bad input (nothing written). By default
changed, lost-repro, vanished, missing-cell and pins-changed fail; appeared, new-cell,
gained-repro, env-changed, platform, unseeded and code-changed are listed but do not (a new
scenario, a new cell or a fix is not a regression; an unseeded program promises nothing). compare.csv and
compare.md go into the candidate's run directory (or --out), never into the
baseline's.
"""
from __future__ import annotations

from pathlib import Path

from ..matrix import compat
from . import headline, platforms
from ..runs import reuse
from ..cell import modes
from ..cell.schema import ERROR, OK, STATUS_METRIC
from .changes import (
    CATEGORIES, ENV_COLUMNS, MISSING_CELL, NEW_CELL, PIN_COLUMNS, Change, Movement, as_platform,
    as_unseeded, keys_move, movement, numbers_detail, under_code_changes, unseeded_draws)
from .frames import Folded, Loaded, Observation, Tolerance, cell_failures, fold, text


def shown(kind: str, values: tuple) -> str:
    return " | ".join(text(kind, v) or "missing" for v in values)


def _observation(metric: str, side: Folded) -> Observation:
    """A folded row as the core compares it: a status row's value is its state."""
    if metric == STATUS_METRIC and len(side.values) == 1:
        return Observation(side.values[0], side.values, side.detail, side.repeats)
    return Observation(OK, side.values, side.detail, side.repeats)


def compare_values(key: tuple, base: Folded, cand: Folded, tol: Tolerance) -> Change | None:
    """The change of one (cell, scenario, seeding, metric) present on both sides, or None."""
    kind = base.kind

    def change(category: str, detail: str = "") -> Change:
        return Change(category, *key, kind, shown(kind, base.values),
                      shown(cand.kind, cand.values), detail)
    if len(base.values) == 1 and len(cand.values) == 1 and cand.kind != kind:
        return change(Movement.CHANGED.value, f"kind {kind} -> {cand.kind}")
    moved = movement(kind, _observation(key[3], base), _observation(key[3], cand), tol)
    if moved is None:
        return None
    if key[3] == STATUS_METRIC:
        return change(moved.value, cand.detail)
    if moved is Movement.CHANGED:
        return change(moved.value, numbers_detail(kind, base.values[0], cand.values[0]))
    if moved is Movement.LOST_REPRO and base.repeats < 2:
        return change(moved.value, "the baseline ran one repeat")
    return change(moved.value)


def _first(loaded: Loaded, columns) -> dict[str, dict[str, str]]:
    """{cell: {column: value}} from each cell's first row."""
    out: dict[str, dict[str, str]] = {}
    for r in loaded.rows:
        if r.cell not in out:
            out[r.cell] = {c: getattr(r, c) for c in columns}
    return out


def changes_between(baseline: Loaded, candidate: Loaded, tol: Tolerance,
                    dependence: platforms.Dependence | None = None) -> list[Change]:
    """Every difference between the two runs, cells oldest first, category by category."""
    b_cells, c_cells = set(baseline.cells), set(candidate.cells)
    changes = [Change(MISSING_CELL, cell, "", "", "", "", "present", "absent", "")
               for cell in b_cells - c_cells]
    changes += [Change(NEW_CELL, cell, "", "", "", "", "absent", "present", "")
                for cell in c_cells - b_cells]
    shared = b_cells & c_cells

    b_meta, c_meta = _first(baseline, ENV_COLUMNS), _first(candidate, ENV_COLUMNS)
    for cell in shared:
        for column in ENV_COLUMNS:
            b_value, c_value = b_meta[cell][column], c_meta[cell][column]
            if b_value != c_value:
                category = "pins-changed" if column in PIN_COLUMNS else "env-changed"
                detail = "" if column != "platform" or platforms.same_class(b_value, c_value) \
                    else f"CPU class {platforms.platform_class(b_value)} -> " \
                         f"{platforms.platform_class(c_value)}"
                changes.append(Change(category, cell, "", "", column, "text", b_value, c_value,
                                      detail))

    # A cell that failed as a whole on one side: one row, its scenarios not listed.
    b_fail, c_fail = cell_failures(baseline), cell_failures(candidate)
    one_sided = {c for c in shared if (c in b_fail) != (c in c_fail)}
    for cell in sorted(one_sided):
        failed_side = c_fail if cell in c_fail else b_fail
        scenario = failed_side[cell].split(":", 1)[0]
        category = Movement.NOW_FAILS if cell in c_fail else Movement.NOW_WORKS
        changes.append(Change(category.value, cell, scenario, "", STATUS_METRIC, "text",
                              ERROR if cell in b_fail else OK, ERROR if cell in c_fail else OK,
                              failed_side[cell].split(":", 1)[-1].strip()))
    compared = shared - one_sided

    b, c = fold(baseline, tol, compared), fold(candidate, tol, compared)
    status_moved = set()
    metric_changes: list[Change] = []
    for key in list(b) + [k for k in c if k not in b]:
        in_b, in_c = key in b, key in c
        if in_b and in_c:
            found = compare_values(key, b[key], c[key], tol)
        else:
            side = b[key] if in_b else c[key]
            value = shown(side.kind, side.values)
            found = Change(Movement.VANISHED.value if in_b else Movement.APPEARED.value, *key,
                           side.kind, value if in_b else "", "" if in_b else value, "")
        if found:
            metric_changes.append(found)
            if found.metric == STATUS_METRIC:
                status_moved.add(found.run)
    noise = unseeded_draws(baseline) & unseeded_draws(candidate)
    metric_changes = [as_unseeded(r, noise) for r in metric_changes]
    dependence = dependence if dependence is not None else platforms.Dependence.load()
    b_platform = {cell: meta["platform"] for cell, meta in b_meta.items()}
    c_platform = {cell: meta["platform"] for cell, meta in c_meta.items()}
    metric_changes = [as_platform(r, dependence, b_platform, c_platform) for r in metric_changes]
    # A scenario whose status changed or (dis)appeared explains its metrics' coming and going.
    changes += under_code_changes([r for r in metric_changes if not (
        keys_move(r.category) and r.metric != STATUS_METRIC and r.run in status_moved)])

    rank = {cell: i for i, cell in enumerate(compat.order(b_cells | c_cells))}
    order = {name: i for i, name in enumerate(CATEGORIES)}
    modes_order = {mode: i for i, mode in enumerate(_seedings(changes))}
    return sorted(changes, key=lambda r: (order[r.category], rank[r.cell], r.scenario,
                                          modes_order.get(r.seeding, -1)))


def _seedings(changes: list[Change]) -> list[str]:
    return modes.weakest_first({r.seeding for r in changes if r.seeding})


def compare(baseline: Loaded, candidate: Loaded, tol: Tolerance,
            dependence: platforms.Dependence | None = None):
    """compare.csv's rows (``changes_between``) as a DataFrame."""
    import pandas as pd
    return pd.DataFrame(changes_between(baseline, candidate, tol, dependence),
                        columns=list(Change._fields))


def describe(side: Loaded) -> tuple[str, str, int]:
    """(source, run ids, number of cells) of one side."""
    run_ids = ", ".join(sorted({r.run_id for r in side.rows}))
    return str(side.source), run_ids, len(side.cells)


def notes(baseline: Loaded, candidate: Loaded, tol: Tolerance) -> list[str]:
    """The headline (the candidate's new newest cell against the baseline's newest) and
    which of the candidate's cells were reused from an earlier run."""
    line = headline.newest_against_previous(candidate, baseline, tol)
    return ([line] if line else []) + reuse.describe(run_dir(candidate))


def run_dir(side: Loaded) -> Path:
    return side.source.parent if side.source.is_file() else side.source
