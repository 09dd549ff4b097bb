"""What one matrix session does for its cell (called from noxfile.py).

install exact pins -> run ``python -m harness.cell`` in the venv -> queue the report.
A failed install becomes an error row in the cell's CSV, so the hole is visible
in every report instead of a silently missing cell.
"""
from __future__ import annotations

import argparse
import csv
import glob
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from harness import compat, interpreters, runs
from harness.cell import schema

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TAIL_LINES = 6
CELL_LEVEL = "cell."  # pseudo scenarios of a whole cell: cell.install, cell.interpreter
EXTRA_CELLS_ENV = "RNGDRIFT_EXTRA_CELLS"


def parse_posargs(posargs: list[str], default_run_id: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="nox -s matrix --", add_help=True)
    parser.add_argument("--run-id", help=f"results/<run-id>/ to write into (env {runs.RUN_ID_ENV})")
    parser.add_argument("--resume", action="store_true",
                        help="continue a run (--run-id, else results/latest): skip cells whose "
                             "CSV is complete and valid, resume interrupted cells mid-way")
    parser.add_argument("--results", default=str(runs.RESULTS), help=argparse.SUPPRESS)
    parser.add_argument("--seeding", help="comma-separated seeding modes (default: all)")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--only", action="append", default=[], metavar="GLOB")
    parser.add_argument("--skip", action="append", default=[], metavar="GLOB")
    parser.add_argument("--scenarios", action="append", default=[], metavar="PATH",
                        help="your own scenario file, package or directory (repeatable)")
    parser.add_argument("--cell-requirements", action="append", default=[], metavar="FILE",
                        help="pip requirements file installed into every cell with its pins")
    parser.add_argument("--timeout", type=float,
                        help="seconds a scenario may run unless it sets its own (default 120)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="data memory per child process, e.g. 6G, or 'none' "
                             "(default RAM / (jobs + 1))")
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--start", choices=("fork", "spawn"),
                        help="fork children from zygotes (default) or spawn an interpreter each")
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="run only shard K of N (cells dealt round-robin by their "
                             "position in the session's cell list)")
    args = parser.parse_args(posargs)
    args.run_id = args.run_id or os.environ.get(runs.RUN_ID_ENV)
    if not args.run_id and args.resume:
        args.run_id = latest_run_id(Path(args.results))
        if args.run_id is None:
            parser.error(f"--resume: no run to resume ({Path(args.results) / 'latest'} does not "
                         "exist); name it with --run-id")
    args.run_id = args.run_id or default_run_id
    runs.check_run_id(args.run_id)
    return args


def latest_run_id(results: Path) -> str | None:
    """The run id results/latest points to, or None."""
    latest = results / "latest"
    return Path(os.readlink(latest)).name if latest.is_symlink() and latest.exists() else None


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
    for name in ("seeding", "repeats", "timeout", "jobs", "memory_limit", "start"):
        value = getattr(args, name)
        if value is not None:
            out += ["--" + name.replace("_", "-"), str(value)]
    if args.resume:
        out.append("--resume")  # the cell keeps jobs journalled before an interrupt
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


def cell_is_complete(path: Path, cell_id: str | None = None) -> bool:
    """Whether ``--resume`` keeps this cell CSV: it parses with this schema's columns
    and version, every row is complete and of this cell, and it holds scenario
    results. A CSV that only records a cell-level failure (``cell.install``,
    ``cell.interpreter``) is retried: the install may work this time."""
    if not path.is_file():
        return False
    try:
        rows = schema.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, csv.Error):
        return False
    if not rows or list(rows[0]) != list(schema.COLUMNS):
        return False
    for row in rows:
        if None in row or None in row.values() or row["schema_version"] != schema.SCHEMA_VERSION:
            return False
        if cell_id is not None and row["cell"] != cell_id:
            return False
    return not all(row["scenario"].startswith(CELL_LEVEL) for row in rows)


