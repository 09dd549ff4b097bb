"""Which cells the bench measures, and where nox keeps a cell's venv."""
from __future__ import annotations

import hashlib
import os
import re
import unicodedata

from _rngdrift.harness.matrix import compat


def representative_cells(cells: list[compat.Cell]) -> list[compat.Cell]:
    """The oldest cell, one in the middle of torch 1.x, the newest of torch 2.0-2.2, the newest."""
    def major_minor(cell):
        return compat._version(cell.torch)[:2]
    ones = [c for c in cells if major_minor(c) < (2, 0)]
    early_twos = [c for c in cells if (2, 0) <= major_minor(c) <= (2, 2)]
    picks = [cells[0], ones[len(ones) // 2] if ones else None,
             early_twos[-1] if early_twos else None, cells[-1]]
    out = []
    for cell in picks:
        if cell is not None and cell not in out:
            out.append(cell)
    return out


def select_cells(spec: str, cells: list[compat.Cell] = compat.DEFAULT) -> list[compat.Cell]:
    """``subset`` (representative), ``all`` (the default matrix) or comma-separated cell ids."""
    if spec == "subset":
        return representative_cells(cells)
    if spec == "all":
        return list(cells)
    out = []
    for cell_id in filter(None, (part.strip() for part in spec.split(","))):
        cell = compat.find(cell_id) or compat.parse_id(cell_id)
        if cell is None:
            raise ValueError(f"--cells: {cell_id!r} is not a cell id like py3.8-torch1.5.0-tv0.6.0")
        out.append(cell)
    return out


def torch_major(cell: compat.Cell) -> int:
    return 1 if compat._version(cell.torch) < (2, 0) else 2


# nox's limit on a venv path: a shebang line must hold <venv>/bin/pythonX.Y.
_NOX_PATH_LIMIT = 100 - len("bin/pythonX.Y")


def nox_venv(session: str, envdir: str = ".nox") -> str:
    """Where nox puts the venv of ``session`` (its friendly name, e.g.
    ``matrix(py3.8-torch1.5.0-tv0.6.0)``) under ``envdir``, the way nox spells ``--envdir``
    (``.nox`` by default, relative to the noxfile's folder, where nox runs).

    This mirrors nox's own naming (``nox.sessions._normalize_path``, private, so not
    imported): the name folded to ASCII, every run of other characters made one ``-``,
    lower case; a path too long for a shebang gets an 8-digit sha1 of the name instead.
    tests/test_bench_cells.py checks the mirror against the nox installed.
    """
    name = unicodedata.normalize("NFKD", session).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^\w\s-]", "-", name).strip().lower()
    name = re.sub(r"[-\s]+", "-", name).strip("-")
    if not name:
        name = hashlib.sha1(session.encode("utf-8")).hexdigest()[:8]
    path = os.path.join(envdir, name)
    if len(path) > _NOX_PATH_LIMIT and len(envdir) < 100 - 9:
        path = os.path.join(envdir, hashlib.sha1(name.encode("ascii")).hexdigest()[:8])
    return path
