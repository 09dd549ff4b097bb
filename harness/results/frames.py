"""Load and merge a run's results; collapse repeats into comparable observations.

The host side's one reader (files are parsed and checked by ``resultfiles``).
``report`` and ``compare`` both start here, so a CSV is either accepted by both or
rejected by both with the same one-line message (file, line, problem).

    load(path)        a run directory (cells/*.csv, else matrix.csv) or a matrix.csv
    load_run(path)    a run directory: its cell CSVs, validated and merged, oldest cell first
    fold, expand      the repeats folded in (``folding``, re-exported here)

Values are parsed once, when a file is read (``resultfiles``), and travel typed: a
float for numbers, an int for counts, the text for fingerprints and text. Plain
Python throughout; ``Loaded.frame`` is the same rows as a DataFrame for the code that
wants one (pandas is imported there, not by a report).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import itertools
from pathlib import Path

from ..matrix import compat
from ..cell import schema
from ..cell.schema import CELL_LEVEL, OK
from ..errors import UserError
from .resultfiles import MATRIX, Table, check_manifest, read_cell, read_csv, scan_cells, validate
# The values and observations of a run, read here by every caller of the loader.
from .folding import (  # noqa: F401
    KEY, MISSING, NOT_SEEN, SEEDING_CALLS, Folded, Observation, Tolerance, absent_means_zero,
    distinct, expand, fold, generators_drawn, same, text)

# Every seeding mode a row may name (the records: harness.cell.modes).
SEEDING_MODES = schema.MODES


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a run is read and reported: the
    hundreds of thousands of small lists and tuples of a run hold no cycles, and
    collecting them over and over as they are made doubled the report's CPU time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclasses.dataclass
class Loaded:
    table: Table                                         # the rows, values parsed
    source: Path                                         # the run dir or matrix.csv read
    notes: list[str] = dataclasses.field(default_factory=list)        # harmless oddities
    interrupted: list[str] = dataclasses.field(default_factory=list)  # cells with a log, no CSV

    @property
    def rows(self) -> list:
        """The rows as schema ``Row`` tuples (made on first use; hot paths read columns)."""
        return self.table.rows

    def column(self, name: str) -> tuple:
        return self.table.column(name)

    @functools.cached_property
    def cells(self) -> list[str]:
        """The run's cells, oldest first."""
        return compat.order(list(dict.fromkeys(self.column("cell"))))

    @functools.cached_property
    def first(self) -> dict[str, int]:
        """{cell: the index of its first row}."""
        out: dict[str, int] = {}
        for i, cell in enumerate(self.column("cell")):
            out.setdefault(cell, i)
        return out

    @functools.cached_property
    def failures(self) -> dict[str, str]:
        """{cell: detail} for cells with a non-ok cell-level row (a failed install ...)."""
        status = self.column("status")
        return {cell: f"{scenario}: {detail}".strip() for i, (cell, scenario, detail) in
                enumerate(zip(self.column("cell"), self.column("scenario"),
                              self.column("detail")))
                if status[i] != OK and scenario.startswith(CELL_LEVEL)}

    def meta(self, cell: str, column: str) -> str:
        """A column of a cell's first row (what every row of the cell shares)."""
        return self.column(column)[self.first[cell]]

    @functools.cached_property
    def frame(self):
        """The rows as a pandas DataFrame (every column text), for code that wants one."""
        import pandas as pd
        return pd.DataFrame(dict(zip(schema.COLUMNS, self.table.columns)), dtype=object)

    @classmethod
    def of_rows(cls, rows, source: Path = Path("rows")) -> "Loaded":
        """From schema rows made in memory (tests, and callers that built some): checked
        and parsed as a file's would be."""
        rows = _ordered([schema.Row._make(r) for r in rows])
        table = Table.of_rows(Path(source), rows, [], list(range(2, len(rows) + 2)))
        validate(table)
        return cls(table, Path(source))

    @classmethod
    def of_frame(cls, frame, source: Path) -> "Loaded":
        """From a DataFrame of schema rows."""
        return cls.of_rows(frame[list(schema.COLUMNS)].astype(str)
                           .itertuples(index=False, name=None), source)


# -- reading -----------------------------------------------------------------

def _ordered(rows: list) -> list:
    """Rows of the oldest cell first (``compat.order``), each cell's rows in file order."""
    rank = {cell: i for i, cell in enumerate(compat.order(list(dict.fromkeys(r.cell for r in rows))))}
    return sorted(rows, key=lambda r: rank[r.cell])


def _merge(tables: list[Table]) -> Table:
    """Cell files as one table, oldest cell first; a key in two files is an error."""
    owner: dict[str, Path] = {}
    for table in tables:
        cell = table.column("cell")[0]
        if cell in owner:
            i = 1 if len(table) > 1 else 0
            key = dict(zip(schema.KEY, (table.column(c)[i] for c in schema.KEY)))
            raise UserError(f"{owner[cell]}: duplicated key {key} (also in {table.path}); "
                            "the same cell in two files?")
        owner[cell] = table.path
    order = {cell: i for i, cell in enumerate(compat.order(list(owner)))}
    tables = sorted(tables, key=lambda t: order[t.column("cell")[0]])
    columns = [tuple(itertools.chain.from_iterable(t.columns[i] for t in tables))
               for i in range(len(schema.COLUMNS))]
    values, lines = [], []
    for table in tables:
        values += table.values
        lines += table.lines
    return Table(tables[0].path.parent, columns, values, lines)


def merge(run_path: Path):
    """The run's cell CSVs merged and validated, oldest cell first, as a DataFrame."""
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
    return Loaded(_merge([read_cell(p, notes) for p in csvs]), run_path, notes, interrupted)


def load_matrix(path: Path) -> Loaded:
    table = read_csv(path)
    notes: list[str] = []
    by_cell: dict[str, list[int]] = {}
    for i, cell in enumerate(table.column("cell")):
        by_cell.setdefault(cell, []).append(i)
    scenario = table.column("scenario")
    manifests = {cell for cell, s in zip(table.column("cell"), scenario)
                 if s == schema.CELL_MANIFEST}
    for cell in manifests:
        check_manifest(table, notes, where=f"{path} ({cell})", rows=by_cell[cell])
    ordered = compat.order(list(by_cell))
    if list(by_cell) != ordered or any(b[0] < a[-1] for a, b in zip(
            (by_cell[c] for c in ordered), (by_cell[c] for c in ordered[1:]))):
        table = table.take([i for cell in ordered for i in by_cell[cell]])
        table.path = path
    return Loaded(table, path, notes)


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


def cell_failures(loaded: Loaded) -> dict[str, str]:
    """{cell: detail} for cells with a non-ok cell-level row (e.g. a failed install)."""
    return loaded.failures
