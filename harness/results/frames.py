"""Load and merge a run's results; collapse repeats into comparable observations.

The host side's one reader (files are parsed and checked by ``resultfiles``).
``report`` and ``compare`` both start here, so a CSV is either accepted by both or
rejected by both with the same one-line message (file, line, problem).

    load(path)        a run directory (cells/*.csv, else matrix.csv) or a matrix.csv
    load_run(path)    a run directory: its cell CSVs, validated and merged, oldest cell first
    fold(loaded)      {(cell, scenario, seeding, metric): Folded}: the repeats folded in
    expand(loaded)    {(cell, scenario, seeding, metric): Observation}: fold, plus every
                      scenario's metrics in every cell that ran it

Values are parsed once, when a file is read (``resultfiles``), and travel typed: a
float for numbers, an int for counts, the text for fingerprints and text. Plain
Python throughout; ``Loaded.frame`` is the same rows as a DataFrame for the code that
wants one (pandas is imported there, not by a report).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
from pathlib import Path

from ..matrix import compat
from ..cell import modes, schema
from ..cell.schema import CELL_LEVEL, ERROR, NA, OK, RECIPE_METRIC, RNG_PREFIX, TIMEOUT
from ..errors import UserError
from .resultfiles import MATRIX, Table, check_manifest, read_cell, read_csv, scan_cells, validate

# Every seeding mode a row may name (the records: harness.cell.modes).
SEEDING_MODES = schema.MODES


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Numbers are equal when |a - b| <= atol + rtol * max(|a|, |b|)."""
    atol: float = 1e-9
    rtol: float = 1e-6


# A metric some repeats of an ok scenario did not report.
MISSING = None


@dataclasses.dataclass
class Loaded:
    table: Table                                         # the rows, values parsed
    source: Path                                         # the run dir or matrix.csv read
    notes: list[str] = dataclasses.field(default_factory=list)        # harmless oddities
    interrupted: list[str] = dataclasses.field(default_factory=list)  # cells with a log, no CSV

    @property
    def rows(self) -> list:
        return self.table.rows

    @functools.cached_property
    def cells(self) -> list[str]:
        """The run's cells, oldest first."""
        return compat.order(list(dict.fromkeys(r.cell for r in self.rows)))

    @functools.cached_property
    def frame(self):
        """The rows as a pandas DataFrame (every column text), for code that wants one."""
        import pandas as pd
        return pd.DataFrame(self.rows, columns=list(schema.COLUMNS), dtype=object)

    @classmethod
    def of_rows(cls, rows, source: Path = Path("rows")) -> "Loaded":
        """From schema rows made in memory (tests, and callers that built some): checked
        and parsed as a file's would be."""
        rows = _ordered([schema.Row._make(r) for r in rows])
        table = Table(Path(source), rows, [], list(range(2, len(rows) + 2)))
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
    owner: dict[tuple, Path] = {}
    for table in tables:
        cell = table.rows[0].cell
        if cell in owner:
            first = next(r for r in table.rows if r.scenario != schema.CELL_MANIFEST) \
                if len(table.rows) > 1 else table.rows[0]
            key = dict(zip(schema.KEY, (first.cell, first.scenario, first.seeding, first.repeat,
                                         first.metric)))
            raise UserError(f"{owner[cell]}: duplicated key {key} (also in {table.path}); "
                            "the same cell in two files?")
        owner[cell] = table.path
    order = {cell: i for i, cell in enumerate(compat.order(list(owner)))}
    tables = sorted(tables, key=lambda t: order[t.rows[0].cell])
    rows, values, lines = [], [], []
    for table in tables:
        rows += table.rows
        values += table.values
        lines += table.lines
    return Table(tables[0].path.parent, rows, values, lines)


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
    for i, r in enumerate(table.rows):
        by_cell.setdefault(r.cell, []).append(i)
    for cell, indexes in by_cell.items():
        if table.rows[indexes[0]].scenario == schema.CELL_MANIFEST or any(
                table.rows[i].scenario == schema.CELL_MANIFEST for i in indexes):
            part = Table(path, [table.rows[i] for i in indexes], [],
                         [table.lines[i] for i in indexes])
            check_manifest(part, notes, where=f"{path} ({cell})")
    order = {cell: i for i, cell in enumerate(compat.order(list(by_cell)))}
    ranked = sorted(range(len(table.rows)), key=lambda i: order[table.rows[i].cell])
    if ranked != list(range(len(ranked))):
        table = Table(path, [table.rows[i] for i in ranked], [table.values[i] for i in ranked],
                      [table.lines[i] for i in ranked])
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


# -- values --------------------------------------------------------------------

