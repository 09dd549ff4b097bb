"""``rngdrift compare BASELINE CANDIDATE``: what changed between two runs (exit 1 when a
``--fail-on`` category has rows, 2 on bad input), or between two cells as an upgrade
(``--from``/``--to``). The categories and their rules: ``harness.results.compare``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import UserError
from ..report import compare_outputs, markdown, severity, upgrade, upgrade_outputs
from ..report.evidence import cell_versions
from ..results.changes import ALL_CATEGORIES, CATEGORIES, DEFAULT_FAIL_ON, NO_CATEGORY
from ..results import compare as comparison
from ..results.frames import Loaded, Tolerance, gc_paused, load
from ..runs import rundirs
from .common import add_tolerance


HELP = "compare two runs, or two cells (exit 1 when something changed)"
DESCRIPTION = comparison.__doc__  # the categories and their rules, for --help


def _fail_on(value: str) -> tuple[str, ...]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if names == [ALL_CATEGORIES]:
        return CATEGORIES
    if names == [NO_CATEGORY]:
        return ()
    unknown = [n for n in names if n not in CATEGORIES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown category {', '.join(unknown)}; choose from {', '.join(CATEGORIES)}, "
            "'all' or 'none'")
    return tuple(names)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", nargs="?", default=str(rundirs.RESULTS / "baseline"),
                        help="run directory, run id or matrix.csv (default: results/baseline)")
    parser.add_argument("candidate", nargs="?", default=str(rundirs.RESULTS / "latest"),
                        help="run directory, run id or matrix.csv (default: results/latest)")
    parser.add_argument("--fail-on", type=_fail_on, default=DEFAULT_FAIL_ON,
                        metavar="CATS",
                        help="comma-separated categories that make the exit status 1, or "
                             f"'all' or 'none' (default: {','.join(DEFAULT_FAIL_ON)}); "
                             "e.g. --fail-on lost-repro to fail only on lost reproducibility")
    add_tolerance(parser)
    parser.add_argument("--out", type=Path,
                        help="directory for compare.csv and compare.md (default: the "
                             "candidate's run directory)")
    parser.add_argument("--from", dest="old", metavar="CELL",
                        help="with --to: compare one cell of the baseline (a cell id, torch or "
                             "torchvision version) with one of the candidate, as an upgrade: "
                             "findings with why and fix; exit 1 on broken, now failing or "
                             "lost reproducibility")
    parser.add_argument("--to", dest="new", metavar="CELL", help="the candidate's cell")


def compare_cells(baseline: Loaded, candidate: Loaded, args: argparse.Namespace,
                  tol: Tolerance) -> int:
    """One cell of each run, as an upgrade (harness.report.upgrade)."""
    if (args.old is None) != (args.new is None):
        raise UserError("--from and --to go together")
    b_cells, c_cells = baseline.cells, candidate.cells
    old = upgrade.resolve(args.old, b_cells, cell_versions(baseline, b_cells), "--from")
    new = upgrade.resolve(args.new, c_cells, cell_versions(candidate, c_cells), "--to")
    both, old, new = upgrade.two_runs(baseline, old, candidate, new, tol)
    found = upgrade.upgrade(both.evidence, old, new)
    answer = upgrade.render(both, found, old, new)
    print(answer, end="")
    if args.out:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out {args.out}: cannot create ({exc.strerror})") from None
        rundirs.write_files(args.out, upgrade_outputs(both, found, old, new))
    return 1 if any(severity.get(f.severity).actionable and f.severity != severity.DRIFT
                    for f in found) else 0


def run(args: argparse.Namespace) -> int:
    """Compare, write compare.csv/compare.md; 1 when a --fail-on category has rows."""
    with gc_paused():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    tol = Tolerance(args.atol, args.rtol)
    baseline = load(rundirs.resolve(args.baseline), prefer_matrix=True)
    candidate = load(rundirs.resolve(args.candidate), prefer_matrix=True)
    if args.old is not None or args.new is not None:
        return compare_cells(baseline, candidate, args, tol)
    base_dir = comparison.run_dir(baseline).resolve()
    out = (args.out or comparison.run_dir(candidate)).resolve()
    inside_baseline = out == base_dir or base_dir in out.parents
    if args.out and inside_baseline:
        raise UserError(f"--out {args.out}: inside the baseline's directory {base_dir}; "
                        "compare never writes there")
    if args.out and out.exists() and not out.is_dir():
        raise UserError(f"--out {args.out}: not a directory")
    result = comparison.changes_between(baseline, candidate, tol)
    for side in (baseline, candidate):
        for note in side.notes:
            print(f"rngdrift compare: note: {note}", file=sys.stderr)
    shared = len(set(baseline.cells) & set(candidate.cells))
    head = markdown.compare_summary(
        result, (comparison.describe(baseline), comparison.describe(candidate)), shared, tol,
        args.fail_on, CATEGORIES, comparison.notes(baseline, candidate, tol))
    if inside_baseline:
        print("\n".join(head))
        print(f"rngdrift compare: not writing into the baseline's directory {out}; "
              "pass --out DIR to keep compare.csv and compare.md", file=sys.stderr)
    else:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--out {out}: cannot create ({exc.strerror})") from None
        rundirs.write_files(out, compare_outputs(result, head))
        print("\n".join(head))
        print(f"\nrngdrift compare: wrote {out / 'compare.csv'} and {out / 'compare.md'}")
    return 1 if any(r.category in args.fail_on for r in result) else 0
