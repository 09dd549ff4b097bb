"""Reading result files: one cell CSV or a matrix.csv, parsed strictly and checked
against the schema, and a run's cells/ folder scanned for what belongs there.

Every problem is a ``UserError`` naming the file, the line and what is wrong, so
report and compare accept or reject a file alike.
"""
from __future__ import annotations

import csv
import io
import re
import stat
from pathlib import Path

import pandas as pd

from ..cell import schema
from ..cell.safetext import visible
from ..cell.schema import CELL_LEVEL, OK
from ..errors import UserError
from ..matrix import compat
from ..text import is_number

MATRIX = "matrix.csv"
# What a cell directory holds besides its CSV (see harness/runs.py); a journal is
# what an interrupted cell leaves for --resume.
COMPANIONS = (".freeze.txt", ".log")
JOURNAL = ".journal"
_TMP = re.compile(re.escape(schema.TMP_MARK) + r"[A-Za-z0-9_]+$")
_INT = re.compile(r"-?[0-9]+")
# More repeats than this is a hand-edited file, not a run.
MAX_REPEAT = 10_000
_REPEAT = re.compile(r"[1-9][0-9]{0,4}")

SEEDING_MODES = schema.MODES
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)  # rundirs' grammar
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]*", re.ASCII)
VERSION_COLUMNS = ("python", "torch", "torchvision", "numpy", "pillow")
FREE_TEXT = ("platform", "device", "value", "detail")


def _regular_file(path: Path) -> None:
    """Only a regular file is read: a FIFO would hang the reader, a device never end."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: not a regular file")


def read_csv(path: Path) -> pd.DataFrame:
    """Parse one results CSV strictly; every column str, plus ``_line`` for messages."""
    _regular_file(path)
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
    # Rows end at \n or \r\n only (as the csv module writes them); a field holding
    # another character str.splitlines() splits on stays one field.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
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
    # Plain Python strings (object columns), not pandas' string dtype: the report walks
    # these columns row by row, and iterating an extension array is ten times slower.
    return pd.DataFrame(rows, columns=[*schema.COLUMNS, "_line"], dtype=object)


def _where(path: Path, frame: pd.DataFrame, mask) -> str:
    first = frame[mask].iloc[0]
    return f"{path}:{first['_line']}"


def _check(path: Path, frame: pd.DataFrame, mask, problem) -> None:
    if mask.any():
        first = frame[mask].iloc[0]
        raise UserError(f"{_where(path, frame, mask)}: {problem(first)}")


def _bad(frame: pd.DataFrame, column: str, problem) -> pd.Series:
    """Rows whose ``column`` value ``problem(value)`` finds wrong (each value judged once)."""
    verdicts = {value: bool(problem(value)) for value in frame[column].unique()}
    return frame[column].map(verdicts)


def _names(path: Path, frame: pd.DataFrame) -> None:
    """Names and ids as they are born (a hand edit cannot put markup, a formula, a control
    character or a bidi override into a report through them): run ids and cell ids by
    their grammar, scenario and metric names by the rules of ``schema.name_problem``
    (rngdrift's own names allowed), versions as versions."""
    _check(path, frame, _bad(frame, "run_id", lambda v: not _RUN_ID.fullmatch(v)),
           lambda r: f"run_id {visible(r['run_id'])!r} is not a run id (letters, digits, '.', "
                     "'_' or '-'); hand-edited?")
    _check(path, frame, _bad(frame, "cell", lambda v: compat.parse_id(v) is None),
           lambda r: f"cell {visible(r['cell'])!r} is not a cell id like "
                     "py3.8-torch1.5.0-tv0.6.0; hand-edited?")
    for column in ("scenario", "metric"):
        _check(path, frame, _bad(frame, column, lambda v: v and schema.name_problem(v, "name")),
               lambda r, c=column: f"{c} {visible(schema.name_problem(r[c], 'name'))}; "
                                   "hand-edited?")
    for column in VERSION_COLUMNS:
        _check(path, frame, _bad(frame, column, lambda v: v and not _VERSION.fullmatch(v)),
               lambda r, c=column: f"{c} {visible(r[c])!r} is not a version; hand-edited?")


def _printable(frame: pd.DataFrame) -> None:
    """Every other text field with its non-printable characters (NUL, escape sequences,
    line separators, bidi overrides) as their escapes (``safetext``), in place: what a
    CSV says stays readable and cannot act on a terminal, a page or a spreadsheet."""
    for column in FREE_TEXT:
        values = frame[column].unique()
        if all(v.isprintable() for v in values):
            continue
        frame[column] = frame[column].map({v: visible(v) for v in values})


def validate(path: Path, frame: pd.DataFrame) -> None:
    """Raise UserError naming the first row of ``frame`` (read from ``path``) that breaks the
    schema; text fields are made printable in place."""
    _check(path, frame, frame["schema_version"] != schema.SCHEMA_VERSION,
           lambda r: f"schema_version {r['schema_version']!r}; this rngdrift reads "
                     f"{schema.SCHEMA_VERSION!r} (rerun the cells, or use the rngdrift that wrote it)")
    for column in ("cell", "scenario", "metric"):
        _check(path, frame, frame[column] == "", lambda r, c=column: f"empty {c}")
    _names(path, frame)
    _printable(frame)
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
    bad = numeric & ~frame["value"].map(is_number)
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


def check_manifest(path: Path, frame: pd.DataFrame, notes: list[str]) -> None:
    """A cell CSV starts with ``cell.manifest`` saying how many rows follow: a file cut
    at a line end has fewer. Files of older rngdrift versions have none (a note)."""
    first = frame.iloc[0]
    if first["scenario"] != schema.CELL_MANIFEST:
        notes.append(f"{path}: written by an older rngdrift without a row count; a cut at a "
                     "line end cannot be detected")
        return
    match = re.fullmatch(r"rows=([0-9]{1,9})", first["detail"])
    if match is None:
        raise UserError(f"{path}:{first['_line']}: manifest {first['detail']!r} is not rows=N")
    if int(match.group(1)) != len(frame) - 1:
        raise UserError(f"{path}: truncated or hand-edited: its manifest says "
                        f"{match.group(1)} rows, it has {len(frame) - 1}")
    if (frame["scenario"] == schema.CELL_MANIFEST).sum() > 1:
        raise UserError(f"{path}: more than one manifest row (two files joined?)")


def read_cell(path: Path, notes: list[str] | None = None) -> pd.DataFrame:
    frame = read_csv(path)
    validate(path, frame)
    cells = frame["cell"].unique()
    if len(cells) > 1:
        raise UserError(f"{path}: holds {len(cells)} cells ({', '.join(cells[:3])}...); "
                       "a cell CSV holds one")
    check_manifest(path, frame, notes if notes is not None else [])
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
        elif not stat.S_ISREG(entry.lstat().st_mode):
            notes.append(f"{entry}: not a regular file (a link, FIFO or device); ignored")
        elif name.endswith(".csv"):
            csvs.append(entry)
        elif name.endswith(COMPANIONS + (JOURNAL,)):
            stems.add(next(name[:-len(s)] for s in COMPANIONS + (JOURNAL,) if name.endswith(s)))
        else:
            notes.append(f"{entry}: not a cell CSV; ignored")
    interrupted = sorted(stems - {p.stem for p in csvs})
    for stem in interrupted:
        notes.append(f"{cells_dir / stem}: log but no CSV (cell interrupted or still running); "
                     "missing from this report")
    return csvs, notes, interrupted


