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
    nox -s matrix -- --vary pillow=9.5.0,10.4.0    every cell once per Pillow (any package; one at a time)
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

import argparse
import os
import sys
from pathlib import Path

import nox

# nox loads this file by path and does not put its folder on sys.path. In a checkout
# its folder holds _rngdrift (the harness and scenarios under one private name); a
# wheel ships this file inside _rngdrift, which is importable already.
_HERE = Path(__file__).resolve().parent
if (_HERE / "_rngdrift" / "__init__.py").is_file():
    sys.path.insert(0, str(_HERE))

from _rngdrift.harness import errors, paths  # noqa: E402
from _rngdrift.harness.matrix import compat, envs, interpreters, lock as lockfile  # noqa: E402
from _rngdrift.harness.runs import cache, cellsession, cellsets, invocation, rundirs, runoptions  # noqa: E402,E501

nox.options.default_venv_backend = "uv|venv"
nox.options.sessions = ["matrix"]

# One run id for every session of this nox invocation; RNGDRIFT_RUN_ID or
# `-- --run-id` share one across invocations (CI shards).
RUN_ID = rundirs.new_run_id()


def _guarded(action) -> None:
    """Bad user input stops the whole nox run: one line (errors.guarded), exit 2."""
    status = errors.guarded(action)
    if status:
        raise SystemExit(status)


# The cell sets (harness.runs.cellsets): one session function each, below.
CELLS = {}
_guarded(lambda: CELLS.update({name: cellsets.cells(name) for name in cellsets.NAMES}))

# The options after `--`, as given (parsed once below, into SETUP).
POSARGS = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
# Where the user started nox (nox changes into this file's folder before loading it):
# relative paths in the options, and the default results folder, are taken from there.
WHERE = Path(os.environ.get(paths.STARTED_IN_ENV) or invocation.nox_invoked_from())

# `-- --vary pillow=9.5.0,10.4.0` runs every cell of a session once per version, each a
# session of its own named by its cell id (harness/matrix/envs.py); the cells of one
# pair carry its plain id as a tag: `nox -k matrix -t py3.8-torch1.5.0-tv0.6.0 -- --vary ...`.
VARY: list = []
_guarded(lambda: VARY.extend(runoptions.vary_axes(POSARGS)))
_guarded(lambda: CELLS.update({name: envs.varied(cells, VARY) for name, cells in CELLS.items()}))
if compat.PROBLEM:
    print(f"rngdrift: {compat.PROBLEM}", file=sys.stderr)


def _envdir() -> Path:
    """nox's --envdir (default .nox in the noxfile's folder, where nox runs): the
    interpreter links live beside the session venvs, never in the noxfile's folder
    when that is site-packages (``rngdrift run`` passes --envdir)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--envdir", default=".nox")
    ours = sys.argv[1:sys.argv.index("--")] if "--" in sys.argv else sys.argv[1:]
    return Path(parser.parse_known_args(ours)[0].envdir).resolve()


_FOUND = interpreters.expose(sorted({*compat.pythons_needed(),
                                     *(c.python for c in CELLS["matrix"])},
                                    key=lambda v: tuple(map(int, v.split(".")))),
                             _envdir() / "_interpreters")
for _xy, _exe in _FOUND.items():
    if _exe is None:
        print(f"rngdrift: {interpreters.missing_hint(_xy)}; cells needing it get an error row",
              file=sys.stderr)


# Parsed once here into one RunOptions for every cell session; with --reuse-from (or
# --plan) every cell's decision is made now, before any session moves <results>/latest,
# and a cell that is reused gets no venv.
SETUP = cellsession.prepare(POSARGS, RUN_ID,
                            envs.varied(cellsets.every_cell(), VARY) + CELLS["matrix"], WHERE)
# --max-cache: each session's cells in the order that installs shared wheels once
# (harness.runs.cache); without it, the lists as they are.
ORDER = {}
_guarded(lambda: ORDER.update({name: cache.ordered(cells, SETUP.options)
                               for name, cells in CELLS.items()}))


def _params(cells, tags=False):
    """One session per cell. A cell whose Python is nowhere gets nox's own interpreter
    (python=None), so its session runs and leaves a `cell.interpreter` error row instead
    of being skipped by nox before anything could record the hole. Tags name the release
    lines a cell belongs to: `nox -t tv0.17` runs every patch release of torchvision 0.17,
    `nox -t torch2.2` every torch 2.2.x pair."""
    return [nox.param((c.python if _FOUND.get(c.python) else None)
                      if SETUP.needs_venv(c.id) else False, c.id, id=c.id,
                      tags=([f"tv{compat.minor(c.torchvision)}", f"torch{compat.minor(c.torch)}"]
                            if tags else []) + ([c.base_id] if c.pins else []) or None)
            for c in cells]


def _run(session, cell_id, cells):
    cell = next(c for c in cells if c.id == cell_id)
    _guarded(lambda: cellsession.run_cell(session, cell, SETUP, cells,
                                          interpreter_found=_FOUND.get(cell.python) is not None))


# reuse_venv=True: nox never deletes a cell's venv itself; the session makes it afresh
# once it holds the venv's lock (harness/runs/venvguard.py), so a second run cannot
# empty the venv a first one is using.
@nox.session(reuse_venv=True)
@nox.parametrize("python,cell", _params(ORDER["matrix"]))
def matrix(session, cell):
    """Run every scenario in one cell of the default matrix."""
    _run(session, cell, ORDER["matrix"])


@nox.session(tags=["exhaustive"], reuse_venv=True)
@nox.parametrize("python,cell", _params(ORDER["exhaustive"]))
def exhaustive(session, cell):
    """Run every scenario in one cell of the exhaustive set (newest patch of each tv minor)."""
    _run(session, cell, ORDER["exhaustive"])


@nox.session(reuse_venv=True)
@nox.parametrize("python,cell", _params(ORDER["patches"], tags=True))
def patches(session, cell):
    """Run every scenario in one cell of every pair in the lock (select: nox -t tv0.17);
    then the report and the atlas of the run."""
    _run(session, cell, ORDER["patches"])
    if SETUP.options is not None:
        session.notify("atlas", posargs=[str(rundirs.run_dir(SETUP.options.run_id,
                                                              SETUP.options.results))])


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
        raise SystemExit(status)  # cli printed why


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
                    "mkdocs>=1.6,<2",
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


@nox.session
def docs(session):
    """Build the docs site (MkDocs, strict: a warning fails) into build/site."""
    session.install("mkdocs>=1.6,<2")
    session.run("mkdocs", "build", "--strict", "--site-dir", "build/site", *session.posargs)
