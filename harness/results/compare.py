"""Compare two runs: what changed since the baseline?

    rngdrift compare <baseline> <candidate> [--fail-on CATS] [--atol A --rtol R] [--out DIR]
    nox -s compare -- results/baseline results/latest

Each side is a run directory (read through its matrix.csv; without one, its
cells/*.csv are merged on the fly) or a matrix.csv file. Rows are keyed on
(cell, scenario, seeding, metric); the repeats of a key are separate processes,
so a side's value is the set of values its repeats gave (one value: reproducible).

Categories (one row each in compare.csv):

    changed       both sides reproducible, values differ (numbers beyond atol/rtol;
                  fingerprints, counts, text exactly); also a scenario whose status
                  changed (ok -> error ...) and a cell that failed on one side only
    lost-repro    the baseline's repeats agreed, the candidate's do not
    gained-repro  the baseline's repeats disagreed, the candidate's agree
    vanished      a key only in the baseline (a scenario's metrics are not listed
                  again when its status row already explains it)
    appeared      a key only in the candidate
    missing-cell  a cell only in the baseline (its rows are not compared)
    new-cell      a cell only in the candidate
    pins-changed  a shared cell's torch/torchvision/numpy/pillow versions differ: the
                  runs did not test the same thing
    env-changed   a shared cell's python patch release, device or platform differ
    unseeded      a value or reproducibility that moved in a scenario that draws from a
                  generator its seeding mode leaves unseeded, in both runs (e.g. anything
                  under `none`): repeats agree there only by chance (status changes stay
                  `changed`)
    platform      a value that differs where the cell ran on two CPU classes (Intel and
                  AMD ...) and harness/platform_dependence.csv, measured, says that value
                  depends on the class (``harness.platforms``); any other difference
                  between two classes stays `changed`
    code-changed  a user scenario's own code changed (its ``code.sha256``), and the
                  values, reproducibility and metrics of that scenario that moved with it:
                  a change of the code under test, not of torch (status changes stay
                  `changed`)

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

import pandas as pd

from ..matrix import compat
from . import headline, platforms
from ..runs import reuse
from ..cell.schema import ERROR, OK, STATUS_METRIC
from .changes import (
    CATEGORIES, COLUMNS, ENV_COLUMNS, PIN_COLUMNS, Change, as_platform, as_unseeded, numbers_detail, shown, under_code_changes, unseeded_draws)
from .frames import SEEDING_MODES, Loaded, Tolerance, cell_failures, fold, same
from ..text import code, plural, table, text


MAX_MD_ROWS = 100


def compare_values(key: tuple, kind: str, base, cand, tol: Tolerance) -> Change | None:
    """The change of one (cell, scenario, seeding, metric) present on both sides, or None."""
    b_values, c_values = base.distinct, cand.distinct
    b_ok, c_ok = len(b_values) == 1, len(c_values) == 1

    def change(category: str, detail: str = "") -> Change:
        return Change(category, *key, kind, shown(b_values), shown(c_values), detail)
    if b_ok and c_ok:
        if cand.kind != kind:
            return change("changed", f"kind {kind} -> {cand.kind}")
        if not same(kind, b_values[0], c_values[0], tol):
            return change("changed", cand.detail if key[3] == STATUS_METRIC
                          else numbers_detail(kind, b_values[0], c_values[0]))
        return None
    if b_ok:
        return change("lost-repro", "" if base.repeats > 1 else "the baseline ran one repeat")
    if c_ok:
        return change("gained-repro")
    return None  # random on both sides: nothing to compare


def _by_key(folded: pd.DataFrame) -> dict[tuple, tuple]:
    return {(r.cell, r.scenario, r.seeding, r.metric): r for r in folded.itertuples(index=False)}


def _meta(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.groupby("cell", sort=False)[list(ENV_COLUMNS)].first()


def compare(baseline: Loaded, candidate: Loaded, tol: Tolerance,
            dependence: platforms.Dependence | None = None) -> pd.DataFrame:
    """compare.csv's rows: every difference between the two runs, cells oldest first.
    ``dependence``: which rows depend on the CPU class (default: the committed data)."""
    b_frame, c_frame = baseline.frame, candidate.frame
    b_cells, c_cells = set(b_frame["cell"]), set(c_frame["cell"])
    changes = [Change("missing-cell", cell, "", "", "", "", "present", "absent", "")
               for cell in b_cells - c_cells]
    changes += [Change("new-cell", cell, "", "", "", "", "absent", "present", "")
                for cell in c_cells - b_cells]
    shared = b_cells & c_cells

    b_meta, c_meta = _meta(b_frame), _meta(c_frame)
    for cell in shared:
        for column in ENV_COLUMNS:
            if b_meta.at[cell, column] != c_meta.at[cell, column]:
                category = "pins-changed" if column in PIN_COLUMNS else "env-changed"
                b_value, c_value = b_meta.at[cell, column], c_meta.at[cell, column]
                detail = "" if column != "platform" or platforms.same_class(b_value, c_value) \
                    else f"CPU class {platforms.platform_class(b_value)} -> " \
                         f"{platforms.platform_class(c_value)}"
                changes.append(Change(category, cell, "", "", column, "text", b_value, c_value,
                                      detail))

    # A cell that failed as a whole on one side: one row, its scenarios not listed.
    b_fail, c_fail = cell_failures(b_frame), cell_failures(c_frame)
    one_sided = {c for c in shared if (c in b_fail) != (c in c_fail)}
    for cell in sorted(one_sided):
        failed_side = c_fail if cell in c_fail else b_fail
        scenario = failed_side[cell].split(":", 1)[0]
        changes.append(Change("changed", cell, scenario, "", STATUS_METRIC, "text",
                              ERROR if cell in b_fail else OK, ERROR if cell in c_fail else OK,
                              failed_side[cell].split(":", 1)[-1].strip()))
    compared = shared - one_sided

    b = _by_key(fold(b_frame[b_frame["cell"].isin(compared)], tol))
    c = _by_key(fold(c_frame[c_frame["cell"].isin(compared)], tol))
    status_moved = set()
    metric_changes: list[Change] = []
    for key in list(b) + [k for k in c if k not in b]:
        in_b, in_c = key in b, key in c
        if in_b and in_c:
            found = compare_values(key, b[key].kind, b[key], c[key], tol)
        else:
            side = b[key] if in_b else c[key]
            value = shown(side.distinct)
            found = Change("vanished" if in_b else "appeared", *key, side.kind,
                           value if in_b else "", "" if in_b else value, "")
        if found:
            metric_changes.append(found)
            if found.metric == STATUS_METRIC:
                status_moved.add(found.run)
    noise = unseeded_draws(b_frame) & unseeded_draws(c_frame)
    metric_changes = [as_unseeded(r, noise) for r in metric_changes]
    dependence = dependence if dependence is not None else platforms.Dependence.load()
    metric_changes = [as_platform(r, dependence, b_meta, c_meta) for r in metric_changes]
    # A scenario whose status changed or (dis)appeared explains its metrics' coming and going.
    changes += under_code_changes([r for r in metric_changes if not (
        r.category in ("vanished", "appeared") and r.metric != STATUS_METRIC
        and r.run in status_moved)])

    result = pd.DataFrame(changes, columns=COLUMNS)
    rank = {cell: i for i, cell in enumerate(compat.order(b_cells | c_cells))}
    order = {name: i for i, name in enumerate(CATEGORIES)}
    modes = {mode: i for i, mode in enumerate(SEEDING_MODES)}
    result = result.assign(_c=result["category"].map(order), _r=result["cell"].map(rank),
                           _m=result["seeding"].map(modes).fillna(-1))
    keys = ["_c", "_r", "scenario", "_m"]
    return result.sort_values(keys, kind="stable").drop(columns=["_c", "_r", "_m"]) \
        .reset_index(drop=True)


def _describe(side: Loaded) -> str:
    frame = side.frame
    run_ids = ", ".join(sorted(frame["run_id"].unique()))
    return f"{code(side.source)} (run {text(run_ids)}, {plural(frame['cell'].nunique(), 'cell')})"


def _notes(baseline: Loaded, candidate: Loaded, tol: Tolerance) -> list[str]:
    """The headline (the candidate's new newest cell against the baseline's newest) and
    which of the candidate's cells were reused from an earlier run."""
    line = headline.newest_against_previous(candidate.frame, baseline.frame, tol)
    return ([line] if line else []) + reuse.describe(_run_dir(candidate))