def same(kind: str, a, b, tol: Tolerance) -> bool:
    """Equal under ``kind``'s rule (``schema.VALUE_KINDS``): numbers within the tolerance,
    everything else exactly. ``a`` and ``b`` are parsed values (``MISSING`` for none)."""
    if a == b:
        return True
    rule = schema.KIND[kind].compared if kind in schema.KIND else "exact"
    if rule != "tolerance" or a is MISSING or b is MISSING:
        return False
    if isinstance(a, str) or isinstance(b, str):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return False
    return abs(a - b) <= tol.atol + tol.rtol * max(abs(a), abs(b))


def distinct(kind: str, values: list, tol: Tolerance) -> tuple:
    """Representatives of ``values``: each value joins the first one it equals."""
    first = values[0]
    if all(v == first for v in values):
        return (first,)
    reps: list = []
    for value in values:
        if not any(same(kind, rep, value, tol) for rep in reps):
            reps.append(value)
    return tuple(reps)


def text(kind: str, value) -> str:
    """A parsed value as the CSVs write it ('' for a missing one)."""
    if value is MISSING:
        return ""
    if isinstance(value, float) and kind in (schema.NUMBER, schema.TIMING):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def cell_failures(loaded: Loaded) -> dict[str, str]:
    """{cell: detail} for cells with a non-ok cell-level row (e.g. a failed install)."""
    return {r.cell: f"{r.scenario}: {r.detail}".strip() for r in loaded.rows
            if r.status != OK and r.scenario.startswith(CELL_LEVEL)}


_GENERATOR_ROW = re.compile(r"rng\.(?:(worker|process)\.)?(python|numpy|torch|cuda)")
# The seeding calls tracing counts, by the generator they seed: a scenario that makes
# one itself seeds that generator, whatever its mode does.
SEEDING_CALLS = {"rng.calls.random.seed": (modes.PYTHON,),
                 "rng.calls.random.setstate": (modes.PYTHON,),
                 "rng.calls.numpy.random.seed": (modes.NUMPY,),
                 "rng.calls.numpy.random.set_state": (modes.NUMPY,),
                 "rng.calls.torch.manual_seed": (modes.TORCH, modes.CUDA),
                 "rng.calls.torch.set_rng_state": (modes.TORCH,)}


def generators_drawn(loaded: Loaded) -> dict[tuple[str, str, str], frozenset[str]]:
    """{(cell, scenario, seeding): the global generators whose seeding mode its results
    depend on}, from the attribution rows of every repeat.

    A generator the scenario's own process drew from counts; so does one a process it
    forked (a rank, a pool) drew from. DataLoader workers are seeded from the main
    torch generator (their draws show there, as the base-seed draw), except NumPy in
    workers before torch 1.9, which inherits the main process's state: a worker's
    NumPy draw there depends on NumPy's seeding. A generator the scenario seeds itself
    (``random.seed``, ``torch.manual_seed`` ... in its own process) does not depend on
    the mode: code that seeds itself is not unseeded under ``python``.
    """
    out: dict[tuple[str, str, str], set[str]] = {}
    own: dict[tuple[str, str, str], set[str]] = {}
    old_torch: dict[str, bool] = {}
    for r in loaded.rows:
        if not r.metric.startswith(RNG_PREFIX) or r.value in ("0", ""):
            continue
        seeds = SEEDING_CALLS.get(r.metric)
        if seeds is not None:
            own.setdefault((r.cell, r.scenario, r.seeding), set()).update(seeds)
            continue
        if r.value != "1":
            continue
        match = _GENERATOR_ROW.fullmatch(r.metric)
        if match is None:
            continue
        role, generator = match.groups()
        if role == "worker":
            if r.torch not in old_torch:
                old_torch[r.torch] = compat._version(r.torch) < (1, 9)
            if not (generator == modes.NUMPY and old_torch[r.torch]):
                continue
        out.setdefault((r.cell, r.scenario, r.seeding), set()).add(generator)
    return {key: frozenset(gens - own.get(key, set())) for key, gens in out.items()}


@dataclasses.dataclass(frozen=True)
class Folded:
    """One (cell, scenario, seeding, metric) with its repeats folded in."""
    kind: str
    values: tuple          # the distinct values over the repeats (one: they agreed)
    repeats: int           # how many repeats reported it
    detail: str = ""       # the first non-empty detail


