"""The compatibility table: which cells exist and what each one installs.

The one place the noxfile, the tests and the reports ask for cells. The version
facts (which torchvision goes with which torch, on which Python, with which NumPy
and Pillow) come from ``matrix.lock.json``, made from the package index by
``nox -s lock`` (``harness/lock.py``); this module only chooses cells from it:

  DEFAULT     the waypoints below plus the newest pair in the lock, so a refreshed
              lock with a new release adds a cell without editing code;
  EXHAUSTIVE  the newest patch release of every torchvision minor, with its torch;
  PATCHES     every pair in the lock, to pin a change down to one release.

All three start at OLDEST_TORCH, the oldest torch the cell harness runs.
RNGDRIFT_LOCK=<path> reads another lock (a test, a lock made for another index).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from . import lock as lockfile

# The matrix's pins on Python >= 3.8 (Python 3.7 cells hold the newest it has wheels
# for; every cell's own pins are in the lock and on the Cell).
NUMPY = lockfile.NUMPY
PILLOW = lockfile.PILLOW
OLDEST_TORCH = "1.2.0"
LOCK_ENV = "RNGDRIFT_LOCK"

# Pairs that bracket known changes. The newest pair in the lock joins them by itself.
WAYPOINTS = [
    ("1.2.0", "0.4.0"),    # the original report's oldest row (Python 3.7)
    ("1.3.1", "0.4.2"),    # the last torchvision 0.4 (Python 3.7)
    ("1.5.0", "0.6.0"),    # random transforms draw from python's random
    ("1.6.0", "0.7.0"),    # transforms moved to torch.rand; DataLoader(generator=)
    ("1.7.1", "0.8.2"),    # tensor transforms, scriptable
    ("1.8.1", "0.9.1"),    # use_deterministic_algorithms; InterpolationMode
    ("1.9.0", "0.10.0"),
    ("1.10.0", "0.11.1"),  # AutoAugment family grows
    ("1.12.1", "0.13.1"),  # multi-weight API
    ("1.13.1", "0.14.1"),
    ("2.0.1", "0.15.2"),   # transforms v2 (beta)
    ("2.2.2", "0.17.2"),   # transforms v2 stable
    ("2.6.0", "0.21.0"),
    ("2.7.0", "0.22.0"),
    ("2.11.0", "0.26.0"),
    ("2.12.1", "0.27.1"),
]


@dataclasses.dataclass(frozen=True)
class Cell:
    python: str
    torch: str
    torchvision: str
    numpy: str | None = None   # None: the lock's pins for this cell, else for its Python
    pillow: str | None = None

    def __post_init__(self):
        if self.numpy is None or self.pillow is None:
            numpy, pillow = pins_for(self.python, self.torch, self.torchvision)
            object.__setattr__(self, "numpy", self.numpy or numpy)
            object.__setattr__(self, "pillow", self.pillow or pillow)

    @property
    def id(self) -> str:
        return f"py{self.python}-torch{self.torch}-tv{self.torchvision}"

    @property
    def requirements(self) -> list[str]:
        """Exact pins installed into the cell's venv."""
        return lockfile.requirements(self.torch, self.torchvision, self.numpy, self.pillow)

    @property
    def sort_key(self) -> tuple:
        return (_version(self.torch), _version(self.torchvision), _version(self.python))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("+")[0].split(".")
                 if part.isascii() and part.isdigit())


def lock_path() -> Path:
    return Path(os.environ.get(LOCK_ENV) or lockfile.LOCK_PATH)


