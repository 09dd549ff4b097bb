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
import io
import itertools
import re
import stat
from pathlib import Path

from ..cell import schema
from ..cell.schema import OK
from ..errors import UserError
from . import textchecks

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


class Table:
    """Rows of one results file (or of several merged), as read, held by column:
    ``column(name)`` is that column's text for every row, ``values`` each row's value
    parsed once by its kind (``schema.parse_value``: a float, an int or the text),
    ``lines`` where each row starts in ``path`` (for messages). ``rows`` gives them as
    schema ``Row`` tuples for code that wants records (made on first use)."""

    def __init__(self, path: Path, columns, values: list, lines: list):
        self.path = path
        self.columns = tuple(tuple(c) for c in columns)
        self.values = values
        self.lines = lines
        self._rows = None

    @classmethod
    def of_rows(cls, path: Path, rows, values: list, lines: list) -> "Table":
        rows = list(rows)
        columns = list(zip(*rows)) if rows else [()] * len(schema.COLUMNS)
        table = cls(path, columns, values, lines)
        table._rows = [r if isinstance(r, schema.Row) else schema.Row._make(r) for r in rows]
        return table

    def __len__(self) -> int:
        return len(self.columns[0])

    def column(self, name: str) -> tuple:
        return self.columns[_POSITION[name]]

    @property
    def rows(self) -> list:
        if self._rows is None:
            self._rows = list(map(schema.Row._make, zip(*self.columns)))
        return self._rows

    def take(self, indexes) -> "Table":
        """The rows at ``indexes``, in that order."""
        indexes = list(indexes)
        return Table(self.path, [[c[i] for i in indexes] for c in self.columns],
                     [self.values[i] for i in indexes] if self.values else [],
                     [self.lines[i] for i in indexes])


_POSITION = {name: i for i, name in enumerate(schema.COLUMNS)}


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
    fast = _columns(text)
    if fast is not None:
        table = Table(path, fast, [], range(2, len(fast[0]) + 2))
        validate(table)
        return table
    header, fields, lines = _parse(path, text)
    if tuple(header) != schema.COLUMNS:
        missing = [c for c in schema.COLUMNS if c not in header]
        extra = [c for c in header if c not in schema.COLUMNS]
        what = (f"missing {missing}" if missing else "") + (
            f"{'; ' if missing else ''}unexpected {extra}" if extra else "")
        raise UserError(f"{path}: header is not the schema's columns "
                        f"({what or 'wrong order'}); not a rngdrift results CSV?")
    if not fields:
        raise UserError(f"{path}: header but no rows (interrupted run?)")
    width = len(schema.COLUMNS)
    if any(len(row) != width for row in fields):
        i = next(i for i, row in enumerate(fields) if len(row) != width)
        raise UserError(f"{path}:{lines[i]}: {len(fields[i])} fields, expected {width} "
                        "(truncated or hand-edited)")
    table = Table(path, zip(*fields), [], lines)
    validate(table)
    return table


def _columns(text: str):
    """The columns of a well-formed file, fast: every line of the header's width with
    any quoted field on a line of its own (no field holding a line break), split all at
    once. None when the file is not that simple: ``_parse`` then reads it line by line
    and says what is wrong where."""
    if "\r" in text or not text.startswith(",".join(schema.COLUMNS) + "\n"):
        return None
    width = len(schema.COLUMNS)
    lines = text[:-1].split("\n")[1:]
    if not lines:
        return None
    commas = width - 1
    quoted = [i for i, line in enumerate(lines) if '"' in line]
    plain = lines
    if quoted:
        if any(lines[i].count('"') % 2 for i in quoted):
            return None  # a quoted field holds a line break
        plain = list(lines)
        blank = "," * commas
        for i in quoted:
            plain[i] = blank
    if any(n != commas for n in map(str.count, plain, [","] * len(plain))):
        return None
    flat = ",".join(plain).split(",")
    columns = [flat[c::width] for c in range(width)]
    for i in quoted:
        try:
            fields = next(csv.reader([lines[i]], strict=True))
        except csv.Error:
            return None
        if len(fields) != width:
            return None
        for c, field in enumerate(fields):
            columns[c][i] = field
    return columns


