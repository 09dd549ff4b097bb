"""Glue between nox and a CI's job matrix (used by .github/workflows/nightly.yml).

    nox -l --json -s matrix | rngdrift ci matrix
        -> {"include": [{"session": "matrix(py3.8-...)", "cell": "py3.8-...", "python": "3.8"}, ...]}
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
import sys
from pathlib import Path

from harness import cellsession, compat, runs
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
    p_holes = sub.add_parser("holes", help="error rows for expected cells without a CSV")
    p_holes.add_argument("run", type=Path, help="results/<run-id>")
    p_holes.add_argument("--matrix", required=True, help="the job matrix JSON `matrix` printed")


def run(args: argparse.Namespace) -> int:
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
        include = json.loads(args.matrix)["include"]
        cell_ids = [entry["cell"] for entry in include]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UserError("--matrix: not the JSON `rngdrift ci matrix` prints") from None
    for cell_id in fill_holes(args.run, cell_ids):
        print(f"rngdrift ci: {cell_id}: no CSV came back; recorded as {MISSING_SCENARIO}")
    return 0