def remove_leftovers(out: Path) -> list[Path]:
    """Temporary files an interrupted run of this cell left (atomic writes that never
    got renamed, children's logs never merged). Removed before the cell runs again."""
    cell = out.name[:-len(".csv")]
    gone = []
    for path in out.parent.glob(glob.escape(cell) + ".*"):
        rest = path.name[len(cell):]
        if re.fullmatch(r"\.(csv|freeze\.txt|journal)\.tmp-\d+|\.log\..+\.part", rest):
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


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
        "numpy": cell.numpy, "pillow": cell.pillow, "platform": sys.platform,
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


def extra_cells() -> list[compat.Cell]:
    """Cells named in RNGDRIFT_EXTRA_CELLS (comma-separated ids), appended to the default
    matrix. Test-only: how a pair that cannot be installed (``torch9.9.9``) or a Python
    that is not there (``py3.99``) is run through the real sessions."""
    cells = []
    for cell_id in filter(None, os.environ.get(EXTRA_CELLS_ENV, "").split(",")):
        cell = compat.parse_id(cell_id.strip())
        if cell is None:
            raise SystemExit(f"rngdrift: {EXTRA_CELLS_ENV}: {cell_id!r} is not a cell id like "
                             "py3.8-torch1.5.0-tv0.6.0")
        cells.append(cell)
    return cells


def record_missing_interpreter(cell: compat.Cell, posargs: list[str], default_run_id: str,
                               cells: list[compat.Cell]) -> Path | None:
    """Write the ``cell.interpreter`` error row of a cell whose Python nox could neither
    find nor download (nox then skips the session before ``run_cell`` would run).

    Returns the CSV written, or None when the cell is outside ``--shard`` or
    ``--resume`` keeps a complete CSV for it."""
    try:
        args = parse_posargs(list(posargs), default_run_id)
    except SystemExit:  # bad options: the sessions that do run will say so
        return None
    if args.shard and shard_of(cell, cells, args.shard[1]) != args.shard[0]:
        return None
    out = runs.cell_csv(runs.run_dir(args.run_id, Path(args.results)), cell.id)
    if args.resume and cell_is_complete(out, cell.id):
        return None
    hint = interpreters.missing_hint(cell.python)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    schema.write_csv(out, error_rows(cell, args.run_id, "cell.interpreter", hint))
    runs.point_latest(out.parent.parent)
    print(f"rngdrift: {cell.id}: {hint}; recorded as an error row in {out}", file=sys.stderr)
    return out


def report_missing_interpreters(nox_module, cell_lists: dict[str, list[compat.Cell]],
                                default_run_id: str) -> bool:
    """Make nox write a cell's error row when it cannot find the cell's Python.

    nox skips such a session (or fails it on CI) before the session function
    runs, so without this the cell would silently be missing from the reports.
    We wrap nox's venv creation: on InterpreterNotFound for a session named in
    ``cell_lists`` the row is written, then nox goes on exactly as before (skip or
    fail, its own message, ``nox -l`` unchanged). Returns False, changing
    nothing, where this nox lacks the hook (such cells are then only skipped).
    """
    runner_cls = getattr(getattr(nox_module, "sessions", None), "SessionRunner", None)
    original = getattr(runner_cls, "_create_venv", None)
    not_found = getattr(getattr(nox_module, "virtualenv", None), "InterpreterNotFound", None)
    if original is None or not_found is None:
        return False
    if getattr(original, "rngdrift_wrapped", False):
        return True

    def _create_venv(self):
        try:
            original(self)
        except not_found:
            spec = getattr(self.func, "call_spec", {})
            cells = cell_lists.get(self.name)
            if cells is not None and "torch" in spec and isinstance(self.func.python, str):
                cell = compat.Cell(self.func.python, spec["torch"], spec["torchvision"])
                record_missing_interpreter(cell, self.posargs, default_run_id, cells)
            raise

    _create_venv.rngdrift_wrapped = True
    runner_cls._create_venv = _create_venv
    return True


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
    if args.resume and cell_is_complete(out, cell.id):
        session.log(f"{cell.id}: complete CSV already in {run_path.name}; skipped (--resume)")
        return
    for path in remove_leftovers(out):
        session.log(f"removed {path.name}, left by an interrupted run")

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
