"""Promote an accepted run to the committed baseline, results/baseline/.

    rngdrift baseline results/<run> [--allow-holes]
    nox -s baseline -- results/<run>      (re-runs the report on the run first)

The nightly job compares every run against results/baseline/. When a change is
accepted (a new torch release really changed a stream), the run that showed it
becomes the new baseline: its matrix.csv, the derived tables and reports, and
each cell's freeze (the exact pins behind the numbers). Cell CSVs and logs stay
behind: matrix.csv already holds every row. The old baseline is replaced whole,
by a rename, so a half-copied baseline never exists.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import UserError
from .frames import load_matrix


def promoted_names() -> tuple[str, ...]:
    """The files of a run that belong in the baseline: the report's registered outputs
    (``harness.report.OUTPUTS``; compare's describe another comparison and stay)."""
    from ..report import PROMOTED
    return PROMOTED


def cells_with_errors(loaded) -> list[str]:
    """Cells whose whole run failed (install failed, no CSV came back)."""
    return sorted(loaded.failures)


def files_to_promote(run_path: Path) -> list[Path]:
    names = set(promoted_names())
    top = [p for p in sorted(run_path.iterdir()) if p.is_file() and p.name in names]
    freezes = sorted((run_path / "cells").glob("*.freeze.txt"))
    return top + freezes


def promote(run_path: Path, baseline: Path, allow_holes: bool = False) -> list[Path]:
    """Replace ``baseline`` with the report files of ``run_path``; returns the files written."""
    run_path = run_path.resolve()
    matrix_csv = run_path / "matrix.csv"
    if baseline.exists() and run_path == baseline.resolve():
        raise UserError(f"{run_path}: that is already the baseline")
    if not matrix_csv.is_file():
        raise UserError(f"{matrix_csv}: missing; run `nox -s report -- {run_path}` first")
    matrix = load_matrix(matrix_csv)  # read and checked as a report reads it
    holes = cells_with_errors(matrix)
    if holes and not allow_holes:
        raise UserError(f"{matrix_csv}: cells without results ({', '.join(holes)}); rerun them "
                       "or pass --allow-holes to make the holes part of the baseline")

    staging = baseline.parent / f".{baseline.name}-new-{os.getpid()}"
    retired = baseline.parent / f".{baseline.name}-old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    written = []
    for src in files_to_promote(run_path):
        dst = staging / src.relative_to(run_path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        written.append(baseline / src.relative_to(run_path))
    if baseline.exists():
        os.replace(baseline, retired)
    os.replace(staging, baseline)
    shutil.rmtree(retired, ignore_errors=True)
    return written
