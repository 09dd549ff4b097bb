"""What one matrix session does for its cell (called from noxfile.py).

install exact pins -> run ``python -m _rngdrift.harness.cell`` in the venv -> queue the report.
A failed install becomes an error row in the cell's CSV, so the hole is visible
in every report instead of a silently missing cell.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import glob
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from ..matrix import compat, interpreters
from . import cache, importroot, reuse, runoptions, rundirs
from ..cell import environment, options, schema
from ..errors import UserError

CELL_MODULE = "_rngdrift.harness.cell"
INSTALL_TAIL_LINES = 6
EXTRA_CELLS_ENV = "RNGDRIFT_EXTRA_CELLS"


def parse_posargs(posargs: list[str], default_run_id: str) -> argparse.Namespace:
    """The options after ``nox -s matrix --`` (``harness.runoptions``): the cell's own,
    forwarded by ``cell_args``, plus where results go, which shard runs, which indexes
    install and what is reused."""
    return runoptions.parse(posargs, default_run_id)


parse_shard = runoptions.parse_shard
latest_run_id = runoptions.latest_run_id


def shard_of(cell: compat.Cell, cells: list[compat.Cell], shards: int) -> int:
    """The shard (1..shards) that ``cell`` belongs to: round-robin by its position in
    ``cells``, so old and new (slow, large) cells spread evenly and a cell keeps its
    shard as long as the list does not change before it."""
    ids = [c.id for c in cells]
    if cell.id not in ids:
        raise ValueError(f"{cell.id} is not in this session's cell list")
    return ids.index(cell.id) % shards + 1


def cell_args(args: argparse.Namespace) -> list[str]:
    """Options passed through to ``python -m _rngdrift.harness.cell`` (user paths made absolute;
    ``--workdir``: where the relative paths in --call/--script/--pytest/... are from)."""
    forwarded = argparse.Namespace(**vars(args))
    forwarded.scenarios = [str(Path(p).resolve()) for p in args.scenarios]
    forwarded.cell_requirements = [str(Path(p).resolve()) for p in args.cell_requirements]
    workdir = getattr(args, "workdir", None)
    return options.to_argv(forwarded, "both") + (["--workdir", str(workdir)] if workdir else [])


def pytest_requirement(python: str) -> str:
    """The pytest a cell gets with ``--pytest``: the newest line that supports its Python
    (7.4 is the last for 3.7, 8.3 for 3.8); the freeze file records the exact version."""
    if python == "3.7":
        return "pytest>=7.4,<7.5"
    if python == "3.8":
        return "pytest>=8.3,<8.4"
    return "pytest>=8.3"


def check_user_code(args: argparse.Namespace, cell: compat.Cell, python: str | Path | None,
                    import_root: Path | None = None) -> str | None:
    """One line saying why the user's files cannot run in ``cell``, or None.

    Runs before anything is installed: a missing path, a requirements file that is
    not there, or a scenario file the cell's Python cannot compile (checked with
    that interpreter, which needs nothing installed) fails in a second, not after
    the torch install.
    """
    for path in args.cell_requirements:
        if not Path(path).is_file():
            return f"{path}: no such requirements file (--cell-requirements)"
    files = runoptions.user_code_files(args)
    for path in files:
        if not Path(path).is_file():
            return f"{path}: no such file"
    if not args.scenarios and not files:
        return None
    if python is None:
        return f"{cell.id}: {interpreters.missing_hint(cell.python)}"
    import_root = import_root or importroot.make(Path.cwd() / ".nox")
    proc = subprocess.run(
        [str(python), "-m", CELL_MODULE + ".loader", "--check", *args.scenarios, *files,
         "--context", f"cell {cell.id}"],
        capture_output=True, text=True, cwd=import_root,
        env=dict(os.environ, PYTHONPATH=str(import_root)))
    if proc.returncode == 0:
        return None
    lines = [line.removeprefix("rngdrift: ") for line in proc.stderr.splitlines() if line.strip()]
    more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
    return (lines[0] if lines else f"syntax check failed with code {proc.returncode}") + more


cell_is_complete = rundirs.cell_is_complete


def remove_leftovers(out: Path) -> list[Path]:
    """Temporary files an interrupted run of this cell left (atomic writes that never
    got renamed, children's logs never merged). Removed before the cell runs again."""
    cell = out.name[:-len(".csv")]
    gone = []
    for path in out.parent.glob(glob.escape(cell) + ".*"):
        rest = path.name[len(cell):]
        if re.fullmatch(r"\.(csv|freeze\.txt|journal)\.tmp-\w+|\.log\..+\.part", rest):
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


@contextlib.contextmanager
def cell_lock(run_path: Path, cell_id: str):
    """Hold the one lock a cell of a run has while it runs: a second run of the same
    cell and run id refuses with one line instead of deleting the first's files."""
    locks = run_path / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{cell_id}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise UserError(f"{cell_id}: another run of this cell is writing {run_path} "
                            f"(pid {holder}); wait for it, or choose another --run-id") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def install_command(session, requirements: list[str], index: list[str] = ()) -> list[str]:
    """uv's (or pip's) install of ``requirements``; ``index``: --index-url and the like,
    which both spell alike."""
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    if session.venv_backend == "uv":
        from nox.virtualenv import find_uv  # the uv nox itself uses
        _, uv, _ = find_uv()
        return [uv, "pip", "install", "--python", python, *index, *requirements]
    return [python, "-m", "pip", "install", "--disable-pip-version-check", *index,
            *requirements]


def error_rows(cell: compat.Cell, run_id: str, scenario: str, detail: str) -> list[schema.Row]:
    """The one row of a cell that failed as a whole (``cell.install`` ...), from its pins."""
    meta = schema.cell_meta(run_id=run_id, cell=cell.id, python=cell.python, torch=cell.torch,
                            torchvision=cell.torchvision, numpy=cell.numpy, pillow=cell.pillow,
                            platform=environment.machine_text(), device="")
    return schema.with_manifest([schema.cell_row(meta, scenario, detail)])


def _import_root(session) -> Path:
    """The cell's PYTHONPATH: rngdrift's two names only (``importroot``), next to the
    session venvs (nox's envdir)."""
    location = getattr(getattr(session, "virtualenv", None), "location", None)
    base = Path(location).parent if location else rundirs.RESULTS.parent / ".nox"
    return importroot.make(base)


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
    """Write the ``cell.interpreter`` error row of a cell whose Python is nowhere to be
    found (``harness.interpreters``), so the hole shows in every report.

    Returns the CSV written, or None when the cell is outside ``--shard`` or
    ``--resume`` keeps a complete CSV for it."""
    try:
        args = parse_posargs(list(posargs), default_run_id)
    except SystemExit:  # bad options: the sessions that do run will say so
        return None
    if args.shard and shard_of(cell, cells, args.shard[1]) != args.shard[0]:
        return None
    out = rundirs.cell_csv(rundirs.run_dir(args.run_id, Path(args.results)), cell.id)
    if args.resume and cell_is_complete(out, cell.id):
        return None
    hint = interpreters.missing_hint(cell.python)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    schema.write_csv(out, error_rows(cell, args.run_id, schema.CELL_INTERPRETER, hint))
    rundirs.point_latest(out.parent.parent)
    print(f"rngdrift: {cell.id}: {hint}; recorded as an error row in {out}", file=sys.stderr)
    return out


def skip_missing_interpreter(session, cell: compat.Cell, default_run_id: str,
                             cells: list[compat.Cell]) -> None:
    """The session of a cell whose Python is missing: its error row, then a skip (a
    failure on CI, as nox does with ``--error-on-missing-interpreters``)."""
    record_missing_interpreter(cell, list(session.posargs), default_run_id, cells)
    why = f"{cell.id}: {interpreters.missing_hint(cell.python)}"
    (session.error if os.environ.get("CI") else session.skip)(why)


def plan_cells(posargs: list[str], default_run_id: str, cells: list[compat.Cell],
               invoked_from: str | Path | None = None) -> dict[str, reuse.Decision] | None:
    """What each cell will do, decided once when nox loads the noxfile (before any session
    moves ``results/latest``), or None without ``--reuse-from``/``--plan``. Cells to be
    reused need no venv: the noxfile gives their sessions none."""
    # The posargs are for whichever sessions run (`nox -s tests -- -k x` too): only
    # those asking for a plan are parsed here, quietly; a bad option is the sessions' to say.
    if not any(a == "--plan" or a.split("=")[0] == "--reuse-from" for a in posargs):
        return None
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args = parse_posargs(list(posargs), default_run_id)
    except SystemExit:
        return None
    runoptions.resolve_user_paths(args, invoked_from or os.getcwd())
    if args.reuse_from:
        previous = rundirs.resolve(args.reuse_from)
        if not previous.is_dir():
            raise UserError(f"--reuse-from {args.reuse_from}: no such run directory")
        if previous == rundirs.run_dir(args.run_id, Path(args.results)).resolve():
            raise UserError(f"--reuse-from {args.reuse_from}: that is this run ({args.run_id}); "
                            "name a previous one")
    return {d.cell: d for d in reuse.plan(cells, args)}


def needs_venv(plan: dict[str, reuse.Decision] | None, cell_id: str, posargs: list[str]) -> bool:
    """False for a cell that is reused or only planned (``--plan``)."""
    if plan is None or cell_id not in plan:
        return True
    return not (plan[cell_id].reused or "--plan" in posargs)


def run_cell(session, cell: compat.Cell, default_run_id: str,
             cells: list[compat.Cell] | None = None,
             plan: dict[str, reuse.Decision] | None = None,
             interpreter_found: bool = True) -> None:
    """``cells`` is the session's whole cell list, in order (what ``--shard`` deals out);
    ``plan`` what ``plan_cells`` decided for them at load time (computed here without)."""
    args = parse_posargs(list(session.posargs), default_run_id)
    if args.shard:
        k, n = args.shard
        own = shard_of(cell, cells if cells is not None else [cell], n)
        if own != k:
            session.skip(f"{cell.id} is in shard {own}/{n}, not {k}/{n} (--shard)")
    runoptions.resolve_user_paths(args, getattr(session, "invoked_from", None) or os.getcwd())
    decision = (plan or {}).get(cell.id)
    if decision is None:
        try:
            decision = reuse.plan([cell], args)[0]
        except UserError as exc:
            session.error(str(exc))
    if args.plan:
        session.skip(f"{cell.id}: {decision.line()} (--plan: nothing ran)")
    if not decision.reused:
        if not interpreter_found:
            skip_missing_interpreter(session, cell, default_run_id, cells or [cell])
        problem = check_user_code(args, cell, _cell_interpreter(session, cell),
                                  _import_root(session))
        if problem:
            # Bad user input fails the whole nox run at once, like a bad option would.
            print(f"rngdrift: {problem}", file=sys.stderr)
            raise SystemExit(2)
    run_path = rundirs.run_dir(args.run_id, Path(args.results))
    out = rundirs.cell_csv(run_path, cell.id)
    with contextlib.ExitStack() as held:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            rundirs.point_latest(run_path)
            held.enter_context(cell_lock(run_path, cell.id))
        except UserError as exc:
            session.error(str(exc))
        except OSError as exc:
            session.error(f"{cell.id}: cannot write into {exc.filename or run_path} "
                          f"({exc.strerror})")
        if decision.reused:
            session.notify("report", posargs=[str(run_path)])
            reuse.adopt(decision, run_path)
            session.log(f"{cell.id}: {decision.line()}")
            return
        _run_locked(session, cell, args, run_path, out, decision, cells)


def _run_locked(session, cell: compat.Cell, args: argparse.Namespace, run_path: Path,
                out: Path, decision: reuse.Decision, cells: list[compat.Cell] | None = None
                ) -> None:
    """The cell's session while it holds its lock: resume check, leftovers, install, run."""
    session.notify("report", posargs=[str(run_path)])
    if args.resume and cell_is_complete(out, cell.id):
        session.log(f"{cell.id}: complete CSV already in {run_path.name}; skipped (--resume)")
        return
    for path in remove_leftovers(out):
        session.log(f"removed {path.name}, left by an interrupted run")
    if decision.previous is not None:
        session.log(f"{cell.id}: {decision.line()}")

    # User requirements resolve together with the pins, so they cannot move torch or numpy.
    requirements = cell.requirements + [a for f in args.cell_requirements for a in ("-r", f)]
    if args.pytest:  # resolved with the pins too: pytest cannot move torch either
        requirements.append(pytest_requirement(cell.python))
    # --max-cache (harness.runs.cache): evict what no later cell needs before the install,
    # then record the sizes and remove the venv; a cell the budget cannot hold gets an
    # error row instead of an install; without --max-cache, nothing
    with cache.bounded(session, cell, args, run_path, cells, refused=lambda why: schema.write_csv(
            out, error_rows(cell, args.run_id, schema.CELL_INSTALL, why))):
        _install_and_run(session, cell, args, out, decision, requirements)


def _install_and_run(session, cell: compat.Cell, args: argparse.Namespace, out: Path,
                     decision: reuse.Decision, requirements: list[str]) -> None:
    cmd = install_command(session, requirements, runoptions.index_args(args))
    session.log("install: " + " ".join(shlex.quote(c) for c in cmd[-len(requirements):]))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=_import_root(session))
    if proc.returncode != 0:
        lines = [l.strip() for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]
        detail = " | ".join(lines[-INSTALL_TAIL_LINES:])
        schema.write_csv(out, error_rows(cell, args.run_id, schema.CELL_INSTALL,
                                         "install failed: " + detail))
        session.error(f"{cell.id}: install failed: {lines[-1] if lines else proc.returncode}")

    notes = [*decision.key.header(), decision.note(), *runoptions.index_notes(args)]
    session.run("python", "-m", CELL_MODULE, "--out", str(out), "--cell", cell.id,
                "--run-id", args.run_id, *cell_args(args),
                *[a for note in notes for a in ("--freeze-note", note)],
                env={"PYTHONPATH": str(_import_root(session))})
