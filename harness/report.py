"""Host side: merge a run's cell CSVs into matrix.csv (reports build on this).

    python -m harness.report results/<run>
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from harness import compat
from harness.cell import schema


class BadInput(Exception):
    """Input the report cannot use; the message names the file and the problem."""


def read_cell(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not a readable CSV ({exc})") from None
    if tuple(frame.columns) != schema.COLUMNS:
        raise BadInput(f"{path}: columns {list(frame.columns)} are not the schema's")
    versions = set(frame["schema_version"])
    if versions - {schema.SCHEMA_VERSION}:
        raise BadInput(f"{path}: schema_version {sorted(versions)}; this rngdrift reads "
                       f"{schema.SCHEMA_VERSION}")
    return frame


def merge(run_path: Path) -> pd.DataFrame:
    cells = run_path / "cells"
    paths = sorted(cells.glob("*.csv")) if cells.is_dir() else []
    if not paths:
        raise BadInput(f"{cells}: no cell CSVs")
    frame = pd.concat([read_cell(p) for p in paths], ignore_index=True)
    dupes = frame.duplicated(list(schema.KEY), keep=False)
    if dupes.any():
        first = frame[dupes].iloc[0]
        raise BadInput(f"{cells}: duplicated key {tuple(first[list(schema.KEY)])}")
    order = {cell: i for i, cell in enumerate(compat.order(frame["cell"].unique()))}
    frame = frame.assign(_o=frame["cell"].map(order)).sort_values("_o", kind="stable")
    return frame.drop(columns="_o").reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_path = Path(argv[0] if argv else "results/latest").resolve()
    try:
        frame = merge(run_path)
    except BadInput as exc:
        print(f"rngdrift report: {exc}", file=sys.stderr)
        return 2
    schema.write_atomic(str(run_path / "matrix.csv"), frame.to_csv(index=False, lineterminator="\n"))
    print(f"rngdrift report: {run_path / 'matrix.csv'}: {len(frame)} rows, "
          f"{frame['cell'].nunique()} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
