"""The report as data: what every renderer reads, and the views derived from it.

``Report`` holds the tables and the findings (``tables.build`` makes it); the
functions below answer what the renderers ask of it (where a row changes, which
cells failed, how to show a value). Renderers import this module, ``words`` and
``harness.text``, never each other.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from ..cell.schema import ERROR, NA, TIMEOUT
from ..results.frames import Tolerance

ACCURACY_SCENARIO = "train.segmentation_pairs"
ACCURACY_METRIC = "pixel_accuracy"
TOP_CALLS = 6
GENERATORS = ("python", "numpy", "torch", "cuda")

# Labels of a drift/sources cell besides the group letters.
DISAGREE = "~"
NOT_MEASURED = "-"
STATE_LABEL = {NA: "n/a", ERROR: "err", TIMEOUT: "timeout"}
# reproducibility.csv verdicts besides the state labels.
YES, NO, UNTESTED = "yes", "no", "untested"


@dataclasses.dataclass
class Report:
    """Everything the renderers need; the DataFrames are written as the CSVs."""
    run_id: str
    cells: list[str]
    meta: pd.DataFrame            # per cell: python, torch, torchvision, numpy, pillow, device
    modes: list[str]
    scenarios: list[str]
    repeats: int
    tol: Tolerance
    matrix: pd.DataFrame
    drift: pd.DataFrame
    shown: pd.DataFrame           # drift's shape, each cell "label value" for people
    reproducibility: pd.DataFrame
    sources: pd.DataFrame         # every seeding mode
    minimal_seeding: pd.DataFrame
    accuracy: pd.DataFrame
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


def per_cell(frame: pd.DataFrame, cells: list[str]):
    """(record, [its value in each cell]) for every row of a table with one column per cell."""
    for record in frame.to_dict("records"):
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


# -- values for people -----------------------------------------------------------------

def short_value(kind: str, values: tuple, limit: int = 24) -> str:
    """A value as people read it in a summary ('' for fingerprints: the letter says it)."""
    if kind == "fingerprint" or not values:
        return ""
    if len(values) > 1:
        if kind in ("number", "count") and "" not in values:
            numbers = sorted(values, key=float)
            return f"{_readable(kind, numbers[0])}…{_readable(kind, numbers[-1])}"
        return " | ".join(v or "missing" for v in values)[:limit]
    text = _readable(kind, values[0])
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _readable(kind: str, value: str) -> str:
    """Long numbers to 6 significant digits for people; the CSVs keep every digit."""
    if kind != "number" or len(value) <= 8:
        return value
    try:
        return f"{float(value):.6g}"
    except ValueError:
        return value


def accuracy_column(mode: str) -> str:
    """'python_seeding': the mode names alone would clash with the version columns."""
    return f"{mode}_seeding"


def accuracy_value(row, mode: str) -> str:
    """An accuracy.csv value for people: 4 decimals (the CSV keeps every digit), '~'
    in front of the mean of repeats that disagreed."""
    value = row[accuracy_column(mode)]
    try:
        shown = f"{float(value):.4f}"
    except ValueError:
        return value
    return f"~{shown}" if f"{mode}: repeats disagree" in row["note"] else shown


def failures(report: Report) -> list[tuple[str, str, str]]:
    """[(cell, what failed, detail)]: failed cells, cells without a CSV, scenario errors."""
    out = [(cell, "cell failed", detail) for cell, detail in report.failures.items()]
    out += [(cell, "no CSV", "interrupted or still running; rerun with --resume")
            for cell in report.interrupted]
    repro = report.reproducibility
    bad = repro[repro["reproducible"].isin([STATE_LABEL[ERROR], STATE_LABEL[TIMEOUT]])
                & ~repro["cell"].isin(report.failures)]
    grouped: dict[tuple, list[str]] = {}
    for r in bad.itertuples(index=False):
        grouped.setdefault((r.cell, r.scenario, r.reproducible, r.detail), []).append(r.seeding)
    for (cell, scenario, verdict, detail), modes in grouped.items():
        out.append((cell, f"{scenario}: {verdict} under {', '.join(modes)}", detail))
    return out
