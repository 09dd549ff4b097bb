"""``rngdrift report RUN``: merge a run's cell CSVs and write its tables and reports
(``harness.report`` makes them); ``--from/--to`` answers one upgrade instead."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError
from ..report import outputs, upgrade
from ..report.model import Report
from ..report.tables import build
from ..results import headline
from ..results.frames import Tolerance, gc_paused, load_run
from ..runs import rundirs
from .common import add_tolerance


HELP = "merge a run's cell CSVs and write its tables and reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default=str(rundirs.RESULTS / "latest"),
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
    """Print what the upgrade --from/--to changes (and write it to --out)."""
    versions = report.evidence.versions
    old = upgrade.resolve(args.old, report.cells, versions, "--from")
    new = upgrade.resolve(args.new, report.cells, versions, "--to")
    if report.cells.index(old) >= report.cells.index(new):
        raise UserError(f"--from {args.old} ({old}) is not older than --to {args.new} ({new})")
    answer = upgrade.render(report, upgrade.upgrade(report.evidence, old, new), old, new)
    print(answer, end="")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rundirs.write_files(args.out.parent, {args.out.name: answer})
    return 0


def run(args: argparse.Namespace) -> int:
    """Write the report files of ``args.run``; UserError (nothing written) on bad input."""
    with gc_paused():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if (args.old is None) != (args.new is None):
        raise UserError("--from and --to go together: rngdrift report RUN --from 1.10 --to 2.6")
    run_path = rundirs.resolve(args.run)
    loaded = load_run(run_path)
    tol = Tolerance(args.atol, args.rtol)
    report = build(loaded, tol)
    if args.old is not None:
        return answer_upgrade(report, args)
    notes = headline.run_notes(run_path, loaded, tol)
    files = outputs(report, write_matrix=loaded.source == run_path, notes=notes)
    for note in loaded.notes:
        print(f"rngdrift report: note: {note}", file=sys.stderr)
    rundirs.write_files(run_path, files)
    changes = sum(1 for value in report.drift.column("changes_at") if value)
    print(f"rngdrift report: {run_path}: {len(loaded.table)} rows, {len(report.cells)} cells, "
          f"{len(report.drift)} drift rows ({changes} with a change); wrote "
          f"{', '.join(files)}")
    return 0