def summary(result: pd.DataFrame, baseline: Loaded, candidate: Loaded, tol: Tolerance,
            fail_on: tuple[str, ...]) -> list[str]:
    counts = result["category"].value_counts()
    failing = int(sum(counts.get(c, 0) for c in fail_on))
    shared = len(set(baseline.frame["cell"]) & set(candidate.frame["cell"]))
    lines = ["# rngdrift compare", ""] + [f"{n}\n" for n in _notes(baseline, candidate, tol)]
    lines += [f"- baseline: {_describe(baseline)}",
             f"- candidate: {_describe(candidate)}",
             f"- {plural(shared, 'shared cell')} compared; numbers equal within atol={tol.atol:g}, "
             f"rtol={tol.rtol:g}; failing categories: {', '.join(map(code, fail_on)) or 'none'}",
             ""]
    if result.empty:
        lines.append("**No differences.**")
    else:
        verdict = (f"**{failing} difference(s) in failing categories.**" if failing
                   else "**No difference in a failing category.**")
        lines += [verdict, ""]
        lines += table(["category", "rows", "fails"],
                       [[code(c), str(counts[c]), "yes" if c in fail_on else "no"]
                        for c in CATEGORIES if c in counts])
    return lines


def render(result: pd.DataFrame, head: list[str]) -> str:
    lines = list(head)
    for category in CATEGORIES:
        rows = result[result["category"] == category]
        if rows.empty:
            continue
        lines += ["", f"## {category}", ""]
        body = [[code(r.cell), code(r.scenario), code(r.seeding), code(r.metric),
                 text(r.baseline, 60), text(r.candidate, 60), text(r.detail, 120)]
                for r in rows.head(MAX_MD_ROWS).itertuples(index=False)]
        lines += table(["cell", "scenario", "seeding", "metric", "baseline", "candidate",
                        "detail"], body)
        if len(rows) > MAX_MD_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_MD_ROWS} more in compare.csv")
    return "\n".join(lines).rstrip() + "\n"


def _run_dir(side: Loaded) -> Path:
    return side.source.parent if side.source.is_file() else side.source
