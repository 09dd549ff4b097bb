"""What one matrix session does for its cell (called from noxfile.py).

install exact pins -> run ``python -m _rngdrift.harness.cell`` in the venv -> queue the report.
A failed install becomes an error row in the cell's CSV, so the hole is visible
in every report instead of a silently missing cell.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from .. import paths
from ..matrix import compat, interpreters
from . import cache, importroot, preflight, reuse, runoptions, rundirs, venvguard
from .runoptions import RunOptions
from ..cell import environment, schema
from ..errors import UserError

CELL_MODULE = "_rngdrift.harness.cell"
INSTALL_TAIL_LINES = 6


def shard_of(cell: compat.Cell, cells: list[compat.Cell], shards: int) -> int:
    """The shard (1..shards) that ``cell`` belongs to: round-robin by its position in
    ``cells``, so old and new (slow, large) cells spread evenly and a cell keeps its
    shard as long as the list does not change before it."""
    ids = [c.id for c in cells]
    if cell.id not in ids:
        raise ValueError(f"{cell.id} is not in this session's cell list")
    return ids.index(cell.id) % shards + 1


def pytest_requirement(python: str) -> str:
    """The pytest a cell gets with ``--pytest``: the newest line that supports its Python
    (7.4 is the last for 3.7, 8.3 for 3.8); the freeze file records the exact version."""
    if python == "3.7":
        return "pytest>=7.4,<7.5"
    if python == "3.8":
        return "pytest>=8.3,<8.4"
    return "pytest>=8.3"


def check_user_code(opts: RunOptions, cell: compat.Cell, python: str | Path | None,
                    import_root: Path | None = None) -> str | None:
    """One line saying why the user's files cannot run in ``cell``, or None.

    Runs before anything is installed: a missing path, a requirements file that is
    not there, or a scenario file the cell's Python cannot compile (checked with
    that interpreter, which needs nothing installed) fails in a second, not after
    the torch install.
    """
    for path in opts.cell_requirements:
        if not Path(path).is_file():
            return f"{path}: no such requirements file (--cell-requirements)"
    files = runoptions.user_code_files(opts)
    for path in files:
        if not Path(path).is_file():
            return f"{path}: no such file"
    for text, path in runoptions.pytest_paths(opts):
        if not path.exists():
            return f"--pytest {text!r}: {path}: no such file or folder"
    if not opts.scenarios and not files:
        return None
    if python is None:
        return f"{cell.id}: {interpreters.missing_hint(cell.python)}"
    import_root = import_root or importroot.make(Path.cwd() / ".nox")
    return preflight.cell_check(python, [CELL_MODULE + ".loader", "--check", *opts.scenarios,
                                         *files, "--context", f"cell {cell.id}"],
                                import_root, "syntax check")


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
    with venvguard.exclusive(locks / f"{cell_id}.lock",
                             lambda holder: f"{cell_id}: another run of this cell is writing "
                                            f"{run_path} (pid {holder}); wait for it, or choose "
                                            "another --run-id"):
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
    """The cell's PYTHONPATH and working directory: rngdrift's two names only
    (``importroot``), next to the session venvs (nox's envdir)."""
    location = getattr(getattr(session, "virtualenv", None), "location", None)
    base = Path(location).parent if location else Path.cwd() / ".nox"
    return importroot.make(base)


def _cell_interpreter(session, cell: compat.Cell) -> Path | None:
    """The cell venv's interpreter (nox made the venv before calling us), else the
    Python the cell needs."""
    location = getattr(getattr(session, "virtualenv", None), "location", None)
    if location and (Path(location) / "bin" / "python").exists():
        return Path(location) / "bin" / "python"
    return interpreters.find(cell.python)


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a nox invocation's cell sessions share, made once when the noxfile loads:
    the options after ``--`` (or why they are unusable), and with --reuse-from or
    --plan every cell's decision, made before any session moves ``<results>/latest``."""
    posargs: tuple[str, ...]
    options: RunOptions | None
    problem: UserError | None = None
    plan: dict | None = None

    def needs_venv(self, cell_id: str) -> bool:
        """False for a cell that is reused or only planned (``--plan``), and for every cell
        when the options are unusable (its session only says why): nox makes a session's
        venv before the session runs (1-3 s a cell, minutes for a cold torch)."""
        if self.options is None:
            return False
        if self.plan is None or cell_id not in self.plan:
            return True
        return not (self.plan[cell_id].reused or self.options.plan)

    def usable(self) -> RunOptions:
        """The options, or the UserError that stops a cell session (``-h`` prints the help)."""
        if self.options is not None:
            return self.options
        if {"-h", "--help"} & set(self.posargs):
            runoptions.parse(["--help"], "help")  # prints the options and exits 0
        raise self.problem


def prepare(posargs: list[str], default_run_id: str, cells: list[compat.Cell],
            where: Path | None = None) -> Setup:
    """Parse the options after ``--`` once, and plan the cells when they ask for it.

    The options after ``--`` go to whichever sessions run (``nox -s tests -- -k x``
    too), so an unusable line is kept, not raised: the cell sessions raise it."""
    try:
        opts = runoptions.parse(posargs, default_run_id, where or paths.started_in(),
                                add_help=False)
        if not opts.wants_plan:
            return Setup(tuple(posargs), opts)
        if opts.reuse_from:
            previous = rundirs.resolve(opts.reuse_from, opts.results)
            if not previous.is_dir():
                raise UserError(f"--reuse-from {opts.reuse_from}: no such run directory")
            if previous == rundirs.run_dir(opts.run_id, opts.results).resolve():
                raise UserError(f"--reuse-from {opts.reuse_from}: that is this run "
                                f"({opts.run_id}); name a previous one")
        return Setup(tuple(posargs), opts, plan={d.cell: d for d in reuse.plan(cells, opts)})
    except UserError as exc:
        return Setup(tuple(posargs), None, problem=exc)


def record_missing_interpreter(cell: compat.Cell, opts: RunOptions,
                               cells: list[compat.Cell]) -> Path | None:
    """Write the ``cell.interpreter`` error row of a cell whose Python is nowhere to be
    found (``harness.interpreters``), so the hole shows in every report.

    Returns the CSV written, or None when the cell is outside ``--shard`` or
    ``--resume`` keeps a complete CSV for it."""
    if opts.shard and shard_of(cell, cells, opts.shard[1]) != opts.shard[0]:
        return None
    out = rundirs.cell_csv(rundirs.run_dir(opts.run_id, opts.results), cell.id)
    if opts.resume and cell_is_complete(out, cell.id):
        return None
    hint = interpreters.missing_hint(cell.python)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    schema.write_csv(out, error_rows(cell, opts.run_id, schema.CELL_INTERPRETER, hint))
    rundirs.point_latest(out.parent.parent)
    print(f"rngdrift: {cell.id}: {hint}; recorded as an error row in {out}", file=sys.stderr)
    return out


def skip_missing_interpreter(session, cell: compat.Cell, opts: RunOptions,
                             cells: list[compat.Cell]) -> None:
    """The session of a cell whose Python is missing: its error row, then a skip (a
    failure on CI, as nox does with ``--error-on-missing-interpreters``)."""
    record_missing_interpreter(cell, opts, cells)
    why = f"{cell.id}: {interpreters.missing_hint(cell.python)}"
    (session.error if os.environ.get("CI") else session.skip)(why)


def run_cell(session, cell: compat.Cell, setup: Setup, cells: list[compat.Cell] | None = None,
             interpreter_found: bool = True) -> None:
    """``cells`` is the session's whole cell list, in order (what ``--shard`` deals out);
    ``setup`` what ``prepare`` made of the options when the noxfile loaded. Bad user
    input raises UserError (the noxfile turns it into one line and exit 2)."""
    opts = setup.usable()
    if opts.shard:
        k, n = opts.shard
        own = shard_of(cell, cells if cells is not None else [cell], n)
        if own != k:
            session.skip(f"{cell.id} is in shard {own}/{n}, not {k}/{n} (--shard)")
    decision = (setup.plan or {}).get(cell.id) or reuse.plan([cell], opts)[0]
    if opts.plan:
        session.skip(f"{cell.id}: {decision.line()} (--plan: nothing ran)")
    if not decision.reused:
        if not interpreter_found:
            skip_missing_interpreter(session, cell, opts, cells or [cell])
        python = _cell_interpreter(session, cell)
        problem = (check_user_code(opts, cell, python, _import_root(session))
                   or preflight.user_values_problem(opts, python, _import_root(session)))
        if problem:  # bad user input fails the whole nox run at once, like a bad option
            raise UserError(problem)
    run_path = rundirs.run_dir(opts.run_id, opts.results)
    out = rundirs.cell_csv(run_path, cell.id)
    with contextlib.ExitStack() as held:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            session.error(f"{cell.id}: cannot write into {exc.filename or run_path} "
                          f"({exc.strerror})")
        held.enter_context(cell_lock(run_path, cell.id))
        held.enter_context(venvguard.holding(session, cell.id))  # before it is touched
        try:
            rundirs.point_latest(run_path)  # only by the run that holds the cell
        except OSError as exc:
            session.error(f"{cell.id}: cannot write into {exc.filename or run_path} "
                          f"({exc.strerror})")
        if decision.reused:
            session.notify("report", posargs=[str(run_path)])
            try:
                reuse.adopt(decision, run_path)
            except UserError as exc:  # its files changed since the plan: copy nothing
                session.error(str(exc))
            session.log(f"{cell.id}: {decision.line()}")
            return
        _run_locked(session, cell, opts, run_path, out, decision, cells)


def _run_locked(session, cell: compat.Cell, opts: RunOptions, run_path: Path, out: Path,
                decision: reuse.Decision, cells: list[compat.Cell] | None = None) -> None:
    """The cell's session while it holds its lock: resume check, leftovers, install, run."""
    session.notify("report", posargs=[str(run_path)])
    if opts.resume and cell_is_complete(out, cell.id):
        session.log(f"{cell.id}: complete CSV already in {run_path.name}; skipped (--resume)")
        return
    for path in remove_leftovers(out):
        session.log(f"removed {path.name}, left by an interrupted run")
    venvguard.refresh(session)  # nox kept it (reuse_venv=True); fresh now that it is ours
    if decision.previous is not None:
        session.log(f"{cell.id}: {decision.line()}")

    # User requirements resolve together with the pins, so they cannot move torch or numpy.
    requirements = cell.requirements + [a for f in opts.cell_requirements for a in ("-r", f)]
    if opts.pytest:  # resolved with the pins too: pytest cannot move torch either
        requirements.append(pytest_requirement(cell.python))
    # --max-cache (harness.runs.cache): evict what no later cell needs before the install,
    # then record the sizes and remove the venv; a cell the budget cannot hold gets an
    # error row instead of an install; without --max-cache, nothing
    with cache.bounded(session, cell, opts, run_path, cells, refused=lambda why: schema.write_csv(
            out, error_rows(cell, opts.run_id, schema.CELL_INSTALL, why))):
        _install_and_run(session, cell, opts, out, decision, requirements)


def _install_and_run(session, cell: compat.Cell, opts: RunOptions, out: Path,
                     decision: reuse.Decision, requirements: list[str]) -> None:
    cmd = install_command(session, requirements, runoptions.index_args(opts))
    session.log("install: " + " ".join(shlex.quote(c) for c in cmd[-len(requirements):]))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=_import_root(session))
    if proc.returncode != 0:
        lines = [l.strip() for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]
        detail = " | ".join(lines[-INSTALL_TAIL_LINES:])
        schema.write_csv(out, error_rows(cell, opts.run_id, schema.CELL_INSTALL,
                                         "install failed: " + detail))
        session.error(f"{cell.id}: install failed: {lines[-1] if lines else proc.returncode}")

    notes = [*decision.key.header(), decision.note(), *runoptions.index_notes(opts)]
    root = _import_root(session)
    # The cell starts in its import root: `python -m` puts the working directory first on
    # sys.path, and the noxfile's folder (rngdrift's checkout) holds a `harness` and a
    # `scenarios` that would stand in for the team's own.
    with session.chdir(root):
        session.run("python", "-m", CELL_MODULE, "--out", str(out), "--cell", cell.id,
                    "--run-id", opts.run_id, *opts.cell_argv(),
                    *[a for note in notes for a in ("--freeze-note", note)],
                    env={"PYTHONPATH": str(root)})
