"""``rngdrift check --from SPEC --to SPEC [your code]``: what a dependency bump changes
in the results of your own code, in your own environments.

    rngdrift check --from HEAD~1 --to HEAD --pytest tests/
    rngdrift check --from main --to my-branch --call train.py:one_step
    rngdrift check --from "torch==2.4.1 torchvision==0.19.1" --to "torch==2.6.0 torchvision==0.21.0" --pytest tests/
    rngdrift check --from requirements-old.txt --to requirements.txt --dataset data.py:make

A SPEC is a git ref of the repository you run it in (its declarations at that commit:
uv.lock, pylock.toml, requirements*.txt or pyproject.toml), a requirements file, or
pins that replace those lines of your current declarations. Both environments are
built from your declarations with uv (your NumPy and Pillow too) on one Python both
sides have wheels for; your code (the working tree's) runs in each under every
seeding mode, and the answer is the verdict-first report for that one upgrade:
what changed, why, and the fix. It goes to stdout and to check.md in
rngdrift-results/<run>/ (with report.md, report.html and findings.csv beside it).

--blame: when the sides differ in several packages, which one's bump (and which of
its releases) changes each changed row: environments that move one package (torch with
torchvision) at a time, only the changed scenarios re-run (--blame-budget N bounds
the environments built). check.md says it; blame.csv and blame.json hold it.

Exit status: 1 when a finding has a severity of --fail-on (default: broken), 0 when
not, 2 on bad input or an environment that cannot be resolved.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import io
import sys
from pathlib import Path

from ..cell import options
from ..envs import blame, blamerun, blametext, build, checkrun, specs
from ..errors import UserError
from ..matrix import compat
from ..report import FINDINGS_CSV, severity
from ..runs import cellsession, importroot, rundirs, runoptions
from . import report, run as run_command


HELP = "what a dependency bump changes in your code's results (--from REF --to REF)"
DESCRIPTION = __doc__.replace("``", "")
DEFAULT_FAIL_ON = (severity.BROKEN,)
ANSWER = "check.md"
BLAME_BUDGET = 10


def _budget(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: give a whole number of environments >= 1")
    return number


def _fail_on(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if names == ("none",):
        return ()
    unknown = [n for n in names if n not in severity.NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown severity {', '.join(unknown)}; choose from "
                                         f"{', '.join(severity.NAMES)} or 'none'")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="old", required=True, metavar="SPEC",
                        help="what you have: a git ref, a requirements file, pins, or a matrix cell "
                             "id (its exact pins)")
    parser.add_argument("--to", dest="new", required=True, metavar="SPEC",
                        help="what you would move to (the same kinds)")
    parser.add_argument("--fail-on", type=_fail_on, default=DEFAULT_FAIL_ON, metavar="SEVERITIES",
                        help="comma-separated severities that make the exit status 1 "
                             f"({', '.join(severity.NAMES)}; default: {severity.BROKEN}; 'none')")
    parser.add_argument("--declared", action="append", default=[], metavar="FILE",
                        help="read these files (at the ref, or in the working tree) instead "
                             "of looking for the declarations (repeatable)")
    parser.add_argument("--with-scenarios", action="store_true",
                        help="run rngdrift's canonical scenarios too (default: only your code, "
                             "when you name some)")
    parser.add_argument("--refresh", action="store_true",
                        help="resolve the declarations again (default: a resolution is kept "
                             "and reused while the declarations are the same)")
    parser.add_argument("--envdir", type=Path, metavar="DIR",
                        help=f"where environments go (default: {run_command.STATE}/check/ in "
                             "the directory you start from)")
    parser.add_argument("--blame", action="store_true",
                        help="say which package's bump (and which release of it) changes each "
                             "changed row: one package (torch with torchvision) moved at a "
                             "time, its releases bisected")
    parser.add_argument("--blame-budget", type=_budget, metavar="N",
                        help=f"at most N environments for --blame (default {BLAME_BUDGET}); "
                             "what is left is said")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help=f"also write the verdict ({ANSWER}) to FILE (the action posts it)")
    parser.add_argument("--run-id", help="the run directory's name (default: check-<time>)")
    parser.add_argument("--results", metavar="DIR",
                        help="where runs go (default: rngdrift-results/ here)")
    options.add_to(parser, "both")
    runoptions.add_index_options(parser)
    parser.set_defaults(shard=None, reuse_from=None, rerun=None, reuse_across_platforms=False,
                        plan=False)


def _options(args: argparse.Namespace, started_in: Path) -> runoptions.RunOptions:
    opts = runoptions.from_namespace(args, "check-" + rundirs.new_run_id(), started_in)
    yours = any(getattr(opts, k) for k in ("call", "script", "pytest", "dataset", "pairs",
                                          "scenarios"))
    return dataclasses.replace(opts, user_only=opts.user_only or (yours and not
                                                                    args.with_scenarios))


def _report(*argv: str) -> str:
    """``rngdrift report ARGV`` (harness.commands.report), its stdout returned."""
    parser = argparse.ArgumentParser(prog="rngdrift report")
    report.add_arguments(parser)
    said = io.StringIO()
    with contextlib.redirect_stdout(said):
        report.run(parser.parse_args(list(argv)))
    return said.getvalue()


def severities(run_path: Path) -> set[str]:
    """The severities of the findings the report wrote (findings.csv)."""
    with open(run_path / FINDINGS_CSV, newline="", encoding="utf-8") as handle:
        return {row["severity"] for row in csv.DictReader(handle)}


def run(args: argparse.Namespace) -> int:
    if args.blame_budget is not None and not args.blame:
        raise UserError("--blame-budget bounds --blame: give --blame too")
    args.blame_budget = args.blame_budget or BLAME_BUDGET
    started_in = Path.cwd().resolve()
    opts = _options(args, started_in)
    sides = [specs.read(args.old, "--from", started_in, args.declared),
             specs.read(args.new, "--to", started_in, args.declared)]
    cache = (args.envdir or run_command.state_dir(started_in) / "check").resolve()
    index = runoptions.index_args(opts)
    extra_for = checkrun.extra_requirements(opts)
    chosen = checkrun.resolve_both(sides, lambda xy, side: extra_for(xy, side) + [
        a for f in opts.cell_requirements for a in ("-r", f)], index, cache, args.refresh)
    ids = checkrun.cell_ids(chosen)
    if compat.order(ids) != ids:
        raise UserError(f"--to {args.new} ({ids[1]}) is older than --from {args.old} "
                        f"({ids[0]}); a check answers an upgrade: swap them")
    root = importroot.make(cache)
    for cell_id, resolved in zip(ids, chosen):  # before anything is installed
        problem = cellsession.check_user_code(opts, compat.parse_id(cell_id) or
                                              compat.Cell(resolved.python, "?", "?"),
                                              resolved.interpreter, root)
        if problem:
            raise UserError(problem)
    run_path = rundirs.run_dir(opts.run_id, opts.results)
    (run_path / "cells").mkdir(parents=True, exist_ok=True)
    for side, cell_id, resolved in zip(sides, ids, chosen):
        print(f"rngdrift check: {side}: {side.what} -> {cell_id}", file=sys.stderr, flush=True)
        python = build.install(resolved, cache, index, str(side))
        checkrun.run_cell(python, cell_id, opts, run_path, root,
                          [f"rngdrift check {side}: {side.what}"])
    sys.stderr.write(_report(str(run_path)))
    answer = _report(str(run_path), "--from", ids[0], "--to", ids[1])
    answer = "#" + answer if answer.startswith("# ") else answer
    text = "\n".join(checkrun.header(sides, chosen, ids)) + "\n" + answer
    if args.blame:
        text += "\n" + "\n".join(_blame(args, opts, sides, chosen, ids, run_path, root, cache,
                                         index))
    rundirs.write_files(run_path, {ANSWER: text})
    rundirs.point_latest(run_path)  # only a check that answered: latest/check.md exists
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rundirs.write_files(args.out.parent, {args.out.name: text})
    print(text, end="")
    print(f"rngdrift check: {run_path / ANSWER} (and report.md, report.html, findings.csv "
          "beside it)", file=sys.stderr)
    failing = sorted(severities(run_path) & set(args.fail_on))
    return 1 if failing else 0


def _blame(args, opts, sides, chosen, ids, run_path, root, cache, index) -> list[str]:
    """check --blame: the changed rows blamed on one package's bump each (check.md's
    section returned; blame.csv and blame.json written beside the run)."""
    rows, noise = blamerun.changed_rows(run_path, ids)
    old, new = blamerun.pin_map(chosen[0]), blamerun.pin_map(chosen[1])
    declared = set().union(*(s.declared.names() for s in sides))
    groups, followers = blame.plan(old, new, declared)
    narrowed = blamerun.narrowed(opts, rows, opts.run_id + "-blame") if rows else opts
    probes = blamerun.Probes(chosen[0], followers, narrowed, run_path, root, cache, index, rows)
    releases = blamerun.Releases(chosen[0].python, blamerun.index_url(opts))
    print(f"rngdrift check --blame: {len(rows)} changed rows; moving {len(groups)} "
          f"package group(s) one at a time (budget {args.blame_budget} environments)",
          file=sys.stderr, flush=True)
    result = blame.Blame(old, rows, groups if rows else [], probes, releases,
                         args.blame_budget, followers).run()
    cost = probes.cost.stop()
    rundirs.write_files(run_path, blametext.files(result, cost, probes.log, ids, noise))
    lines = blametext.section(result, cost, ids[0], noise)
    print(f"rngdrift check --blame: {cost.built} environments built, {cost.runs} scenario "
          f"runs, {cost.wall_s:.0f} s; {run_path / blametext.BLAME_CSV}", file=sys.stderr)
    return lines
