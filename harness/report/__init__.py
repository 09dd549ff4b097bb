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

import argparse
import sys
from pathlib import Path

import pandas as pd

from harness import headline, runs
from harness.errors import UserError
from harness.report import html_page, markdown, upgrade, words
from harness.report.model import Report
from harness.report.tables import build
from harness.results import MATRIX, Tolerance, load_run
from harness.text import csv_for_people

HELP = "merge a run's cell CSVs and write its tables and reports"


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


def add_tolerance(parser: argparse.ArgumentParser) -> None:
    """--atol/--rtol, shared by report and compare."""
    parser.add_argument("--atol", type=float, default=Tolerance.atol,
                        help="absolute tolerance for numbers (default %(default)g)")
    parser.add_argument("--rtol", type=float, default=Tolerance.rtol,
                        help="relative tolerance for numbers (default %(default)g)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default=str(runs.RESULTS / "latest"),
                        help="run directory or run id (default: results/latest)")
    parser.add_argument("--from", dest="old", metavar="VERSION",
                        help="with --to: what an upgrade from this torch or torchvision version "
                             "(or cell id) to the --to one changes, printed; nothing written")
    parser.add_argument("--to", dest="new", metavar="VERSION",
                        help="the version upgraded to (with --from)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="with --from/--to: also write the answer (Markdown) to FILE")
    add_tolerance(parser)


def answer_upgrade(report: Report, args: argparse.Namespace) -> int:
    versions = report.evidence.versions
    old = upgrade.resolve(args.old, report.cells, versions, "--from")
    new = upgrade.resolve(args.new, report.cells, versions, "--to")
    if report.cells.index(old) >= report.cells.index(new):
        raise UserError(f"--from {args.old} ({old}) is not older than --to {args.new} ({new})")
    answer = upgrade.render(report, upgrade.upgrade(report.evidence, old, new), old, new)
    print(answer, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        runs.write_files(args.out.parent, {args.out.name: answer})
    return 0


def run(args: argparse.Namespace) -> int:
    """Write the report files of ``args.run``; UserError (nothing written) on bad input."""
    if (args.old is None) != (args.new is None):
        raise UserError("--from and --to go together: rngdrift report RUN --from 1.10 --to 2.6")
    run_path = runs.resolve(args.run)
    loaded = load_run(run_path)
    report = build(loaded, Tolerance(args.atol, args.rtol))
    if args.old is not None:
        return answer_upgrade(report, args)
    notes = headline.run_notes(run_path, report.matrix, Tolerance(args.atol, args.rtol))
    files = outputs(report, write_matrix=loaded.source == run_path, notes=notes)
    for note in loaded.notes:
        print(f"rngdrift report: note: {note}", file=sys.stderr)
    runs.write_files(run_path, files)
    changes = (report.drift["changes_at"] != "").sum()
    print(f"rngdrift report: {run_path}: {len(report.matrix)} rows, {len(report.cells)} cells, "
          f"{len(report.drift)} drift rows ({changes} with a change); wrote "
          f"{', '.join(files)}")
    return 0
