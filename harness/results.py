"""Read, validate and merge result CSVs; collapse repeats into comparable values.

The host side's one reader. ``report`` and ``compare`` both start here, so a CSV
is either accepted by both or rejected by both with the same one-line message
(file, line, problem).

    load(path)      a run directory (cells/*.csv, else matrix.csv) or a matrix.csv
    merge(run_dir)  the run's cell CSVs, validated and merged, cells oldest first
    collapse(frame) one row per (cell, scenario, seeding, metric) with the repeats folded in
"""
from __future__ import annotations

import csv
import dataclasses
import math
import re
from pathlib import Path

import pandas as pd

from harness import compat
from harness.cell import schema
from harness.cell.schema import CALLS_PREFIX, CELL_LEVEL, ERROR, NA, OK, TIMEOUT
from harness.errors import UserError

MATRIX = "matrix.csv"
# What a cell directory holds besides its CSV (see harness/runs.py).
COMPANIONS = (".freeze.txt", ".log")
_TMP = re.compile(r"\.tmp-\d+$")
_INT = re.compile(r"-?\d+")
_REPEAT = re.compile(r"[1-9]\d*")

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

def read_csv(path: Path) -> pd.DataFrame:
    """Parse one results CSV strictly; every column str, plus ``_line`` for messages."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a spreadsheet may add a BOM
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}); hand-edited or corrupt?") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    if not text.strip():
        raise UserError(f"{path}: empty file (interrupted run?)")
    if not text.endswith("\n"):
        raise UserError(f"{path}: truncated: the last line has no newline (interrupted write "
                       "or hand-edited)")
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    try:
        header = next(reader)
        if tuple(header) != schema.COLUMNS:
            missing = [c for c in schema.COLUMNS if c not in header]
            extra = [c for c in header if c not in schema.COLUMNS]
            what = (f"missing {missing}" if missing else "") + (
                f"{'; ' if missing else ''}unexpected {extra}" if extra else "")
            raise UserError(f"{path}: header is not the schema's columns "
                           f"({what or 'wrong order'}); not a rngdrift results CSV?")
        rows = []
        for row in reader:
            if len(row) != len(schema.COLUMNS):
                raise UserError(f"{path}:{reader.line_num}: {len(row)} fields, expected "
                               f"{len(schema.COLUMNS)} (truncated or hand-edited)")
            rows.append(row + [reader.line_num])
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if not rows:
        raise UserError(f"{path}: header but no rows (interrupted run?)")
    return pd.DataFrame(rows, columns=[*schema.COLUMNS, "_line"]).astype(
        {c: str for c in schema.COLUMNS})


def _where(path: Path, frame: pd.DataFrame, mask) -> str:
    first = frame[mask].iloc[0]
    return f"{path}:{first['_line']}"


def _check(path: Path, frame: pd.DataFrame, mask, problem) -> None:
    if mask.any():
        first = frame[mask].iloc[0]
        raise UserError(f"{_where(path, frame, mask)}: {problem(first)}")


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def validate(path: Path, frame: pd.DataFrame) -> None:
    """Raise UserError naming the first row of ``frame`` (read from ``path``) that breaks the schema."""
    _check(path, frame, frame["schema_version"] != schema.SCHEMA_VERSION,
           lambda r: f"schema_version {r['schema_version']!r}; this rngdrift reads "
                     f"{schema.SCHEMA_VERSION!r} (rerun the cells, or use the rngdrift that wrote it)")
    for column in ("cell", "scenario", "metric"):
        _check(path, frame, frame[column] == "", lambda r, c=column: f"empty {c}")
    _check(path, frame, ~frame["kind"].isin(schema.KINDS),
           lambda r: f"kind {r['kind']!r} is not one of {', '.join(schema.KINDS)}")
    _check(path, frame, ~frame["status"].isin(schema.STATUSES),
           lambda r: f"status {r['status']!r} is not one of {', '.join(schema.STATUSES)}")
    cell_level = frame["scenario"].str.startswith(CELL_LEVEL)
    _check(path, frame, ~cell_level & ~frame["seeding"].isin(SEEDING_MODES),
           lambda r: f"seeding {r['seeding']!r} is not one of {', '.join(SEEDING_MODES)}")
    _check(path, frame, ~cell_level & ~frame["repeat"].str.fullmatch(_REPEAT.pattern),
           lambda r: f"repeat {r['repeat']!r} is not a positive integer")
    is_status = frame["metric"] == schema.STATUS_METRIC
    _check(path, frame, is_status & (frame["value"] != frame["status"]),
           lambda r: f"status row says value {r['value']!r} but status {r['status']!r}")
    _check(path, frame, ~is_status & (frame["status"] != OK),
           lambda r: f"metric row {r['metric']!r} has status {r['status']!r}; only the "
                     f"{schema.STATUS_METRIC!r} row of a scenario carries a non-ok status")
    _check(path, frame, cell_level & ~is_status,
           lambda r: f"cell-level scenario {r['scenario']!r} may only hold a "
                     f"{schema.STATUS_METRIC!r} row")
    numeric = frame["kind"].isin(("number", "timing")) & ~is_status
    bad = numeric & ~frame["value"].map(_is_float)
    _check(path, frame, bad, lambda r: f"{r['kind']} {r['metric']!r} value {r['value']!r} "
                                       "is not a number")
    count = (frame["kind"] == "count") & ~is_status
    _check(path, frame, count & ~frame["value"].str.fullmatch(_INT.pattern),
           lambda r: f"count {r['metric']!r} value {r['value']!r} is not an integer")
    run_key = ["cell", "scenario", "seeding", "repeat"]
    status_keys = pd.MultiIndex.from_frame(frame.loc[is_status, run_key])
    orphan = ~is_status & ~pd.MultiIndex.from_frame(frame[run_key]).isin(status_keys)
    _check(path, frame, orphan, lambda r: f"metric {r['metric']!r} of {r['scenario']} "
                                          f"({r['seeding']}, repeat {r['repeat']}) has no "
                                          f"{schema.STATUS_METRIC!r} row")
    dupes = frame.duplicated(list(schema.KEY), keep=False)
    if dupes.any():
        lines = frame.loc[dupes, "_line"].tolist()
        first = frame[dupes].iloc[0]
        raise UserError(f"{path}:{lines[1]}: duplicated key "
                       f"{dict(zip(schema.KEY, first[list(schema.KEY)]))} "
                       f"(also at line {lines[0]})")


def read_cell(path: Path) -> pd.DataFrame:
    frame = read_csv(path)
    validate(path, frame)
    cells = frame["cell"].unique()
    if len(cells) > 1:
        raise UserError(f"{path}: holds {len(cells)} cells ({', '.join(cells[:3])}...); "
                       "a cell CSV holds one")
    return frame


def scan_cells(cells_dir: Path) -> tuple[list[Path], list[str], list[str]]:
    """(cell CSVs, notes on what was ignored, cells with a log or freeze but no CSV)."""
    if not cells_dir.is_dir():
        raise UserError(f"{cells_dir.parent}: no cells/ directory and no {MATRIX}; "
                       "not a rngdrift run directory")
    csvs, notes, stems = [], [], set()
    for entry in sorted(cells_dir.iterdir()):
        name = entry.name
        if _TMP.search(name):
            notes.append(f"{entry}: leftover temporary file of an interrupted write; ignored")
        elif entry.is_dir():
            notes.append(f"{entry}: a directory in cells/; ignored")
        elif name.endswith(".csv"):
            csvs.append(entry)
        elif name.endswith(COMPANIONS):
            stems.add(next(name[:-len(s)] for s in COMPANIONS if name.endswith(s)))
        else:
            notes.append(f"{entry}: not a cell CSV; ignored")
    interrupted = sorted(stems - {p.stem for p in csvs})
    for stem in interrupted:
        notes.append(f"{cells_dir / stem}: log but no CSV (cell interrupted or still running); "
                     "missing from this report")
    return csvs, notes, interrupted


def order_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the oldest cell first (``compat.order``), each cell's rows in file order."""
    rank = {cell: i for i, cell in enumerate(compat.order(frame["cell"].unique()))}
    ordered = frame.assign(_o=frame["cell"].map(rank)).sort_values("_o", kind="stable")
    return ordered.drop(columns="_o").reset_index(drop=True)


