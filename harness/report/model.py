"""The report as data: what every renderer reads, and the views derived from it.

``Report`` holds the tables (``tables.build`` makes it); the functions below
answer the questions the renderers ask of it (what moved from one cell to the
next, which cells failed, how to show a value). Renderers import this module
and ``harness.text``, never each other.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict

import pandas as pd

from harness import compat
from harness.cell.schema import CALLS_PREFIX, ERROR, NA, RNG_PREFIX, TIMEOUT
from harness.results import Tolerance

ACCURACY_SCENARIO = "train.segmentation_pairs"
ACCURACY_METRIC = "pixel_accuracy"
SOURCES_SEEDING = "full"
TOP_CALLS = 6
GENERATOR_ORDER = tuple(RNG_PREFIX + g for g in ("python", "numpy", "torch", "cuda"))

# Labels of a drift/sources cell besides the group letters.
DISAGREE = "~"
NOT_MEASURED = "-"
STATE_LABEL = {NA: "n/a", ERROR: "err", TIMEOUT: "timeout"}
LEGEND = {
    "A, B, …": "value group, lettered by first appearance from the oldest cell",
    DISAGREE: "the repeats disagreed (not reproducible in this cell)",
    STATE_LABEL[NA]: "not applicable in this cell (version gate) or metric not reported",
    STATE_LABEL[ERROR]: "the scenario raised or crashed, or the cell failed to install",
    STATE_LABEL[TIMEOUT]: "the scenario ran past its timeout",
    NOT_MEASURED: "not measured in this cell",
}
# reproducibility.csv verdicts besides the state labels.
YES, NO, UNTESTED = "yes", "no", "untested"
NONE_WORKS = "none works"


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
    sources: pd.DataFrame
    sources_seeding: str
    minimal_seeding: pd.DataFrame
    accuracy: pd.DataFrame
    accuracy_present: bool
    failures: dict[str, str]      # cell -> why the whole cell failed
    interrupted: list[str]        # cells with a log but no CSV
    notes: list[str]


# -- from one cell to the next --------------------------------------------------------

def steps(values: list[str], cells: list[str], key=lambda value: value):
    """(previous cell, cell, previous value, value) wherever ``key`` of a value differs
    from the previous measured cell's; cells whose value is NOT_MEASURED are skipped.

    The one walk along the cells: change points, draws that moved and
    ``changes_at`` all come from here.
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


def label_of(shown: str) -> str:
    """The group label of a shown value ('A 0.5' -> 'A')."""
    return shown.split(" ", 1)[0]


def per_cell(frame: pd.DataFrame, cells: list[str]):
    """(record, [its value in each cell]) for every row of a table with one column per cell."""
    for record in frame.to_dict("records"):
        yield record, [record[c] for c in cells]


def change_points(report: Report) -> dict[str, list[tuple]]:
    """{cell: [(scenario, metric, before, after, [seedings])]} for every drift change."""
    out: dict[str, dict[tuple, list[str]]] = defaultdict(dict)
    for record, values in per_cell(report.shown, report.cells):
        if not record["changes_at"]:
            continue
        for _, cell, before, after in steps(values, report.cells, key=label_of):
            key = (record["scenario"], record["metric"], before, after)
            out[cell].setdefault(key, []).append(record["seeding"])
    return {cell: [(*key, seedings) for key, seedings in hits.items()]
            for cell, hits in out.items()}


def source_change(metric: str, before: str, after: str) -> tuple[str, str] | None:
    """('random.random', '400 → 0') or ('python generator', 'advanced → untouched');
    None when a side is not a number (n/a, err: the scenario did not run there)."""
    if not (before.isdigit() and after.isdigit()):
        return None
    if metric.startswith(CALLS_PREFIX):
        return metric[len(CALLS_PREFIX):], f"{before} → {after}"
    moved = {"0": "untouched", "1": "advanced"}
    return (f"{metric.split('.', 1)[-1]} generator",
            f"{moved.get(before, before)} → {moved.get(after, after)}")


def source_changes(report: Report) -> dict[str, list[tuple[str, list[tuple[str, str]]]]]:
    """{cell: [(scenario, [('random.random', '400 → 0'), …])]} from sources.csv."""
    out: dict[str, dict[str, list]] = defaultdict(dict)
    for record, values in per_cell(report.sources, report.cells):
        if not record["changes_at"]:
            continue
        for _, cell, before, after in steps(values, report.cells):
            change = source_change(record["metric"], before, after)
            if change:
                out[cell].setdefault(record["scenario"], []).append(change)
    return {cell: list(hits.items()) for cell, hits in out.items()}


def versions(report: Report, cell: str) -> dict[str, str]:
    """python/torch/torchvision as the cell id names them (no local '+cu117' suffix),
    numpy/pillow as installed; the installed versions for ids that do not parse."""
    meta = report.meta.loc[cell]
    parsed = compat.parse_id(cell)
    out = {name: meta[name] for name in ("python", "torch", "torchvision", "numpy", "pillow")}
    if parsed:
        out.update(python=parsed.python, torch=parsed.torch, torchvision=parsed.torchvision)
    return out


def cell_step(report: Report, cell: str, previous: str | None) -> str:
    """What moved from the previous cell: 'torchvision 0.6.0 → 0.7.0, torch 1.5.0 → 1.6.0'."""
    if previous is None:
        return "oldest cell"
    now, before = versions(report, cell), versions(report, previous)
    steps_ = [f"{name} {before[name]} → {now[name]}"
              for name in ("torchvision", "torch", "python", "numpy", "pillow")
              if before[name] != now[name]]
    return ", ".join(steps_) or "same versions"


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
