"""Run directories: ids, layout, the ``latest`` pointer.

    results/<run-id>/cells/<cell-id>.csv      one file per cell (written atomically)
    results/<run-id>/cells/<cell-id>.freeze.txt
    results/<run-id>/cells/<cell-id>.log      the children's stdout/stderr
    results/<run-id>/matrix.csv               all cells merged (by ``nox -s report``)
    results/latest -> <run-id>                the newest run
"""
from __future__ import annotations

import csv
import os
import re
import tempfile
import time
from pathlib import Path

from .. import paths
from ..cell import schema
from ..cell.schema import TMP_MARK
from ..errors import UserError

RESULTS = paths.default_results()
RUN_ID_ENV = "RNGDRIFT_RUN_ID"
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def run_id_problem(run_id: str) -> str | None:
    """Why ``run_id`` cannot name a run directory, or None."""
    if not _VALID.fullmatch(run_id) or run_id in ("latest", "baseline"):
        return (f"run id {run_id!r} must be letters, digits, '.', '_' or '-' and not "
                "'latest' or 'baseline'")
    return None


def check_run_id(run_id: str) -> str:
    problem = run_id_problem(run_id)
    if problem:
        raise UserError(problem)
    return run_id


def run_dir(run_id: str, results: Path = RESULTS) -> Path:
    return results / check_run_id(run_id)


def cell_csv(run_path: Path, cell_id: str) -> Path:
    return run_path / "cells" / f"{cell_id}.csv"


def point_latest(run_path: Path) -> None:
    """Make results/latest a relative symlink to ``run_path``, atomically."""
    latest = run_path.parent / "latest"
    ignore = run_path.parent / ".gitignore"
    if run_path.parent.name == paths.RESULTS_ELSEWHERE and not ignore.exists():
        ignore.write_text("# rngdrift's runs: results, not sources\n*\n")  # a team's git status
    tmp = run_path.parent / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_path.name)
    os.replace(tmp, latest)


def resolve(path: str | Path, results: Path | None = None) -> Path:
    """A run directory from a path or a run id in ``results`` (default: RESULTS;
    'latest' follows the pointer)."""
    candidate, results = Path(path), results or RESULTS
    if not candidate.exists() and (results / str(path)).exists():
        candidate = results / str(path)
    return candidate.resolve()


def write_files(directory: Path, files: dict[str, str]) -> None:
    """Write ``files`` ({name: text}) into ``directory`` as a set: every file goes to a
    temporary name first, and only when all of them are written are they renamed into
    place. A write that fails (a full disk, a read-only or vanished directory) leaves
    the directory as it was and raises one UserError naming the file and why."""
    written: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=name + TMP_MARK, dir=directory)
            written.append((tmp, directory / name))
            with open(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
    except OSError as exc:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        where = written[-1][1] if written else directory
        raise UserError(f"{where}: cannot write ({exc.strerror}); nothing written") from None
    for tmp, final in written:
        os.replace(tmp, final)


def cell_is_complete(path: Path, cell_id: str | None = None) -> bool:
    """Whether a cell CSV holds a whole result that ``--resume`` keeps and ``--reuse-from``
    may copy: it parses with this schema's columns and version, every row is complete
    and of this cell, its manifest's row count is right, and it holds scenario results.
    A CSV that only records a cell-level failure (``cell.install``, ``cell.interpreter``)
    is not: the install may work this time."""
    if not path.is_file():
        return False
    try:
        rows = schema.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, csv.Error):
        return False
    if not rows:
        return False
    manifest = rows[0]
    if manifest.scenario == schema.CELL_MANIFEST and \
            manifest.detail != schema.MANIFEST_DETAIL % (len(rows) - 1):
        return False  # cut at a line end
    for row in rows:
        if row.schema_version != schema.SCHEMA_VERSION:
            return False
        if cell_id is not None and row.cell != cell_id:
            return False
    return not all(row.scenario.startswith(schema.CELL_LEVEL) for row in rows)