def _merge(paths: list[Path]) -> pd.DataFrame:
    frames = [read_cell(p).assign(_file=str(p)) for p in paths]
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
    if not csvs:
        raise UserError(f"{cells_dir}: no cell CSVs (empty run directory?)")
    frame = _merge(csvs).drop(columns="_line")
    return Loaded(frame, run_path, notes, interrupted)


def load_matrix(path: Path) -> Loaded:
    frame = read_csv(path)
    validate(path, frame)
    return Loaded(order_cells(frame).drop(columns="_line"), path)


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
    reps: list[str] = []
    for value in values:
        if not any(same(kind, rep, value, tol) for rep in reps):
            reps.append(value)
    return reps


def cell_failures(frame: pd.DataFrame) -> dict[str, str]:
    """{cell: detail} for cells with a non-ok cell-level row (e.g. a failed install)."""
    rows = frame[frame["scenario"].str.startswith(CELL_LEVEL) & (frame["status"] != OK)]
    return {r.cell: f"{r.scenario}: {r.detail}".strip() for r in rows.itertuples()}


# What a (cell, scenario, seeding, metric) is after folding its repeats in: ``OK``, or
# the worst status of a scenario when any repeat was not ok.
_WORST = (ERROR, TIMEOUT, NA)
FOLD_COLUMNS = ["cell", "scenario", "seeding", "metric", "kind", "distinct", "repeats", "detail"]
KEY = ["cell", "scenario", "seeding", "metric"]
# API call counts (CALLS_PREFIX) are reported only for APIs that were called: absent means 0.


