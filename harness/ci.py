"""Glue between nox and a CI's job matrix (used by .github/workflows/nightly.yml).

    nox -l --json -s matrix | rngdrift ci matrix
        -> {"include": [{"session": "matrix(py3.8-...)", "cell": "py3.8-...", "python": "3.8"}, ...]}
    rngdrift ci plan LISTING --reuse-from results/previous [--cell-args "..."]
        -> {"matrix": {"include": [only the cells that must run]}, "count": N,
            "plan": [{"cell": ..., "action": "reuse" | "run", "reason": ..., "key": ...}]}
    rngdrift ci reuse results/<run> --plan '<the plan>'
        -> copies each reused cell from where the plan says; records why the others ran
    rngdrift ci holes results/<run> --matrix '{"include": [...]}'
        -> an error row for every expected cell whose CSV never came back

The first turns nox's own session list into one CI job per cell, so the
workflow never duplicates the version table. The second keeps a cell whose job
died before writing anything (runner lost, interpreter missing, timeout) as a
visible ``cell.missing`` hole in the merged report instead of a silent absence.
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

from harness import cellsession, compat, resultkey, reuse, runoptions, runs
from harness.cell import schema
from harness.errors import UserError

HELP = "glue between nox and a CI's job matrix (matrix, holes)"

SESSION_SETS = ("matrix", "exhaustive", "patches")
MISSING_SCENARIO = schema.CELL_MISSING
_CALL = re.compile(r"(?P<name>[^(]+)\((?P<cell>[^)]+)\)")


def parse_listing(text: str, source: str = "nox -l --json") -> list[dict]:
    try:
        listing = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{source}: not JSON ({exc})") from None
    if not isinstance(listing, list) or not all(isinstance(e, dict) for e in listing):
        raise UserError(f"{source}: expected a JSON list of sessions as `nox -l --json` prints")
    return listing


def matrix_include(listing: list[dict], sessions: list[str]) -> list[dict]:
    """One job-matrix entry per cell session whose function name is in ``sessions``.

    ``nox -l --json`` lists only the sessions selected (``-s``/``-k``/``-t``, or the
    noxfile's default), so the selection is nox's; a cell in two selected sets
    (matrix and exhaustive share some) becomes one job."""
    include, seen = [], set()
    for entry in listing:
        if entry.get("name") not in sessions:
            continue
        match = _CALL.fullmatch(entry.get("session", ""))
        if not match or compat.parse_id(match["cell"]) is None:
            raise UserError(f"nox session {entry.get('session')!r} does not name a cell "
                           "like matrix(py3.8-torch1.5.0-tv0.6.0)")
        if match["cell"] in seen:
            continue
        seen.add(match["cell"])
        include.append({"session": entry["session"], "cell": match["cell"],
                        "python": entry.get("python") or compat.parse_id(match["cell"]).python})
    if not include:
        raise UserError(f"no sessions named {', '.join(sessions)} in the nox listing")
    return include


def fill_holes(run_path: Path, cell_ids: list[str]) -> list[str]:
    """Write a ``cell.missing`` error CSV for each expected cell without a CSV.

    Returns the ids filled. A CSV that is there is never touched."""
    run_id = runs.check_run_id(run_path.name)
    filled = []
    for cell_id in cell_ids:
        out = runs.cell_csv(run_path, cell_id)
        if out.exists():
            continue
        cell = compat.parse_id(cell_id)
        if cell is None:
            raise UserError(f"expected cell {cell_id!r} is not a cell id")
        detail = "no CSV came back from this cell's CI job (see that job's log)"
        schema.write_csv(out, cellsession.error_rows(cell, run_id, MISSING_SCENARIO, detail))
        filled.append(cell_id)
    return filled


def plan_jobs(include: list[dict], cell_args: list[str],
              previous: Path | None) -> tuple[list[dict], list[reuse.Decision]]:
    """(the job entries of the cells that must run, every cell's decision). ``cell_args``
    are the options every cell job gets after ``--``; ``previous`` the last night's run
    (None, or not there: the first night, or the cache was evicted: everything runs)."""
    extra = ["--reuse-from", str(previous)] if previous and previous.is_dir() else []
    try:
        args = runoptions.parse([*cell_args, *extra], "plan", prog="--cell-args")
    except SystemExit:
        raise UserError(f"--cell-args {' '.join(cell_args)!r}: not options `nox -s matrix --` "
                        "takes (see its --help)") from None
    runoptions.resolve_user_paths(args, Path.cwd())
    cells = [compat.find(e["cell"]) or compat.parse_id(e["cell"]) for e in include]
    decisions = reuse.plan(cells, args)
    to_run = {d.cell for d in decisions if not d.reused}
    return [e for e in include if e["cell"] in to_run], decisions


def adopt_planned(run_path: Path, plan: list[dict]) -> list[str]:
    """Copy every cell the plan reuses into ``run_path`` (its source must still hold the
    key the plan saw; else the cell is left out, and ``holes`` makes it visible), and put
    the plan's reason into the freeze file of each cell that ran. Returns the reused ids."""
    adopted = []
    for entry in plan:
        cell = compat.parse_id(entry["cell"])
        previous = Path(entry["previous"]) if entry.get("previous") else None
        key = resultkey.read_key(reuse.freeze_path(previous, entry["cell"])) if previous else None
        if entry["action"] == "reuse":
            if cell is None or key is None or key.digest != entry["key"]:
                print(f"rngdrift ci: {entry['cell']}: {previous} no longer holds key "
                      f"{entry['key']}; not reused", file=sys.stderr)
                continue
            decision = reuse.Decision(cell.id, "reuse", entry["reason"], key, previous)
            reuse.adopt(decision, run_path)
            adopted.append(cell.id)
        else:
            reuse.record_reason(run_path, entry)
    return adopted


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


def run(args: argparse.Namespace) -> int:
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