@dataclasses.dataclass(frozen=True)
class Observation:
    """What one cell measured for one (scenario, seeding, metric)."""
    state: str             # ok, n/a, error, timeout; "" when the cell did not measure it
    values: tuple = ()     # distinct parsed values over the repeats; MISSING where absent
    detail: str = ""
    repeats: int = 0

    @property
    def measured(self) -> bool:
        return bool(self.state)

    @property
    def agreed(self) -> bool:
        return self.state == OK and len(self.values) == 1 and self.values[0] is not MISSING

    @property
    def failed(self) -> bool:
        return self.state in (ERROR, TIMEOUT)


NOT_SEEN = Observation("")
KEY = ("cell", "scenario", "seeding", "metric")


def absent_means_zero(metric: str) -> bool:
    """Attribution counts are written only when non-zero (an API called, a worker that
    reported): a missing one is 0, not a metric that went missing."""
    return metric.startswith(RNG_PREFIX) and metric != RECIPE_METRIC \
        and not metric.startswith(schema.GENERATOR_PREFIXES)


def fold(loaded: Loaded, tol: Tolerance, cells=None) -> dict[tuple, Folded]:
    """One entry per (cell, scenario, seeding, metric) as measured; timing rows and the
    manifest (how many rows a file holds) left out; ``cells``: only those cells.
    Status rows and cell-level rows are folded like any other text metric."""
    groups: dict[tuple, list] = {}  # key -> [kind, values, detail]
    timing, manifest = schema.TIMING, schema.CELL_MANIFEST
    for r, value in zip(loaded.rows, loaded.table.values):
        if r.kind == timing or r.scenario == manifest or (cells is not None and r.cell not in cells):
            continue
        key = (r.cell, r.scenario, r.seeding, r.metric)
        group = groups.get(key)
        if group is None:
            groups[key] = [r.kind, [value], r.detail]
        else:
            group[1].append(value)
            if r.detail and not group[2]:
                group[2] = r.detail
    return {key: Folded(kind, distinct(kind, values, tol), len(values), detail)
            for key, (kind, values, detail) in groups.items()}


_WORST = (ERROR, TIMEOUT, NA)


def expand(loaded: Loaded, tol: Tolerance) -> dict[tuple, tuple[str, Observation]]:
    """``fold`` for the reports: {(cell, scenario, seeding, metric): (kind, Observation)}
    for every scenario's metrics in every cell that ran it.

    The state is ``ok``; else the worst status over the repeats (``error`` >
    ``timeout`` > ``n/a``), given to every metric the scenario reports anywhere in
    the run (a non-ok scenario has only its status row); ``n/a`` for a metric an ok
    scenario did not report. A metric missing from some ok repeats adds ``MISSING``
    to the values (the repeats disagree). A failed cell (cell-level error row, e.g. a
    failed install) gets every (scenario, seeding, metric) of the run as ``error``.
    Status rows are kept only for scenarios that report no metric anywhere; code
    identity rows say what ran, not what it gave, and are left out.
    """
    folded = fold(loaded, tol)
    code, status_metric = set(schema.CODE_METRICS), schema.STATUS_METRIC
    status, metrics = {}, {}
    per_scenario: dict[str, dict[str, str]] = {}
    for key, f in folded.items():
        cell, scenario, seeding, metric = key
        if scenario.startswith(CELL_LEVEL) or metric in code:
            continue
        if metric == status_metric:
            status[key[:3]] = f
        else:
            metrics[key] = f
            per_scenario.setdefault(scenario, {}).setdefault(metric, f.kind)
    out: dict[tuple, tuple[str, Observation]] = {}
    for (cell, scenario, seeding), run in status.items():
        failed = next((s for s in _WORST if s in run.values), None)
        wanted = per_scenario.get(scenario) or {status_metric: schema.TEXT}
        for metric, kind in wanted.items():
            key = (cell, scenario, seeding, metric)
            if failed:
                seen = Observation(failed, (), run.detail, run.repeats)
            elif metric == status_metric:
                seen = Observation(OK, run.values, run.detail, run.repeats)
            elif (row := metrics.get(key)) is None:
                seen = Observation(OK, (0,), "", run.repeats) if absent_means_zero(metric) \
                    else Observation(NA, (), "metric not reported", run.repeats)
            else:
                absent = 0 if absent_means_zero(metric) else MISSING
                values = row.values
                if row.repeats < run.repeats and absent not in values:
                    values += (absent,)
                seen = Observation(OK, values, "", run.repeats)
            out[key] = (kind, seen)
    failures = cell_failures(loaded)
    if failures:
        out = {k: v for k, v in out.items() if k[0] not in failures}
        grid = {k[1:]: v[0] for k, v in out.items()}
        for cell, detail in failures.items():
            for (scenario, seeding, metric), kind in grid.items():
                out[(cell, scenario, seeding, metric)] = (kind, Observation(ERROR, (), detail, 0))
    return out
