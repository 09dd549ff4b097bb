"""rngdrift sessions. ``nox -l`` lists them; ``nox -s matrix`` runs the default matrix.

    nox -s matrix                                  every default cell, then the report
    nox -s "matrix(py3.8-torch1.5.0-tv0.6.0)"      one cell
    nox -s matrix -- --run-id nightly --resume     options after -- go to every cell
    nox -s matrix -- --scenarios my_checks.py --only 'my.*' [--cell-requirements req.txt]
                                                   your own scenarios across the matrix
    nox -s matrix -- --script "python train.py" --pytest tests/ --call data.py:preview \
        --dataset data.py:make_dataset --user-only your code as it is, no glue
    nox -s matrix -- --shard 2/4                   shard 2 of 4 (cells dealt round-robin)
    nox -s matrix -- --reuse-from results/<prev>   reuse every cell whose result key is unchanged
    nox -s matrix -- --reuse-from <prev> --plan    say what would run and what would be reused
    nox -s matrix -- --find-links DIR              other wheel indexes (--index-url, --extra-index-url)
    nox -k "matrix and torch2"                     nox's own selection: -k keywords, -t tags
    nox -s exhaustive                              the newest patch of every torchvision minor
    nox -t tv0.17                                  every patch release of torchvision 0.17
    nox -s lock                                    refresh matrix.lock.json from the index
    nox -s report -- results/<run>                 merge and report a run
    nox -s patches -- --max-cache 12 --run-id X    every pair of the lock within 12 GB of uv cache,
                                                   then its report and atlas (docs/atlas.md)
    nox -s atlas -- results/X [--ship]             the atlas of a run; --ship: explain's data too
    nox -s compare -- results/baseline results/<run>   what changed (exit 1 when something did)
    nox -s baseline -- results/<run>               make that run the committed baseline
    nox -s tests                                   the test suite (-- -m "not slow" skips e2e)
    nox -s bench                                   what installs, imports and runs cost (-- --help)
"""
from __future__ import annotations

import sys
from pathlib import Path

import nox

# nox loads this file by path and does not put its folder on sys.path. In a checkout
# its folder holds _rngdrift (the harness and scenarios under one private name); a
# wheel ships this file inside _rngdrift, which is importable already.
_HERE = Path(__file__).resolve().parent
if (_HERE / "_rngdrift" / "__init__.py").is_file():
    sys.path.insert(0, str(_HERE))

from _rngdrift.harness.errors import UserError  # noqa: E402
from _rngdrift.harness.matrix import compat, interpreters, lock as lockfile  # noqa: E402
from _rngdrift.harness.runs import cache, cellsession, rundirs  # noqa: E402

nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = ["matrix"]

# One run id for every session of this nox invocation; RNGDRIFT_RUN_ID or
# `-- --run-id` share one across invocations (CI shards).
RUN_ID = rundirs.new_run_id()

# RNGDRIFT_EXTRA_CELLS=<id>,... adds cells to the default matrix (test-only: a pair
# that cannot be installed, a Python that is not there).
DEFAULT_CELLS = compat.DEFAULT + cellsession.extra_cells()
if compat.PROBLEM:
    print(f"rngdrift: {compat.PROBLEM}", file=sys.stderr)

_FOUND = interpreters.expose(sorted({*compat.pythons_needed(), *(c.python for c in DEFAULT_CELLS)},
                                    key=lambda v: tuple(map(int, v.split(".")))),
                             Path.cwd() / ".nox" / "_interpreters")
for _xy, _exe in _FOUND.items():
    if _exe is None:
        print(f"rngdrift: {interpreters.missing_hint(_xy)}; cells needing it get an error row",
              file=sys.stderr)


# The options after `--`, read once here: with --reuse-from (or --plan) every cell's
# decision is made now, before any session moves results/latest, and a cell that is
# reused gets no venv (nox makes a session's venv before the session runs: 1-3 s a cell).
POSARGS = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
try:
    PLAN = cellsession.plan_cells(POSARGS, RUN_ID, compat.all_cells() + DEFAULT_CELLS)
    # --max-cache: each session's cells in the order that installs shared wheels once
    # (harness.runs.cache); without it, the lists as they are
    DEFAULT_ORDER, EXHAUSTIVE_ORDER, PATCHES_ORDER = (
        cache.ordered(cells, POSARGS) for cells in (DEFAULT_CELLS, compat.EXHAUSTIVE,
                                                     compat.PATCHES))
except UserError as _exc:  # bad user input stops the run before anything starts
    print(f"rngdrift: {_exc}", file=sys.stderr)
    raise SystemExit(2) from None