def _parse(path: Path, text: str):
    """(header, rows of fields, the line each row starts on). Rows end at \\n or \\r\\n
    only (as the csv module writes them); a field holding another character
    str.splitlines() splits on stays one field. A line without a quote is split on
    commas as it stands (the csv writer quotes any field holding a comma, a quote or a
    line break); the others go through the csv module, strictly."""
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()
    if "\r" not in text:
        # the common case: split every line on commas, then parse the few lines that
        # hold a quote with the csv module (when none continues onto the next line)
        quoted = [i for i, line in enumerate(physical) if '"' in line]
        if all(physical[i].count('"') % 2 == 0 for i in quoted):
            rows = [line.split(",") for line in physical]
            for i in quoted:
                try:
                    rows[i] = next(csv.reader([physical[i]], strict=True))
                except csv.Error as exc:
                    raise UserError(f"{path}:{i + 1}: malformed CSV ({exc})") from None
            if not rows:
                return [], [], []
            return rows[0], rows[1:], range(2, len(rows) + 1)
    rows, starts = [], []
    i = 0
    while i < len(physical):
        line = physical[i]
        if '"' not in line:
            rows.append((line[:-1] if line.endswith("\r") else line).split(","))
            starts.append(i + 1)
            i += 1
            continue
        first = i  # a quoted field may hold line breaks: take lines until the quotes close
        chunk = line
        while chunk.count('"') % 2 and i + 1 < len(physical):
            i += 1
            chunk += "\n" + physical[i]
        try:
            parsed = list(csv.reader(io.StringIO(chunk + "\n", newline=""), strict=True))
        except csv.Error as exc:
            raise UserError(f"{path}:{first + 1}: malformed CSV ({exc})") from None
        if len(parsed) != 1:
            raise UserError(f"{path}:{first + 1}: malformed CSV (a quoted field is not closed)")
        rows.append(parsed[0])
        starts.append(first + 1)
        i += 1
    if not rows:
        return [], [], []
    return rows[0], rows[1:], starts[1:]


def _fail(table: Table, index: int, problem: str):
    raise UserError(f"{table.path}:{table.lines[index]}: {problem}")


def _first_bad(table: Table, column: str, allowed, skip=None):
    """Index of the first row whose ``column`` is not in ``allowed`` and that ``skip``
    (given the row's index) does not excuse; None when there is none."""
    values = table.column(column)
    if set(values) <= set(allowed):
        return None
    return next((i for i, v in enumerate(values) if v not in allowed
                 and not (skip and skip(i))), None)


