"""``rngdrift ci matrix|plan|reuse|holes|comment|issue``: glue between nox and a CI's
job matrix (``harness.runs.ci`` holds the logic; .github/workflows/nightly.yml calls
these), and GitHub's pull-request comment and issue (``harness.github``; action.yml
and the nightly call them)."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .. import github
from ..errors import UserError
from ..runs import reuse
from ..runs.ci import (MISSING_SCENARIO, SESSION_SETS, adopt_planned, fill_holes,
                      matrix_include, parse_listing, plan_jobs)


HELP = "glue for CI: a job matrix from nox, holes, the pull-request comment, the issue"


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text()
    except OSError as exc:
        raise UserError(f"{source}: cannot read ({exc.strerror})") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    p_matrix = sub.add_parser("matrix", help="nox -l --json -> a CI job matrix, one job per cell")
    p_matrix.add_argument("listing", nargs="?", default="-",
                          help="file with `nox -l --json` output ('-': stdin)")
    p_matrix.add_argument("--sessions", default=",".join(SESSION_SETS),
                          help="comma-separated session functions to keep (default: every "
                               "cell session in the listing; select with nox -s/-k/-t)")
    p_plan = sub.add_parser("plan", help="nox -l --json + a previous run -> the jobs that "
                                         "must run, and the plan")
    p_plan.add_argument("listing", help="file with `nox -l --json` output ('-': stdin)")
    p_plan.add_argument("--reuse-from", type=Path, metavar="RUN",
                        help="the previous night's run (missing: everything runs)")
    p_plan.add_argument("--cell-args", default="",
                        help="the options every cell job gets after `--` (shell words), with "
                             "reuse options too: --rerun all, --reuse-across-platforms")
    p_plan.add_argument("--sessions", default=",".join(SESSION_SETS), help=argparse.SUPPRESS)
    p_reuse = sub.add_parser("reuse", help="copy the cells the plan reuses into a run")
    p_reuse.add_argument("run", type=Path, help="results/<run-id>")
    p_reuse.add_argument("--plan", required=True, help="the plan JSON `ci plan` printed")
    p_holes = sub.add_parser("holes", help="error rows for expected cells without a CSV")
    p_holes.add_argument("run", type=Path, help="results/<run-id>")
    p_holes.add_argument("--matrix", required=True,
                         help="the job matrix JSON `matrix` printed, or the plan `plan` printed")
    p_comment = sub.add_parser("comment", help="post a file as the pull request's one rngdrift "
                                               "comment, or update it (GITHUB_TOKEN)")
    p_comment.add_argument("--pr", type=int, required=True, metavar="NUMBER")
    p_comment.add_argument("--body-file", required=True, metavar="FILE")
    p_comment.add_argument("--marker", default=github.MARKER,
                           help="the hidden line that finds the comment again (default "
                                "%(default)s)")
    p_comment.add_argument("--repo", help="owner/name (default: GITHUB_REPOSITORY)")
    p_issue = sub.add_parser("issue", help="comment on the open issue with this title, or "
                                           "open one (GITHUB_TOKEN)")
    p_issue.add_argument("--title", required=True)
    p_issue.add_argument("--body-file", required=True, metavar="FILE")
    p_issue.add_argument("--repo", help="owner/name (default: GITHUB_REPOSITORY)")


def run(args: argparse.Namespace) -> int:
    if args.step == "comment":
        done, url = github.upsert_comment(github.Client.from_env(args.repo), args.pr,
                                          _read(args.body_file), args.marker)
        print(f"rngdrift ci: {done} the comment on #{args.pr}: {url}")
        return 0
    if args.step == "issue":
        done, number = github.open_or_comment(github.Client.from_env(args.repo), args.title,
                                              _read(args.body_file))
        print(f"rngdrift ci: {done} issue #{number}")
        return 0
    if args.step == "plan":
        include = matrix_include(parse_listing(_read(args.listing)), list(SESSION_SETS))
        jobs, decisions = plan_jobs(include, shlex.split(args.cell_args), args.reuse_from)
        print(reuse.table(decisions), file=sys.stderr)
        print(json.dumps({"matrix": {"include": jobs}, "count": len(jobs),
                          "plan": [d.to_json() for d in decisions]}, separators=(",", ":")))
        return 0
    if args.step == "reuse":
        try:
            plan = json.loads(args.plan)
            plan = plan["plan"] if isinstance(plan, dict) else plan
            assert all({"cell", "action", "key"} <= set(e) for e in plan)
        except (ValueError, TypeError, KeyError, AssertionError):
            raise UserError("--plan: not the JSON `rngdrift ci plan` prints") from None
        adopted = adopt_planned(args.run, plan)
        print(f"rngdrift ci: reused {len(adopted)} cell(s) into {args.run}")
        return 0
    if args.step == "matrix":
        sessions = [s.strip() for s in args.sessions.split(",") if s.strip()]
        unknown = sorted(set(sessions) - set(SESSION_SETS))
        if unknown:
            raise UserError(f"--sessions: unknown session set {', '.join(unknown)} "
                            f"(known: {', '.join(SESSION_SETS)})")
        include = matrix_include(parse_listing(_read(args.listing)), sessions)
        print(json.dumps({"include": include}, separators=(",", ":")))
        return 0
    try:
        expected = json.loads(args.matrix)
        # `ci matrix`'s {"include": [...]} or `ci plan`'s plan: [{"cell": ...}, ...]
        include = expected["include"] if isinstance(expected, dict) else expected
        cell_ids = [entry["cell"] for entry in include]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UserError("--matrix: not the JSON `rngdrift ci matrix` or `ci plan` prints") \
            from None
    for cell_id in fill_holes(args.run, cell_ids):
        print(f"rngdrift ci: {cell_id}: no CSV came back; recorded as {MISSING_SCENARIO}")
    return 0
