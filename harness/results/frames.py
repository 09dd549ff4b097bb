"""Load and merge a run's results; collapse repeats into comparable values.

The host side's one reader (files are parsed and checked by ``resultfiles``).
``report`` and ``compare`` both start here, so a CSV is either accepted by both or
rejected by both with the same one-line message (file, line, problem).

    load(path)      a run directory (cells/*.csv, else matrix.csv) or a matrix.csv
    merge(run_dir)  the run's cell CSVs, validated and merged, cells oldest first
    fold(frame)     one row per (cell, scenario, seeding, metric) with the repeats folded in
    expand(frame)   fold, plus every scenario's metrics in every cell that ran it
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pandas as pd

from ..matrix import compat
from ..cell import schema
from ..cell.schema import CELL_LEVEL, ERROR, NA, OK, RECIPE_METRIC, RNG_PREFIX, TIMEOUT
from ..errors import UserError
from .resultfiles import MATRIX, check_manifest, read_cell, read_csv, scan_cells, validate

# Weakest first: none < python < torch < all < full; mode -> the generators it seeds.
SEEDING_MODES = schema.MODES
SEEDED = schema.SEEDED


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Numbers are equal when |a - b| <= atol + rtol * max(|a|, |b|)."""
    atol: float = 1e-9
    rtol: float = 1e-6


@dataclasses.dataclass
class Loaded:
    frame: pd.DataFrame
    source: Path                                          # the run dir or matrix.csv read
    notes: list[str] = dataclasses.field(default_factory=list)        # harmless oddities
    interrupted: list[str] = dataclasses.field(default_factory=list)  # cells with a log, no CSV


# -- reading -----------------------------------------------------------------

def order_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the oldest cell first (``compat.order``), each cell's rows in file order."""
    rank = {cell: i for i, cell in enumerate(compat.order(frame["cell"].unique()))}
    ordered = frame.assign(_o=frame["cell"].map(rank)).sort_values("_o", kind="stable")
    return ordered.drop(columns="_o").reset_index(drop=True)


def _merge(paths: list[Path], notes: list[str]) -> pd.DataFrame:
    frames = [read_cell(p, notes).assign(_file=str(p)) for p in paths]
    frame = pd.concat(frames, ignore_index=True)
    dupes = frame.duplicated(list(schema.KEY), keep=False)
    if dupes.any():
        clash = frame[dupes]
        first = clash.iloc[0]
        other = clash[clash["_file"] != first["_file"]]
        also = other.iloc[0]["_file"] if len(other) else first["_file"]
        raise UserError(f"{first['_file']}: duplicated key "
                       f"{dict(zip(schema.KEY, first[list(schema.KEY)]))} (also in {also}); "
                       "the same cell in two files?")
    return order_cells(frame.drop(columns="_file"))


def merge(run_path: Path) -> pd.DataFrame:
    """The run's cell CSVs merged and validated, oldest cell first (no ``_line`` column)."""
    return load_run(run_path).frame


def load_run(run_path: Path) -> Loaded:
    """A run directory: its cells/*.csv merged; without any, its matrix.csv."""
    run_path = Path(run_path)
    if not run_path.exists():
        raise UserError(f"{run_path}: no such run directory")
    if not run_path.is_dir():
        raise UserError(f"{run_path}: not a directory")
    cells_dir = run_path / "cells"
    if not cells_dir.is_dir() and (run_path / MATRIX).is_file():
        return load_matrix(run_path / MATRIX)
    csvs, notes, interrupted = scan_cells(cells_dir)
    if not csvs and (run_path / MATRIX).is_file():
        return load_matrix(run_path / MATRIX)  # a baseline: matrix.csv and the cells' freezes
    if not csvs and interrupted:
        raise UserError(f"{cells_dir}: no cell CSV yet; {len(interrupted)} cell(s) were "
                        f"interrupted ({', '.join(interrupted[:3])}{' ...' if len(interrupted) > 3 else ''}); "
                        f"finish them with: nox -s matrix -- --run-id {run_path.name} --resume")
    if not csvs:
        raise UserError(f"{cells_dir}: no cell CSVs (empty run directory?)")
    frame = _merge(csvs, notes).drop(columns="_line")
    return Loaded(frame, run_path, notes, interrupted)