def fold(frame: pd.DataFrame, tol: Tolerance) -> pd.DataFrame:
    """One row per (cell, scenario, seeding, metric) as measured; timing rows left out.

    ``distinct``: the distinct values over the repeats (one value: they agreed);
    ``repeats``: how many repeats reported it; ``detail``: the first non-empty detail.
    Status rows and cell-level rows are folded like any other text metric.
    """
    frame = frame[frame["kind"] != "timing"]
    rows = []
    for key, group in frame.groupby(KEY, sort=False):
        kind = group["kind"].iloc[0]
        details = [d for d in group["detail"] if d]
        rows.append((*key, kind, tuple(distinct(kind, list(group["value"]), tol)), len(group),
                     details[0] if details else ""))
    return pd.DataFrame(rows, columns=FOLD_COLUMNS)


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
    folded = fold(frame, tol)
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
                if metric.startswith(CALLS_PREFIX):
                    out.append((*base, OK, ("0",), run.repeats, ""))
                else:
                    out.append((*base, NA, (), run.repeats, "metric not reported"))
            else:
                absent = "0" if metric.startswith(CALLS_PREFIX) else ""
                seen = row.distinct
                if row.repeats < run.repeats and absent not in seen:
                    seen += (absent,)
                out.append((*base, OK, seen, run.repeats, ""))
    columns = FOLD_COLUMNS[:5] + ["state"] + FOLD_COLUMNS[5:]
    result = pd.DataFrame(out, columns=columns)
    failures = cell_failures(frame)
    if failures:
        result = result[~result["cell"].isin(failures)]
        grid = result[["scenario", "seeding", "metric", "kind"]].drop_duplicates()
        holes = [(cell, r.scenario, r.seeding, r.metric, r.kind, ERROR, (), 0, detail)
                 for cell, detail in failures.items() for r in grid.itertuples()]
        result = pd.concat([result, pd.DataFrame(holes, columns=columns)], ignore_index=True)
    return result
