"""The report as data: what every renderer reads, and the views derived from it.

``Report`` holds the tables and the findings (``tables.build`` makes it); the
functions below answer what the renderers ask of it (where a row changes, which
cells failed, how to show a value). Renderers import this module, ``words`` and
``harness.text``, never each other.
"""
from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

from ..cell.schema import ERROR, FORMULA_START, OK, STATUS_RECORDS, TIMEOUT
from ..results.frames import Loaded, Tolerance, text
from ..text import spreadsheet_safe

ACCURACY_SCENARIO = "train.segmentation_pairs"
ACCURACY_METRIC = "pixel_accuracy"
TOP_CALLS = 6
# Findings on the first screen of report.md and report.html.
TOP_FINDINGS = 8
GENERATORS = ("python", "numpy", "torch", "cuda")
VERSIONS = ("torchvision", "torch", "python", "numpy", "pillow")
CPU = "cpu"             # the pseudo-package of a cell's CPU class in ``versions``
PLATFORM = "platform"   # the cell's platform text, which the class is read from
NOT_PACKAGES = (CPU, PLATFORM)  # in a cell's versions, but not what it installed

# Labels of a drift/sources cell besides the group letters.
DISAGREE = "~"
NOT_MEASURED = "-"
STATE_LABEL = {s.name: s.label for s in STATUS_RECORDS if s.name != OK}
# reproducibility.csv verdicts besides the state labels.
YES, NO, UNTESTED = "yes", "no", "untested"


@dataclasses.dataclass
class Table:
    """A table the report writes as CSV: named columns, rows of text (plain Python, so a
    report needs no pandas)."""
    columns: list[str]
    rows: list[list]

    def __len__(self) -> int:
        return len(self.rows)

    def records(self):
        """Each row as {column: value}."""
        for row in self.rows:
            yield dict(zip(self.columns, row))

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def to_csv(self, for_people: bool = True) -> str:
        """CSV text; ``for_people``: what a spreadsheet would run as a formula is quoted."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([spreadsheet_safe(str(c)) for c in self.columns])
        if not for_people:
            writer.writerows(self.rows)
            return buf.getvalue()
        risky = FORMULA_START

        def safe(value):
            text = "" if value is None else str(value)
            return spreadsheet_safe(text) if text[:1] in risky else text
        writer.writerows([[safe(v) for v in row] for row in self.rows])
        return buf.getvalue()

    @property
    def frame(self):
        """As a pandas DataFrame, for code that wants one."""
        import pandas as pd
        return pd.DataFrame(self.rows, columns=self.columns, dtype=object)


@dataclasses.dataclass
class Report:
    """Everything the renderers need; the tables are written as the CSVs."""
    run_id: str
    run_path: Any                 # the run directory (or matrix.csv) read
    cells: list[str]
    meta: dict                    # cell -> {python, torch, torchvision, numpy, pillow, device}
    modes: list[str]              # the modes the run has, weakest first
    scenarios: list[str]
    repeats: int
    tol: Tolerance
    loaded: Loaded
    drift: Table
    shown: Table                  # drift's shape, each cell "label value" for people
    reproducibility: Table
    sources: Table                # every seeding mode
    minimal_seeding: Table
    accuracy: Table
    accuracy_present: bool
    failures: dict[str, str]      # cell -> why the whole cell failed
    interrupted: list[str]        # cells with a log but no CSV
    notes: list[str]
    evidence: Any = None          # evidence.Evidence: what findings are made from
    findings: list = dataclasses.field(default_factory=list)   # findings.Finding, ranked
    background: float | None = None   # accuracy of predicting background everywhere
    # (before, after) cell pairs the findings walk: consecutive cells, or with --vary one
    # package a step (compat.steps)
    upgrade_steps: list = dataclasses.field(default_factory=list)
    failing_everywhere: list = dataclasses.field(default_factory=list)  # (scenario, detail)
    user_only: bool = False       # only the team's own code: no canonical sections

    @property
    def matrix(self) -> Table:
        """Every row of the run, as matrix.csv holds them."""
        return Table(list(self.loaded.table.rows[0]._fields) if self.loaded.rows else [],
                     self.loaded.rows)


# -- from one cell to the next --------------------------------------------------------

def steps(values: list[str], cells: list[str], key=lambda value: value):
    """(previous cell, cell, previous value, value) wherever ``key`` of a value differs
    from the previous measured cell's; cells whose value is NOT_MEASURED are skipped.

    The one walk along the cells (``changes_at`` of every table).
    """
    previous = None
    for value, cell in zip(values, cells):
        if value == NOT_MEASURED:
            continue
        if previous is not None and key(value) != key(previous[1]):
            yield previous[0], cell, previous[1], value
        previous = (cell, value)


def changes_at(labels: list[str], cells: list[str]) -> list[str]:
    """Cells whose label differs from the previous measured cell's."""
    return [cell for _, cell, _, _ in steps(labels, cells)]


