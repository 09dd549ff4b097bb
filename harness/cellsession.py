"""What one matrix session does for its cell (called from noxfile.py).

install exact pins -> run ``python -m harness.cell`` in the venv -> queue the report.
A failed install becomes an error row in the cell's CSV, so the hole is visible
in every report instead of a silently missing cell.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

from harness import compat, interpreters, runs
from harness.cell import schema

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TAIL_LINES = 6


def parse_posargs(posargs: list[str], default_run_id: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nox -s matrix --", add_help=True)
    parser.add_argument("--run-id", default=os.environ.get(runs.RUN_ID_ENV) or default_run_id,
                        help=f"results/<run-id>/ to write into (env {runs.RUN_ID_ENV})")
    parser.add_argument("--resume", action="store_true",
                        help="skip cells whose CSV in the run is complete and valid")
    parser.add_argument("--results", default=str(runs.RESULTS), help=argparse.SUPPRESS)
    parser.add_argument("--seeding", help="comma-separated seeding modes (default: all)")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--only", action="append", default=[], metavar="GLOB")
    parser.add_argument("--skip", action="append", default=[], metavar="GLOB")
    parser.add_argument("--scenarios", action="append", default=[], metavar="PATH",
                        help="your own scenario file, package or directory (repeatable)")
    parser.add_argument("--cell-requirements", action="append", default=[], metavar="FILE",
                        help="pip requirements file installed into every cell with its pins")
    parser.add_argument("--timeout", type=float)
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="run only shard K of N (cells dealt round-robin by their "
                             "position in the session's cell list)")
    args = parser.parse_args(posargs)
    runs.check_run_id(args.run_id)
    return args


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard wants K/N with 1 <= K <= N, got {text!r}")
    return k, n


def shard_of(cell: compat.Cell, cells: list[compat.Cell], shards: int) -> int:
    """The shard (1..shards) that ``cell`` belongs to: round-robin by its position in
    ``cells``, so old and new (slow, large) cells spread evenly and a cell keeps its
    shard as long as the list does not change before it."""
    ids = [c.id for c in cells]
    if cell.id not in ids:
        raise ValueError(f"{cell.id} is not in this session's cell list")
    return ids.index(cell.id) % shards + 1


def cell_args(args: argparse.Namespace) -> list[str]:
    """Options passed through to ``python -m harness.cell``."""
    out = []
    for name in ("seeding", "repeats", "timeout", "jobs"):
        value = getattr(args, name)
        if value is not None:
            out += [f"--{name}", str(value)]
    for name in ("only", "skip"):
        for value in getattr(args, name):
            out += [f"--{name}", value]
    for path in args.scenarios:
        out += ["--scenarios", str(Path(path).resolve())]
    for path in args.cell_requirements:
        out += ["--cell-requirements", str(Path(path).resolve())]
    return out


def resolve_user_paths(args: argparse.Namespace, invoked_from: str | Path) -> None:
    """Make ``--scenarios``/``--cell-requirements`` absolute, relative to where nox was
    started (nox itself runs sessions in the noxfile's folder)."""
    base = Path(invoked_from)
    args.scenarios = [str((base / p).resolve()) for p in args.scenarios]
    args.cell_requirements = [str((base / p).resolve()) for p in args.cell_requirements]


def check_user_code(args: argparse.Namespace, cell: compat.Cell, python: str | Path | None) -> str | None:
    """One line saying why the user's files cannot run in ``cell``, or None.

    Runs before anything is installed: a missing path, a requirements file that is
    not there, or a scenario file the cell's Python cannot compile (checked with
    that interpreter, which needs nothing installed) fails in a second, not after
    the torch install.
    """
    for path in args.cell_requirements:
        if not Path(path).is_file():
            return f"{path}: no such requirements file (--cell-requirements)"
    if not args.scenarios:
        return None
    if python is None:
        return f"{cell.id}: {interpreters.missing_hint(cell.python)}"
    proc = subprocess.run(
        [str(python), "-m", "harness.cell.registry", "--check", *args.scenarios,
         "--context", f"cell {cell.id}"],
        capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if proc.returncode == 0:
        return None
    lines = [line.removeprefix("rngdrift: ") for line in proc.stderr.splitlines() if line.strip()]
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return (lines[0] if lines else f"syntax check failed with code {proc.returncode}") + more


def cell_is_complete(path: Path) -> bool:
    """A cell CSV is complete when it parses and carries this schema version."""
    if not path.is_file():
        return False
    try:
        rows = schema.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return bool(rows) and all(r.get("schema_version") == schema.SCHEMA_VERSION for r in rows)


def install_command(session, requirements: list[str]) -> list[str]:
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    if session.venv_backend == "uv":
        from nox.virtualenv import find_uv  # the uv nox itself uses
        _, uv, _ = find_uv()
        return [uv, "pip", "install", "--python", python, *requirements]
    return [python, "-m", "pip", "install", "--disable-pip-version-check", *requirements]


def error_rows(cell: compat.Cell, run_id: str, scenario: str, detail: str) -> list[dict]:
    return [{
        "schema_version": schema.SCHEMA_VERSION, "run_id": run_id, "cell": cell.id,
        "python": cell.python, "torch": cell.torch, "torchvision": cell.torchvision,
        "numpy": compat.NUMPY, "pillow": compat.PILLOW, "platform": sys.platform,
        "device": "", "scenario": scenario, "seeding": "", "repeat": "",
        "metric": schema.STATUS_METRIC, "kind": "text", "value": "error",
        "status": "error", "detail": detail,
    }]


def _cell_interpreter(session, cell: compat.Cell) -> Path | None:
    """The cell venv's interpreter (nox made the venv before calling us), else the
    Python the cell needs."""
    location = getattr(getattr(session, "virtualenv", None), "location", None)
    if location and (Path(location) / "bin" / "python").exists():
        return Path(location) / "bin" / "python"
    return interpreters.find(cell.python)


def run_cell(session, cell: compat.Cell, default_run_id: str,
             cells: list[compat.Cell] | None = None) -> None:
    """``cells`` is the session's whole cell list, in order (what ``--shard`` deals out)."""
    args = parse_posargs(list(session.posargs), default_run_id)
    if args.shard:
        k, n = args.shard
        own = shard_of(cell, cells if cells is not None else [cell], n)
        if own != k:
            session.skip(f"{cell.id} is in shard {own}/{n}, not {k}/{n} (--shard)")
    resolve_user_paths(args, getattr(session, "invoked_from", None) or os.getcwd())
    problem = check_user_code(args, cell, _cell_interpreter(session, cell))
    if problem:
        # Bad user input fails the whole nox run at once, like a bad option would.
        print(f"rngdrift: {problem}", file=sys.stderr)
        raise SystemExit(2)
    run_path = runs.run_dir(args.run_id, Path(args.results))
    out = runs.cell_csv(run_path, cell.id)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs.point_latest(run_path)
    session.notify("report", posargs=[str(run_path)])
    if args.resume and cell_is_complete(out):
        session.log(f"{cell.id}: complete CSV already in {run_path.name}; skipped (--resume)")
        return

    # User requirements resolve together with the pins, so they cannot move torch or numpy.
    requirements = cell.requirements + [a for f in args.cell_requirements for a in ("-r", f)]
    cmd = install_command(session, requirements)
    session.log("install: " + " ".join(shlex.quote(c) for c in cmd[-len(requirements):]))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        lines = [l.strip() for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]
        detail = " | ".join(lines[-INSTALL_TAIL_LINES:])
        schema.write_csv(out, error_rows(cell, args.run_id, "cell.install", "install failed: " + detail))
        session.error(f"{cell.id}: install failed: {lines[-1] if lines else proc.returncode}")

    session.run("python", "-m", "harness.cell", "--out", str(out), "--cell", cell.id,
                "--run-id", args.run_id, *cell_args(args), env={"PYTHONPATH": str(ROOT)})
