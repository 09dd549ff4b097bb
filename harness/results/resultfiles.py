"""Reading result files: one cell CSV or a matrix.csv, parsed strictly and checked
against the schema, and a run's cells/ folder scanned for what belongs there.

Plain Python (no pandas: a report reads 140,000 rows; pandas' import alone cost more
than reading them): a file becomes a ``Table`` of schema ``Row`` tuples with each
value parsed once, by its kind.

Every problem is a ``UserError`` naming the file, the line and what is wrong, so
report and compare accept or reject a file alike.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import re
import stat
from pathlib import Path

from ..cell import schema
from ..cell.schema import CELL_LEVEL, OK
from ..errors import UserError

MATRIX = "matrix.csv"
# What a cell directory holds besides its CSV (see harness/runs.py); a journal is
# what an interrupted cell leaves for --resume.
COMPANIONS = (".freeze.txt", ".log")
JOURNAL = ".journal"
_TMP = re.compile(re.escape(schema.TMP_MARK) + r"[A-Za-z0-9_]+$")
# More repeats than this is a hand-edited file, not a run.
MAX_REPEAT = 10_000
_REPEAT = re.compile(r"[1-9][0-9]{0,4}")


def _regular_file(path: Path) -> None:
    """Only a regular file is read: a FIFO would hang the reader, a device never end."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: not a regular file")


@dataclasses.dataclass
class Table:
    """Rows of one results file (or of several merged), as read: ``rows`` are schema
    ``Row`` tuples of text, ``values`` each row's value parsed once by its kind
    (``schema.parse_value``: a float, an int or the text), ``lines`` where each row
    starts in ``path`` (for messages)."""
    path: Path
    rows: list
    values: list
    lines: list

    def __len__(self) -> int:
        return len(self.rows)


def read_text(path: Path) -> str:
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
    return text


def read_csv(path: Path) -> Table:
    """Parse one results CSV strictly and check every row against the schema; the
    values are parsed here, once."""
    text = read_text(path)
    # Rows end at \n or \r\n only (as the csv module writes them); a field holding
    # another character str.splitlines() splits on stays one field.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    width = len(schema.COLUMNS)
    try:
        header = next(reader)
        if tuple(header) != schema.COLUMNS:
            missing = [c for c in schema.COLUMNS if c not in header]
            extra = [c for c in header if c not in schema.COLUMNS]
            what = (f"missing {missing}" if missing else "") + (
                f"{'; ' if missing else ''}unexpected {extra}" if extra else "")
            raise UserError(f"{path}: header is not the schema's columns "
                           f"({what or 'wrong order'}); not a rngdrift results CSV?")
        fields = list(reader)
    except csv.Error as exc:
        raise UserError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if not fields:
        raise UserError(f"{path}: header but no rows (interrupted run?)")
    multiline = any("\n" in f or "\r" in f for row in fields for f in row) \
        if text.count("\n") != len(fields) + 1 else False
    lines = _line_numbers(text, len(fields)) if multiline else list(range(2, len(fields) + 2))
    make = schema.Row._make
    rows = []
    for i, row in enumerate(fields):
        if len(row) != width:
            raise UserError(f"{path}:{lines[i]}: {len(row)} fields, expected {width} "
                           "(truncated or hand-edited)")
        rows.append(make(row))
    table = Table(path, rows, [], lines)
    validate(table)
    return table


def _line_numbers(text: str, count: int) -> list[int]:
    """Where each of ``count`` rows starts when some fields hold line breaks."""
    reader = csv.reader(io.StringIO(text, newline=""))
    next(reader)
    starts, line = [], reader.line_num + 1
    for _ in range(count):
        starts.append(line)
        next(reader)
        line = reader.line_num + 1
    return starts


def _fail(table: Table, index: int, problem: str):
    raise UserError(f"{table.path}:{table.lines[index]}: {problem}")


def _first_bad(table: Table, column: str, allowed, skip=lambda r: False):
    """Index of the first row whose ``column`` is not in ``allowed`` (None when all are)."""
    position = schema.COLUMNS.index(column)
    values = {r[position] for r in table.rows}
    if values <= set(allowed):
        return None
    return next(i for i, r in enumerate(table.rows) if r[position] not in allowed and not skip(r))


