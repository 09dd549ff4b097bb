"""Hand-made result rows for the host-side tests (report, compare, results).

``rows(cell, scenario, seeding, repeat, metrics)`` builds what the runner writes
for one scenario run: its status row, then one row per metric, kinds taken from
the Python type as the cell side does (float: number, int: count, str:
fingerprint, ``Text("...")``: text). ``write_run`` puts rows into
``<dir>/cells/<cell>.csv`` through the schema's own writer, manifest first as the
cell writes it.
"""
from __future__ import annotations

from pathlib import Path

from _rngdrift.harness.cell import schema
from _rngdrift.harness.matrix import compat

OLD = "py3.8-torch1.5.0-tv0.6.0"
TV07 = "py3.8-torch1.6.0-tv0.7.0"
TV08 = "py3.8-torch1.7.1-tv0.8.2"
NEW = "py3.11-torch2.15.0-tv0.29.2"
CELLS = (OLD, TV07, TV08, NEW)


class Text(str):
    """A metric value of kind text."""


def _kind(value) -> tuple[str, str]:
    if isinstance(value, Text):
        return "text", str(value)
    if isinstance(value, bool):
        return "count", str(int(value))
    if isinstance(value, int):
        return "count", str(value)
    if isinstance(value, float):
        return "number", repr(value)
    return "fingerprint", str(value)


def meta(cell: str, run_id: str = "t") -> schema.CellMeta:
    python, torch, tv = cell[2:].split("-torch")[0], cell.split("-torch")[1].split("-tv")[0], \
        cell.split("-tv")[1]
    pinned = compat.find(cell)  # the lock's pins where it has the cell (Python 3.7's differ)
    return schema.cell_meta(run_id=run_id, cell=cell, python=python, torch=torch,
                            torchvision=tv, numpy=pinned.numpy if pinned else "1.24.4",
                            pillow=pinned.pillow if pinned else "10.4.0",
                            platform="Linux test", device="cpu")


def rows(cell: str, scenario: str, seeding: str = "python", repeat: int = 1,
         metrics: dict | None = None, status: str = "ok", detail: str = "",
         seconds: float | None = 0.01, run_id: str = "t") -> list[schema.Row]:
    base = meta(cell, run_id)
    out = [schema.status_row(base, scenario, seeding, repeat, status, detail)]
    if status != "ok":
        return out
    for name, value in (metrics or {}).items():
        kind, text = _kind(value)
        out.append(schema.metric_row(base, scenario, seeding, repeat, name, kind, text))
    if seconds is not None:
        out.append(schema.metric_row(base, scenario, seeding, repeat, schema.TIMING_METRIC,
                                     "timing", f"{seconds:.4f}"))
    return out


def everywhere(cell: str, scenario: str, metrics, seedings=("python",), repeats: int = 2,
               **kwargs) -> list[schema.Row]:
    """Rows for every (seeding, repeat); ``metrics`` is a dict or f(seeding, repeat) -> dict."""
    out = []
    for seeding in seedings:
        for repeat in range(1, repeats + 1):
            values = metrics(seeding, repeat) if callable(metrics) else metrics
            out += rows(cell, scenario, seeding, repeat, values, **kwargs)
    return out


def install_failure(cell: str, detail: str = "install failed: no matching distribution",
                    run_id: str = "t") -> list[schema.Row]:
    return [schema.cell_row(meta(cell, run_id), schema.CELL_INSTALL, detail)]


def write_run(run_dir: Path, all_rows: list[schema.Row]) -> Path:
    """Write ``all_rows`` as one cell CSV per cell under ``run_dir/cells``."""
    by_cell: dict[str, list[schema.Row]] = {}
    for row in all_rows:
        by_cell.setdefault(row.cell, []).append(row)
    for cell, cell_rows in by_cell.items():
        schema.write_csv(str(run_dir / "cells" / f"{cell}.csv"), schema.with_manifest(cell_rows))
    return run_dir


def write_freeze(run_dir: Path, cell: str, notes: list[str]) -> Path:
    """The cell's freeze file as its run writes it: ``notes`` (its key, plan), sealed
    with the checksum of the cell CSV already in ``run_dir`` (``--reuse-from`` checks it)."""
    from _rngdrift.harness.cell import environment
    csv_path = run_dir / "cells" / f"{cell}.csv"
    path = run_dir / "cells" / f"{cell}.freeze.txt"
    path.write_text(environment.sealed_freeze_text(environment.freeze_text(notes=notes),
                                                   csv_path.read_text(encoding="utf-8")))
    return path