def load_matrix(path: Path) -> Loaded:
    frame = read_csv(path)
    validate(path, frame)
    notes: list[str] = []
    for cell, rows in frame.groupby("cell", sort=False):
        if (rows["scenario"] == schema.CELL_MANIFEST).any():
            check_manifest(Path(f"{path} ({cell})"), rows.reset_index(drop=True), notes)
    return Loaded(order_cells(frame).drop(columns="_line"), path, notes)


def load(path: Path, prefer_matrix: bool = False) -> Loaded:
    """A matrix.csv file, or a run directory: its cells/*.csv merged (``load_run``), or
    with ``prefer_matrix`` its matrix.csv when it has one (noting cell CSVs newer than it)."""
    path = Path(path)
    if path.is_file():
        return load_matrix(path)
    matrix = path / MATRIX
    if prefer_matrix and matrix.is_file():
        loaded = load_matrix(matrix)
        cells_dir = path / "cells"
        newer = [p.name for p in sorted(cells_dir.glob("*.csv")) if cells_dir.is_dir()
                 and p.stat().st_mtime > matrix.stat().st_mtime]
        if newer:
            loaded.notes.append(f"{matrix}: older than {', '.join(newer[:3])}"
                                f"{' ...' if len(newer) > 3 else ''}; run the report to refresh it")
        return loaded
    return load_run(path)


# -- values --------------------------------------------------------------------

def _float(text: str) -> float:
    return float(text)


def same(kind: str, a: str, b: str, tol: Tolerance) -> bool:
    """Equal under ``kind``'s rule: numbers within the tolerance, everything else exactly."""
    if a == b:
        return True
    if kind not in ("number", "count"):
        return False
    try:
        x, y = _float(a), _float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or math.isinf(y):
        return x == y or (math.isnan(x) and math.isnan(y))
    if kind == "count":
        return x == y
    return abs(x - y) <= tol.atol + tol.rtol * max(abs(x), abs(y))


def distinct(kind: str, values: list[str], tol: Tolerance) -> list[str]:
    """Representatives of ``values``: each value joins the first one it equals."""
    if len(set(values)) == 1:
        return [values[0]]
    reps: list[str] = []
    for value in values:
        if not any(same(kind, rep, value, tol) for rep in reps):
            reps.append(value)
    return reps


def cell_failures(frame: pd.DataFrame) -> dict[str, str]:
    """{cell: detail} for cells with a non-ok cell-level row (e.g. a failed install)."""
    rows = frame[frame["scenario"].str.startswith(CELL_LEVEL) & (frame["status"] != OK)]
    return {r.cell: f"{r.scenario}: {r.detail}".strip() for r in rows.itertuples()}


_GENERATOR_ROW = re.compile(r"rng\.(?:(worker|process)\.)?(python|numpy|torch|cuda)")


def generators_drawn(frame: pd.DataFrame) -> dict[tuple[str, str, str], frozenset[str]]:
    """{(cell, scenario, seeding): the global generators whose seeding its results depend
    on}, from the attribution rows of every repeat.

    A generator the scenario's own process drew from counts; so does one a process it
    forked (a rank, a pool) drew from. DataLoader workers are seeded from the main
    torch generator (their draws show there, as the base-seed draw), except NumPy in
    workers before torch 1.9, which inherits the main process's state: a worker's
    NumPy draw there depends on NumPy's seeding.
    """
    rows = frame[frame["metric"].str.match(r"rng\.") & (frame["value"] == "1")]
    out: dict[tuple[str, str, str], set[str]] = {}
    for r in rows.itertuples(index=False):
        match = _GENERATOR_ROW.fullmatch(r.metric)
        if match is None:
            continue
        role, generator = match.groups()
        if role == "worker" and not (generator == "numpy"
                                     and compat._version(r.torch) < (1, 9)):
            continue
        out.setdefault((r.cell, r.scenario, r.seeding), set()).add(generator)
    return {key: frozenset(gens) for key, gens in out.items()}


# What a (cell, scenario, seeding, metric) is after folding its repeats in: ``OK``, or
# the worst status of a scenario when any repeat was not ok.
_WORST = (ERROR, TIMEOUT, NA)
FOLD_COLUMNS = ["cell", "scenario", "seeding", "metric", "kind", "distinct", "repeats", "detail"]
KEY = ["cell", "scenario", "seeding", "metric"]


def absent_means_zero(metric: str) -> bool:
    """Attribution counts are written only when non-zero (an API called, a worker that
    reported): a missing one is 0, not a metric that went missing."""
    return metric.startswith(RNG_PREFIX) and metric != RECIPE_METRIC