def read_lock(path: Path) -> dict:
    """The lock's data; raises ValueError with a one-line reason."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the lock ({exc.strerror}); make it with "
                         "`python -m nox -s lock`") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc}); remake it with `python -m nox -s lock`") \
            from None
    if not isinstance(data, dict) or data.get("format") != lockfile.FORMAT or \
            not isinstance(data.get("cells"), list):
        raise ValueError(f"{path}: not a format-{lockfile.FORMAT} lock; remake it with "
                         "`python -m nox -s lock`")
    return data


def lock_cells(data: dict) -> list[Cell]:
    """Every pair in the lock from OLDEST_TORCH on, oldest first, with its pins."""
    cells = [Cell(c["python"], c["torch"], c["torchvision"], c["numpy"], c["pillow"])
             for c in data["cells"] if _version(c["torch"]) >= _version(OLDEST_TORCH)]
    return sorted(cells, key=lambda c: c.sort_key)


def default_cells(data: dict) -> tuple[list[Cell], list[str]]:
    """(the waypoints found in the lock plus its newest pair, waypoints it lacks)."""
    cells = lock_cells(data)
    by_pair = {(c.torch, c.torchvision): c for c in cells}
    chosen = [by_pair[p] for p in WAYPOINTS if p in by_pair]
    missing = [f"torch {t}/torchvision {tv}" for t, tv in WAYPOINTS if (t, tv) not in by_pair]
    if cells and cells[-1] not in chosen:
        chosen.append(cells[-1])
    return sorted(chosen, key=lambda c: c.sort_key), missing


def exhaustive_cells(data: dict) -> list[Cell]:
    """The newest patch release of every torchvision minor, with its torch."""
    newest: dict[tuple, Cell] = {}
    for cell in lock_cells(data):
        newest[_version(cell.torchvision)[:2]] = cell  # oldest first: the last one wins
    return sorted(newest.values(), key=lambda c: c.sort_key)


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _load() -> tuple[dict, str | None]:
    try:
        return read_lock(lock_path()), None
    except ValueError as exc:
        return {"cells": [], "pins": []}, str(exc)


LOCK, PROBLEM = _load()
_PINS = {p["python"]: (p["numpy"], p["pillow"]) for p in LOCK.get("pins", [])}
_CELL_PINS = {(c["python"], c["torch"], c["torchvision"]): (c["numpy"], c["pillow"])
              for c in LOCK["cells"]}


def pins_for(python: str, torch: str = "", torchvision: str = "") -> tuple[str, str]:
    """(numpy, pillow) of a cell: the lock's for that cell, else the lock's for its
    Python, else the matrix's."""
    return _CELL_PINS.get((python, torch, torchvision)) or _PINS.get(python, (NUMPY, PILLOW))


DEFAULT, MISSING_WAYPOINTS = default_cells(LOCK)
if MISSING_WAYPOINTS and PROBLEM is None:
    PROBLEM = (f"{lock_path()}: no {', '.join(MISSING_WAYPOINTS)} in the lock; those "
               "waypoints are left out of the default matrix")
EXHAUSTIVE = exhaustive_cells(LOCK)
PATCHES = lock_cells(LOCK)


def all_cells() -> list[Cell]:
    seen: dict[str, Cell] = {}
    for cell in DEFAULT + EXHAUSTIVE + PATCHES:
        seen.setdefault(cell.id, cell)
    return sorted(seen.values(), key=lambda c: c.sort_key)


def find(cell_id: str) -> Cell | None:
    return next((c for c in all_cells() if c.id == cell_id), None)


def python_for(torch: str, torchvision: str | None = None) -> str | None:
    """The Python the lock runs this torch (and torchvision) on."""
    return next((c.python for c in reversed(PATCHES) if c.torch == torch
                 and torchvision in (None, c.torchvision)), None)


def parse_id(cell_id: str) -> Cell | None:
    """A Cell from an id like 'py3.8-torch1.5.0-tv0.6.0' (also for ids not in the table)."""
    import re
    match = re.fullmatch(r"py([0-9]+\.[0-9]+)-torch([\w.+]+)-tv([\w.+]+)", cell_id, re.ASCII)
    return Cell(*match.groups()) if match else None


def order(cell_ids) -> list[str]:
    """Cell ids oldest first (by torch, torchvision, python); unknown ids last, by name."""
    def key(cell_id):
        cell = parse_id(cell_id)
        return (0, cell.sort_key, cell_id) if cell else (1, (), cell_id)
    return sorted(cell_ids, key=key)


def pythons_needed() -> list[str]:
    return sorted({c.python for c in all_cells()}, key=_version)
