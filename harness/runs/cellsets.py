"""The cell sets a run chooses from, named once: the noxfile makes one session per set,
``rngdrift run --cells``, ``rngdrift plan --cells`` and ``rngdrift ci`` read the same table.

    matrix       the default cells (``compat.DEFAULT``: the waypoints and the newest pair),
                 plus any named in RNGDRIFT_EXTRA_CELLS
    exhaustive   the newest patch of every torchvision minor
    patches      every pair of the lock
"""
from __future__ import annotations

import os

from ..errors import UserError
from ..matrix import compat

EXTRA_CELLS_ENV = "RNGDRIFT_EXTRA_CELLS"
NAMES = ("matrix", "exhaustive", "patches")
DEFAULT = "matrix"


def extra_cells() -> list[compat.Cell]:
    """Cells named in RNGDRIFT_EXTRA_CELLS (comma-separated ids), appended to the default
    matrix. Test-only: how a pair that cannot be installed (``torch9.9.9``) or a Python
    that is not there (``py3.99``) is run through the real sessions."""
    cells = []
    for cell_id in filter(None, os.environ.get(EXTRA_CELLS_ENV, "").split(",")):
        cell = compat.parse_id(cell_id.strip())
        if cell is None:
            raise UserError(f"{EXTRA_CELLS_ENV}: {cell_id!r} is not a cell id like "
                            "py3.8-torch1.5.0-tv0.6.0")
        cells.append(cell)
    return cells


def cells(name: str) -> list[compat.Cell]:
    """The cells of the set ``name``, oldest first."""
    if name == "matrix":
        return compat.DEFAULT + extra_cells()
    if name == "exhaustive":
        return list(compat.EXHAUSTIVE)
    if name == "patches":
        return list(compat.PATCHES)
    raise UserError(f"unknown cell set {name!r} (known: {', '.join(NAMES)})")


def every_cell() -> list[compat.Cell]:
    """Every cell any set names (what a plan made before the sessions may be asked about)."""
    return compat.all_cells() + extra_cells()
