"""``rngdrift report RUN``: merge a run's cell CSVs and write the tables that answer
where and why.

Reads results/<run>/cells/*.csv (a run directory without cells/ is read through
its matrix.csv) and writes into the run directory every output of ``OUTPUTS``:

    matrix.csv            every cell merged and validated, oldest cell first
    findings.csv          every changed row: its severity, cause, why, fix and verification
    findings.json         the findings as data (schema: findings.schema.json, versioned)
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
render (each ``Output``) -> write. The outputs are registered here and nowhere else:
the baseline promotes them (``harness.results.baseline``) and the architecture test
holds each registered once.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from . import findings_data, html_page, markdown
from .model import Report, Table
from ..results.changes import CATEGORIES, Change
from ..results.resultfiles import MATRIX


@dataclasses.dataclass(frozen=True)
class Output:
    """One file a report (or a compare) writes: ``render(report, notes) -> text``."""
    name: str
    render: Callable
    promoted: bool = True      # part of a baseline (results/baseline/)
    what: str = ""


def _table(attribute: str) -> Callable:
    return lambda report, notes=(): getattr(report, attribute).to_csv()


FINDINGS_CSV = "findings.csv"  # what `rngdrift check` reads its exit status from
OUTPUTS = (
    Output(MATRIX, lambda report, notes=(): report.matrix.to_csv(for_people=False),
           what="every row of every cell, validated (exact data)"),
    Output(FINDINGS_CSV, findings_data.csv_text, what="every changed row with its own why, fix "
           "and verification"),
    Output("findings.json", findings_data.json_text, what="the findings as versioned data"),
    Output("drift.csv", _table("drift"), what="value groups per row and cell"),
    Output("reproducibility.csv", _table("reproducibility"), what="did the repeats agree"),
    Output("sources.csv", _table("sources"), what="what each scenario drew from"),
    Output("minimal_seeding.csv", _table("minimal_seeding"), what="the weakest seeding"),
    Output("accuracy.csv", _table("accuracy"), what="the segmentation net's accuracy"),
    Output("report.md", markdown.render, what="the answer, for a terminal or CI"),
    Output("report.html", html_page.render, what="the answer, for people"),
)
# What ``rngdrift compare`` writes into the candidate's run (``render(changes, head)``):
# another comparison than the run's own, never promoted.
COMPARE_OUTPUTS = (
    Output("compare.csv", lambda changes, head: Table(
        list(Change._fields), [list(r) for r in changes]).to_csv(), promoted=False,
        what="every difference between two runs"),
    Output("compare.md", lambda changes, head: markdown.render_compare(changes, head, CATEGORIES),
           promoted=False, what="the same, summarised"),
)
# What ``rngdrift compare --from/--to --out DIR`` writes: the upgrade answer.
UPGRADE_OUTPUTS = (
    Output("upgrade.md", markdown.render_upgrade, promoted=False,
           what="what an upgrade from one cell to another changes"),
)
PROMOTED = tuple(o.name for o in OUTPUTS if o.promoted)


def outputs(report: Report, write_matrix: bool = True, notes: list[str] = ()) -> dict[str, str]:
    """{file name: text} for every file the report writes."""
    return {o.name: o.render(report, notes) for o in OUTPUTS
            if write_matrix or o.name != MATRIX}


def upgrade_outputs(report_like, found: list, old: str, new: str) -> dict[str, str]:
    """{file name: text} of an upgrade answer (``report_like``: a Report, or what
    ``upgrade.two_runs`` gives)."""
    return {o.name: o.render(report_like, found, old, new) for o in UPGRADE_OUTPUTS}


def compare_outputs(changes: list, head: list[str]) -> dict[str, str]:
    """{file name: text} for every file ``rngdrift compare`` writes."""
    return {o.name: o.render(changes, head) for o in COMPARE_OUTPUTS}