def per_cell(table: Table, cells: list[str]):
    """(record, [its value in each cell]) for every row of a table with one column per cell."""
    for record in table.records():
        yield record, [record[c] for c in cells]


def runs(labels: list[str], cells: list[str]) -> list[tuple[str, str, str]]:
    """Run-length encode labels along the cells: [(label, first cell, last cell)]."""
    out: list[list[str]] = []
    for label, cell in zip(labels, cells):
        if label == NOT_MEASURED:
            continue
        if out and out[-1][0] == label:
            out[-1][2] = cell
        else:
            out.append([label, cell, cell])
    return [tuple(r) for r in out]


def step_versions(versions: dict[str, dict[str, str]], before: str, after: str) -> str:
    """'torchvision 0.6.0 and 0.7.0': the first package that moved, on both sides."""
    b, a = versions[before], versions[after]
    others = sorted((set(b) | set(a)) - set(VERSIONS) - set(NOT_PACKAGES))  # pins a cell id names
    name = next((n for n in (*VERSIONS, *others) if b.get(n) != a.get(n)), "torch")
    return f"{name} {b.get(name, '?')} and {a.get(name, '?')}"


# -- values for people -----------------------------------------------------------------

def short_value(kind: str, values: tuple, limit: int = 24) -> str:
    """A value as people read it in a summary ('' for fingerprints: the letter says it)."""
    if kind == "fingerprint" or not values:
        return ""
    if len(values) > 1:
        numbers = [v for v in values if isinstance(v, (int, float))]
        if kind in ("number", "count") and len(numbers) == len(values):
            return f"{_readable(kind, min(numbers))}…{_readable(kind, max(numbers))}"
        return " | ".join(text(kind, v) or "missing" for v in values)[:limit]
    shown = _readable(kind, values[0])
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


def _readable(kind: str, value) -> str:
    """Long numbers to 6 significant digits for people; the CSVs keep every digit."""
    shown = text(kind, value)
    if kind != "number" or len(shown) <= 8 or not isinstance(value, float):
        return shown
    return f"{value:.6g}"


def accuracy_column(mode: str) -> str:
    """'python_seeding': the mode names alone would clash with the version columns."""
    return f"{mode}_seeding"


def accuracy_value(row: dict, mode: str) -> str:
    """An accuracy.csv value for people: 4 decimals (the CSV keeps every digit), '~'
    in front of the mean of repeats that disagreed."""
    value = row[accuracy_column(mode)]
    if not isinstance(value, float):
        return value  # a state label, '-' or ''
    shown = f"{value:.4f}"
    return f"~{shown}" if f"{mode}: repeats disagree" in row["note"] else shown


def failures(report: Report) -> list[tuple[str, str, str]]:
    """[(cell, what failed, detail)]: failed cells, cells without a CSV, scenario errors."""
    out = [(cell, "cell failed", detail) for cell, detail in report.failures.items()]
    out += [(cell, "no CSV", "interrupted or still running; rerun with --resume")
            for cell in report.interrupted]
    grouped: dict[tuple, list[str]] = {}
    for r in report.reproducibility.records():
        if r["reproducible"] in (STATE_LABEL[ERROR], STATE_LABEL[TIMEOUT]) \
                and r["cell"] not in report.failures:
            grouped.setdefault((r["cell"], r["scenario"], r["reproducible"], r["detail"]),
                               []).append(r["seeding"])
    for (cell, scenario, verdict, detail), modes in grouped.items():
        out.append((cell, f"{scenario}: {verdict} under {', '.join(modes)}", detail))
    return out