def _params(cells, tags=False):
    """One session per cell. A cell whose Python is nowhere gets nox's own interpreter
    (python=None), so its session runs and leaves a `cell.interpreter` error row instead
    of being skipped by nox before anything could record the hole. Tags name the release
    lines a cell belongs to: `nox -t tv0.17` runs every patch release of torchvision 0.17,
    `nox -t torch2.2` every torch 2.2.x pair."""
    return [nox.param((c.python if _FOUND.get(c.python) else None)
                      if cellsession.needs_venv(PLAN, c.id, POSARGS) else False, c.id, id=c.id,
                      tags=[f"tv{compat.minor(c.torchvision)}", f"torch{compat.minor(c.torch)}"]
                      if tags else None)
            for c in cells]


def _run(session, cell_id, cells):
    cell = next(c for c in cells if c.id == cell_id)
    cellsession.run_cell(session, cell, RUN_ID, cells, plan=PLAN,
                         interpreter_found=_FOUND.get(cell.python) is not None)


@nox.session
@nox.parametrize("python,cell", _params(DEFAULT_ORDER))
def matrix(session, cell):
    """Run every scenario in one cell of the default matrix."""
    _run(session, cell, DEFAULT_ORDER)


@nox.session(tags=["exhaustive"])
@nox.parametrize("python,cell", _params(EXHAUSTIVE_ORDER))
def exhaustive(session, cell):
    """Run every scenario in one cell of the exhaustive set (newest patch of each tv minor)."""
    _run(session, cell, EXHAUSTIVE_ORDER)


@nox.session
@nox.parametrize("python,cell", _params(PATCHES_ORDER, tags=True))
def patches(session, cell):
    """Run every scenario in one cell of every pair in the lock (select: nox -t tv0.17);
    then the report and the atlas of the run."""
    _run(session, cell, PATCHES_ORDER)
    args = cellsession.parse_posargs(list(session.posargs), RUN_ID)
    session.notify("atlas", posargs=[str(rundirs.run_dir(args.run_id, Path(args.results)))])


@nox.session(venv_backend="none")
def lock(session):
    """Refresh matrix.lock.json from the package index (`-- --index-url URL`, `-- --help`)."""
    # In-process, standard library only: no venv to make, nothing to install.
    status = lockfile.main(list(session.posargs))
    if status:
        raise SystemExit(status)  # the lock printed why; nox exits with its code


def _command(*args: str) -> None:
    """An rngdrift command in nox's own process: requirements.txt installed what it
    needs (pandas) beside nox, so there is no venv to make. Its exit status becomes
    nox's (compare: 1 when something changed, 2 on bad input)."""
    from _rngdrift.harness import cli
    status = cli.main(list(args))
    if status:
        raise SystemExit(status)


@nox.session(venv_backend="none")
def report(session):
    """Merge results/<run>/cells/*.csv into matrix.csv and write the reports."""
    _command("report", *(session.posargs or [str(rundirs.RESULTS / "latest")]))


@nox.session(venv_backend="none")
def atlas(session):
    """The atlas of a run (default results/latest): a page per release step and per random
    API in RUN/atlas/; `-- RUN --ship` also refreshes what `rngdrift explain` answers from."""
    _command("atlas", *(session.posargs or [str(rundirs.RESULTS / "latest")]))


@nox.session(venv_backend="none")
def compare(session):
    """Compare two runs: `-- <baseline> <candidate> [--fail-on ...]` (default baseline, latest)."""
    _command("compare", *session.posargs)


@nox.session(venv_backend="none")
def baseline(session):
    """Make a run (default results/latest) the committed baseline: results/baseline/."""
    run = session.posargs[0] if session.posargs else str(rundirs.RESULTS / "latest")
    _command("report", run)
    _command("baseline", run, *session.posargs[1:])


@nox.session
def tests(session):
    """The test suite. `-- -m "not slow"` skips the end-to-end tests that install cells."""
    # The newest cell's pins make this venv a host-side cell too, so unit tests of
    # the cell modules (seeding, tracing, ...) run in-process.
    # check-jsonschema validates .github/workflows against GitHub's schema (vendored).
    session.install("pytest>=8", "pandas>=2", "nox[uv]>=2025.5.1", "check-jsonschema>=0.29",
                    *compat.DEFAULT[-1].requirements)
    session.run("python", "-m", "pytest", *(session.posargs or ["-ra"]))


@nox.session(venv_backend="none")
def screenshots(session):
    """PNGs of a report.html at 1400 and 400 px for the README (needs Chromium):
    `-- results/<run>/report.html` (default: the committed baseline's)."""
    page = session.posargs[0] if session.posargs else "results/baseline/report.html"
    session.run(sys.executable, "-m", "_rngdrift.harness.report.browser", page, "--out", "docs")


@nox.session(venv_backend="none")
def bench(session):
    """Benchmark installs, imports, scenarios and the matrix: `-- --help` for the stages."""
    # No venv: the bench times venvs of its own, with this interpreter (nox's, so it finds
    # the uv nox uses) and only the standard library. Run as a module from the repository
    # root (nox's working directory), so `benchmarks` and `harness` import as packages.
    session.run(sys.executable, "-m", "benchmarks.bench", *session.posargs)
