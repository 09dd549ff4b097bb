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

import json
import re
import sys
from pathlib import Path

from . import cellsession, cellsets, resultkey, reuse, runoptions, rundirs
from ..matrix import compat
from ..cell import schema
from ..errors import UserError


SESSION_SETS = cellsets.NAMES
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
    run_id = rundirs.check_run_id(run_path.name)
    filled = []
    for cell_id in cell_ids:
        out = rundirs.cell_csv(run_path, cell_id)
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
    opts = runoptions.parse([*cell_args, *extra], "plan", prog="rngdrift run", add_help=False,
                            context=f"--cell-args {' '.join(cell_args)!r}")
    cells = [compat.find(e["cell"]) or compat.parse_id(e["cell"]) for e in include]
    decisions = reuse.plan(cells, opts)
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
