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
import re
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
    # Pins beyond the lock's, named in the id: ``(("albumentations", "1.4.21"),)`` or a
    # NumPy/Pillow of the user's choice (``--vary``, ``harness.matrix.envs``). Names are
    # PEP 503 normalized; a numpy/pillow pin here sets that field.
    pins: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        pins = tuple(sorted((normalize(name), str(version)) for name, version in self.pins))
        object.__setattr__(self, "pins", pins)
        named = dict(pins)
        if len(named) != len(pins) or not OWN_AXES.isdisjoint(named):
            raise ValueError(f"pins {pins}: a package twice, or torch/torchvision/python "
                             "(the cell's own fields)")
        for field in ("numpy", "pillow"):
            if field in named:
                if getattr(self, field) not in (None, named[field]):
                    raise ValueError(f"{field} {getattr(self, field)} and pin {named[field]}")
                object.__setattr__(self, field, named[field])
        if self.numpy is None or self.pillow is None:
            numpy, pillow = pins_for(self.python, self.torch, self.torchvision)
            object.__setattr__(self, "numpy", self.numpy or numpy)
            object.__setattr__(self, "pillow", self.pillow or pillow)

    @property
    def base_id(self) -> str:
        """The id of the torch/torchvision pair on its Python, without the named pins."""
        return f"py{self.python}-torch{self.torch}-tv{self.torchvision}"

    @property
    def id(self) -> str:
        return self.base_id + "".join(f"-{id_name(n)}{v}" for n, v in self.pins)

    @property
    def named(self) -> dict[str, str]:
        """The pins the id names, {package: version}."""
        return dict(self.pins)

    @property
    def requirements(self) -> list[str]:
        """Exact pins installed into the cell's venv."""
        extra = [f"{n}=={v}" for n, v in self.pins if n not in ("numpy", "pillow")]
        return lockfile.requirements(self.torch, self.torchvision, self.numpy, self.pillow) + extra

    @property
    def sort_key(self) -> tuple:
        return (_version(self.torch), _version(self.torchvision), _version(self.python),
                tuple((n, _version(v), v) for n, v in self.pins))


# The cell id's grammar: py<X.Y>-torch<V>-tv<V>, then -<name><V> for each named pin,
# names sorted; '-' in a name is written '_', and a name ending in a digit is followed
# by '_' (pyqt5_5.15.0), so the name ends where the version starts.
OWN_AXES = frozenset({"python", "torch", "torchvision"})
VERSION = r"[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc)[0-9]+)?(?:\.post[0-9]+)?(?:\.dev[0-9]+)?(?:\+[a-z0-9.]+)?"
_ID = re.compile(r"py([0-9]+\.[0-9]+)-torch([\w.+]+)-tv([\w.+]+?)((?:-[a-z][a-z0-9_]*?_?"
                 + VERSION + r")*)", re.ASCII)
_PIN = re.compile(r"-([a-z][a-z0-9_]*?)_?(" + VERSION + r")(?=-|$)", re.ASCII)


def normalize(name: str) -> str:
    """PEP 503: 'Pillow' -> 'pillow', 'pytorch_lightning' -> 'pytorch-lightning'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def id_name(name: str) -> str:
    """How a package's name is written in a cell id."""
    written = normalize(name).replace("-", "_")
    return written + "_" if written[-1:].isdigit() else written


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
    """A Cell from an id like 'py3.8-torch1.5.0-tv0.6.0' or 'py3.8-torch1.5.0-tv0.6.0-pillow9.5.0'
    (also for ids not in the table); None for anything else, an id whose pins are out of
    order or repeated included (one cell, one id)."""
    match = _ID.fullmatch(cell_id)
    if not match:
        return None
    pins = tuple((normalize(name), version) for name, version in _PIN.findall(match[4]))
    try:
        cell = Cell(match[1], match[2], match[3], pins=pins)
    except ValueError:
        return None
    return cell if cell.id == cell_id else None


def order(cell_ids) -> list[str]:
    """Cell ids oldest first (by torch, torchvision, python, then named pins); unknown
    ids last, by name."""
    def key(cell_id):
        cell = parse_id(cell_id)
        return (0, cell.sort_key, cell_id) if cell else (1, (), cell_id)
    return sorted(cell_ids, key=key)


def steps(cell_ids) -> list[tuple[str, str]]:
    """The upgrade steps between the cells of a run, each moving as little as the cells
    allow: along the matrix, between cells that name the same pins (the plain cells,
    or every cell pinned to Pillow 9.5.0), oldest first; and along each package, between
    cells alike but for that package's version (``--vary``; a plain cell stands in
    its chains with its lock's NumPy and Pillow). A run without named pins gets its
    cells' consecutive pairs, as ever; unknown ids join the plain chain, last."""
    ordered = order(set(cell_ids))
    rank = {cell_id: i for i, cell_id in enumerate(ordered)}
    matrix: dict[tuple, list[str]] = {}            # named pins -> cells, oldest first
    packages: dict[tuple, list[tuple]] = {}        # (base, other pins, package) -> cells
    for cell_id in ordered:
        cell = parse_id(cell_id)
        matrix.setdefault(cell.pins if cell else (), []).append(cell_id)
        if cell is None:
            continue
        for name, version in {"numpy": cell.numpy, "pillow": cell.pillow, **cell.named}.items():
            rest = tuple(p for p in cell.pins if p[0] != name)
            packages.setdefault((cell.base_id, rest, name), []).append(
                (_version(version), rank[cell_id], cell_id))
    found = {pair for chain in matrix.values() for pair in zip(chain, chain[1:])}
    for chain in packages.values():
        chain.sort()
        # two cells of one environment (a plain cell and its -pillow10.4.0) are no step
        found.update((a[2], b[2]) for a, b in zip(chain, chain[1:]) if a[0] != b[0])
    return sorted(found, key=lambda s: (rank[s[1]], rank[s[0]]))


def pythons_needed() -> list[str]:
    return sorted({c.python for c in all_cells()}, key=_version)