def validate(table: Table) -> None:
    """Raise UserError naming the first row of ``table`` that breaks the schema; fill
    ``table.values`` with each row's value parsed by its kind."""
    cell_level = schema.CELL_LEVEL
    scenario, metric, kind = table.column("scenario"), table.column("metric"), table.column("kind")
    status, value = table.column("status"), table.column("value")

    def at_cell_level(i):
        return scenario[i].startswith(cell_level)
    bad = _first_bad(table, "schema_version", {schema.SCHEMA_VERSION})
    if bad is not None:
        _fail(table, bad, f"schema_version {table.column('schema_version')[bad]!r}; this "
                          f"rngdrift reads {schema.SCHEMA_VERSION!r} (rerun the cells, or use "
                          "the rngdrift that wrote it)")
    for column in ("cell", "scenario", "metric"):
        if "" in set(table.column(column)):
            _fail(table, table.column(column).index(""), f"empty {column}")
    bad = textchecks.first_bad_name(table)
    if bad is not None:
        _fail(table, *bad)
    printable = textchecks.printable_columns(table)
    if printable is not None:
        table.columns, table._rows = printable, None
    value = table.column("value")
    bad = _first_bad(table, "kind", schema.KINDS)
    if bad is not None:
        _fail(table, bad, f"kind {kind[bad]!r} is not one of {', '.join(schema.KINDS)}")
    bad = _first_bad(table, "status", schema.STATUSES)
    if bad is not None:
        _fail(table, bad, f"status {status[bad]!r} is not one of {', '.join(schema.STATUSES)}")
    bad = _first_bad(table, "seeding", schema.MODES, at_cell_level)
    if bad is not None:
        _fail(table, bad, f"seeding {table.column('seeding')[bad]!r} is not one of "
                          f"{', '.join(schema.MODES)}")
    repeats = set(table.column("repeat"))
    good = {r for r in repeats if _REPEAT.fullmatch(r)}
    bad = _first_bad(table, "repeat", good, at_cell_level)
    if bad is not None:
        _fail(table, bad, f"repeat {table.column('repeat')[bad]!r} is not a positive integer")
    status_metric = schema.STATUS_METRIC
    cell, seeding, repeat = table.column("cell"), table.column("seeding"), table.column("repeat")
    is_status = [m == status_metric for m in metric]
    bad = next((i for i, (st_row, v, st) in enumerate(zip(is_status, value, status))
                if st_row and v != st), None)
    if bad is not None:
        _fail(table, bad, f"status row says value {value[bad]!r} but status {status[bad]!r}")
    bad = next((i for i, (st_row, st) in enumerate(zip(is_status, status))
                if not st_row and st != OK), None)
    if bad is not None:
        _fail(table, bad, f"metric row {metric[bad]!r} has status {status[bad]!r}; only the "
                          f"{status_metric!r} row of a scenario carries a non-ok status")
    table.values[:] = _parsed(table, kind, value, is_status)
    bad = next((i for i, s in enumerate(scenario) if s.startswith(cell_level)
                and metric[i] != status_metric), None)
    if bad is not None:
        _fail(table, bad, f"cell-level scenario {scenario[bad]!r} may only hold a "
                          f"{status_metric!r} row")
    runs = set(itertools.compress(zip(cell, scenario, seeding, repeat), is_status))
    if len(set(zip(cell, scenario, seeding, repeat))) != len(runs):
        bad = next(i for i, run in enumerate(zip(cell, scenario, seeding, repeat))
                   if run not in runs)
        _fail(table, bad, f"metric {metric[bad]!r} of {scenario[bad]} ({seeding[bad]}, "
                          f"repeat {repeat[bad]}) has no {status_metric!r} row")
    if len(set(zip(cell, scenario, seeding, repeat, metric))) != len(table):
        seen: dict[tuple, int] = {}
        for i, key in enumerate(zip(cell, scenario, seeding, repeat, metric)):
            first = seen.setdefault(key, i)
            if first != i:
                _fail(table, i, f"duplicated key {dict(zip(schema.KEY, key))} "
                                f"(also at line {table.lines[first]})")


_TEXT_KINDS = (schema.FINGERPRINT, schema.TEXT)


def _parsed(table: Table, kind, value, is_status) -> list:
    """Every row's value parsed by its kind (a status row's is its text)."""
    parse = schema.parse_value
    read = {k.name: k.parse for k in schema.VALUE_KINDS}
    try:
        return [v if st_row or k in _TEXT_KINDS else read[k](v)
                for k, v, st_row in zip(kind, value, is_status)]
    except ValueError:
        for i, (k, v, st_row) in enumerate(zip(kind, value, is_status)):
            try:
                v if st_row or k in _TEXT_KINDS else parse(k, v)
            except ValueError:
                what = "an integer" if k == schema.COUNT else "a number"
                _fail(table, i, f"{k} {table.column('metric')[i]!r} value {v!r} is not {what}")
        raise


def check_manifest(table: Table, notes: list[str], where: str = "", rows=None) -> None:
    """A cell CSV starts with ``cell.manifest`` saying how many rows follow: a file cut
    at a line end has fewer. Files of older rngdrift versions have none (a note).
    ``rows``: the indexes of the cell's rows in ``table`` (default: all of them)."""
    name = where or str(table.path)
    scenario = table.column("scenario")
    indexes = range(len(table)) if rows is None else rows
    first = indexes[0]
    if scenario[first] != schema.CELL_MANIFEST:
        notes.append(f"{name}: written by an older rngdrift without a row count; a cut at a "
                     "line end cannot be detected")
        return
    detail = table.column("detail")[first]
    match = re.fullmatch(r"rows=([0-9]{1,9})", detail)
    if match is None:
        raise UserError(f"{name}:{table.lines[first]}: manifest {detail!r} is not rows=N")
    if int(match.group(1)) != len(indexes) - 1:
        raise UserError(f"{name}: truncated or hand-edited: its manifest says "
                        f"{match.group(1)} rows, it has {len(indexes) - 1}")
    if sum(scenario[i] == schema.CELL_MANIFEST for i in indexes) > 1:
        raise UserError(f"{name}: more than one manifest row (two files joined?)")


def read_cell(path: Path, notes: list[str] | None = None) -> Table:
    table = read_csv(path)
    cells = list(dict.fromkeys(table.column("cell")))
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


