"""``rngdrift report RUN``: merge a run's cell CSVs and write the tables that answer
where and why.

Reads results/<run>/cells/*.csv (a run directory without cells/ is read through
its matrix.csv) and writes into the run directory:

    matrix.csv            every cell merged and validated, oldest cell first
    findings.csv          every change, its severity, cause, why and fix
    drift.csv             per (scenario, seeding, metric): each cell's value group
    reproducibility.csv   per (scenario, seeding, cell): did every repeat agree?
    sources.csv           per (scenario, seeding, generator or API): what it drew from
    minimal_seeding.csv   per (scenario, cell): the weakest seeding that really reproduces
    accuracy.csv          train.segmentation_pairs pixel_accuracy per cell and seeding
    report.md             the summary for a terminal or a CI job summary
    report.html           the same with a heatmap and a plot, self-contained

Everything is read and checked before anything is written: bad input is one line
on stderr and exit code 2, and no file is touched.

The pipeline: load (harness.results) -> tables (``tables.build``: the model) ->
render (``markdown``, ``html_page``) -> write.
"""
from __future__ import annotations


import pandas as pd

from . import html_page, markdown, words
from .model import Report
from ..results.frames import MATRIX
from ..text import csv_for_people


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def findings_table(report: Report) -> pd.DataFrame:
    """findings.csv: one row per change, with its finding's severity, cause, why and fix."""
    rows = []
    for number, finding in enumerate(report.findings, 1):
        fix = finding.fix.text if finding.fix else ""
        for t in finding.transitions:
            rows.append([number, t.severity, finding.first_seen, t.before_cell, t.after_cell,
                         t.scenario, t.seeding, t.metric, words.value(t.before, t.kind),
                         words.value(t.after, t.kind), finding.cause.id if finding.cause else "",
                         finding.cause.link if finding.cause else "", finding.mechanism, fix])
    return pd.DataFrame(rows, dtype=object, columns=[
        "finding", "severity", "first_cell", "before_cell", "after_cell", "scenario", "seeding",
        "metric", "before", "after", "cause", "cause_link", "why", "fix"])


def outputs(report: Report, write_matrix: bool = True, notes: list[str] = ()) -> dict[str, str]:
    """{file name: text} for every file the report writes. The tables people open in a
    spreadsheet are made formula-safe; matrix.csv keeps the exact data."""
    files = {
        "findings.csv": csv_for_people(findings_table(report)),
        "drift.csv": csv_for_people(report.drift),
        "reproducibility.csv": csv_for_people(report.reproducibility),
        "sources.csv": csv_for_people(report.sources),
        "minimal_seeding.csv": csv_for_people(report.minimal_seeding),
        "accuracy.csv": csv_for_people(report.accuracy),
        "report.md": markdown.render(report, notes),
        "report.html": html_page.render(report),
    }
    if write_matrix:
        files = {MATRIX: csv_text(report.matrix), **files}
    return files