def fold(frame: pd.DataFrame, tol: Tolerance) -> pd.DataFrame:
    """One row per (cell, scenario, seeding, metric) as measured; timing rows and the
    manifest (how many rows a file holds) left out.

    ``distinct``: the distinct values over the repeats (one value: they agreed);
    ``repeats``: how many repeats reported it; ``detail``: the first non-empty detail.
    Status rows and cell-level rows are folded like any other text metric.
    """
    frame = frame[(frame["kind"] != schema.TIMING) & (frame["scenario"] != schema.CELL_MANIFEST)]
    groups: dict[tuple, list] = {}  # key -> [kind, values, detail], in first-seen order
    columns = [frame[c].to_numpy() for c in (*KEY, "kind", "value", "detail")]
    for cell, scenario, seeding, metric, kind, value, detail in zip(*columns):
        group = groups.get((cell, scenario, seeding, metric))
        if group is None:
            groups[(cell, scenario, seeding, metric)] = [kind, [value], detail]
        else:
            group[1].append(value)
            if detail and not group[2]:
                group[2] = detail
    rows = [(*key, kind, tuple(distinct(kind, values, tol)), len(values), detail)
            for key, (kind, values, detail) in groups.items()]
    return pd.DataFrame(rows, columns=FOLD_COLUMNS, dtype=object)


def expand(frame: pd.DataFrame, tol: Tolerance) -> pd.DataFrame:
    """``fold`` for the reports: every scenario's metrics in every cell that ran it.

    Adds ``state``: ``ok``; else the worst status over the repeats (``error`` >
    ``timeout`` > ``n/a``), given to every metric the scenario reports anywhere in
    the run (a non-ok scenario has only its status row); ``n/a`` for a metric an ok
    scenario did not report. A metric missing from some ok repeats adds ``""`` to
    ``distinct`` (the repeats disagree). A failed cell (cell-level error row, e.g. a
    failed install) gets every (scenario, seeding, metric) of the run as ``error``.
    Status rows are kept only for scenarios that report no metric anywhere.
    """
    # Code identity rows say what ran, not what it gave: never a drift or a change point.
    folded = fold(frame[~frame["metric"].isin(schema.CODE_METRICS)], tol)
    cell_level = folded["scenario"].str.startswith(CELL_LEVEL)
    is_status = folded["metric"] == schema.STATUS_METRIC
    status = folded[is_status & ~cell_level]
    metrics = folded[~is_status & ~cell_level]
    per_scenario: dict[str, list[tuple[str, str]]] = {}
    for row in metrics[["scenario", "metric", "kind"]].drop_duplicates(
            ["scenario", "metric"]).itertuples():
        per_scenario.setdefault(row.scenario, []).append((row.metric, row.kind))
    measured = {tuple(r[:4]): r for r in metrics.itertuples(index=False)}

    out = []
    for run in status.itertuples(index=False):
        failed = next((s for s in _WORST if s in run.distinct), None)
        wanted = per_scenario.get(run.scenario) or [(schema.STATUS_METRIC, "text")]
        for metric, kind in wanted:
            base = (run.cell, run.scenario, run.seeding, metric, kind)
            if failed:
                out.append((*base, failed, (), run.repeats, run.detail))
            elif metric == schema.STATUS_METRIC:
                out.append((*base, OK, run.distinct, run.repeats, run.detail))
            elif (row := measured.get(base[:4])) is None:
                if absent_means_zero(metric):
                    out.append((*base, OK, ("0",), run.repeats, ""))
                else:
                    out.append((*base, NA, (), run.repeats, "metric not reported"))
            else:
                absent = "0" if absent_means_zero(metric) else ""
                seen = row.distinct
                if row.repeats < run.repeats and absent not in seen:
                    seen += (absent,)
                out.append((*base, OK, seen, run.repeats, ""))
    columns = FOLD_COLUMNS[:5] + ["state"] + FOLD_COLUMNS[5:]
    result = pd.DataFrame(out, columns=columns, dtype=object)
    failures = cell_failures(frame)
    if failures:
        result = result[~result["cell"].isin(failures)]
        grid = result[["scenario", "seeding", "metric", "kind"]].drop_duplicates()
        holes = [(cell, r.scenario, r.seeding, r.metric, r.kind, ERROR, (), 0, detail)
                 for cell, detail in failures.items() for r in grid.itertuples()]
        result = pd.concat([result, pd.DataFrame(holes, columns=columns, dtype=object)],
                           ignore_index=True)
    return result