def validate(table: Table) -> None:
    """Raise UserError naming the first row of ``table`` that breaks the schema; fill
    ``table.values`` with each row's value parsed by its kind."""
    rows, cell_level = table.rows, schema.CELL_LEVEL
    bad = _first_bad(table, "schema_version", {schema.SCHEMA_VERSION})
    if bad is not None:
        _fail(table, bad, f"schema_version {rows[bad].schema_version!r}; this rngdrift reads "
                          f"{schema.SCHEMA_VERSION!r} (rerun the cells, or use the rngdrift that "
                          "wrote it)")
    for column in ("cell", "scenario", "metric"):
        position = schema.COLUMNS.index(column)
        bad = next((i for i, r in enumerate(rows) if not r[position]), None)
        if bad is not None:
            _fail(table, bad, f"empty {column}")
    bad = _first_bad(table, "kind", schema.KINDS)
    if bad is not None:
        _fail(table, bad, f"kind {rows[bad].kind!r} is not one of {', '.join(schema.KINDS)}")
    bad = _first_bad(table, "status", schema.STATUSES)
    if bad is not None:
        _fail(table, bad, f"status {rows[bad].status!r} is not one of {', '.join(schema.STATUSES)}")
    seedings = {r.seeding for r in rows}
    if not seedings <= set(schema.MODES):
        bad = next((i for i, r in enumerate(rows) if r.seeding not in schema.MODES
                    and not r.scenario.startswith(cell_level)), None)
        if bad is not None:
            _fail(table, bad, f"seeding {rows[bad].seeding!r} is not one of "
                              f"{', '.join(schema.MODES)}")
    repeats = {r.repeat for r in rows}
    if not all(_REPEAT.fullmatch(r) for r in repeats - {""}) or "" in repeats:
        bad = next((i for i, r in enumerate(rows) if not _REPEAT.fullmatch(r.repeat)
                    and not r.scenario.startswith(cell_level)), None)
        if bad is not None:
            _fail(table, bad, f"repeat {rows[bad].repeat!r} is not a positive integer")
    status_metric, parse = schema.STATUS_METRIC, schema.parse_value
    values = table.values
    values.clear()
    runs = set()
    for i, r in enumerate(rows):
        if r.metric == status_metric:
            if r.value != r.status:
                _fail(table, i, f"status row says value {r.value!r} but status {r.status!r}")
            runs.add((r.cell, r.scenario, r.seeding, r.repeat))
            values.append(r.value)
            continue
        if r.status != OK:
            _fail(table, i, f"metric row {r.metric!r} has status {r.status!r}; only the "
                            f"{status_metric!r} row of a scenario carries a non-ok status")
        if r.scenario.startswith(cell_level):
            _fail(table, i, f"cell-level scenario {r.scenario!r} may only hold a "
                            f"{status_metric!r} row")
        try:
            values.append(parse(r.kind, r.value))
        except ValueError:
            what = "an integer" if r.kind == schema.COUNT else "a number"
            _fail(table, i, f"{r.kind} {r.metric!r} value {r.value!r} is not {what}")
    for i, r in enumerate(rows):
        if r.metric != status_metric and (r.cell, r.scenario, r.seeding, r.repeat) not in runs:
            _fail(table, i, f"metric {r.metric!r} of {r.scenario} ({r.seeding}, repeat "
                            f"{r.repeat}) has no {status_metric!r} row")
    seen: dict[tuple, int] = {}
    for i, r in enumerate(rows):
        key = (r.cell, r.scenario, r.seeding, r.repeat, r.metric)
        first = seen.setdefault(key, i)
        if first != i:
            _fail(table, i, f"duplicated key {dict(zip(schema.KEY, key))} (also at line "
                            f"{table.lines[first]})")


def check_manifest(table: Table, notes: list[str], where: str = "") -> None:
    """A cell CSV starts with ``cell.manifest`` saying how many rows follow: a file cut
    at a line end has fewer. Files of older rngdrift versions have none (a note)."""
    name = where or str(table.path)
    rows = table.rows
    first = rows[0]
    if first.scenario != schema.CELL_MANIFEST:
        notes.append(f"{name}: written by an older rngdrift without a row count; a cut at a "
                     "line end cannot be detected")
        return
    match = re.fullmatch(r"rows=([0-9]{1,9})", first.detail)
    if match is None:
        raise UserError(f"{name}:{table.lines[0]}: manifest {first.detail!r} is not rows=N")
    if int(match.group(1)) != len(rows) - 1:
        raise UserError(f"{name}: truncated or hand-edited: its manifest says "
                        f"{match.group(1)} rows, it has {len(rows) - 1}")
    if sum(r.scenario == schema.CELL_MANIFEST for r in rows) > 1:
        raise UserError(f"{name}: more than one manifest row (two files joined?)")


def read_cell(path: Path, notes: list[str] | None = None) -> Table:
    table = read_csv(path)
    cells = list(dict.fromkeys(r.cell for r in table.rows))
    if len(cells) > 1:
        raise UserError(f"{path}: holds {len(cells)} cells ({', '.join(cells[:3])}...); "
                       "a cell CSV holds one")
    check_manifest(table, notes if notes is not None else [])
    return table


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


