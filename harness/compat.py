"""The compatibility table: which cells exist and what each one installs.

One place for every version fact. The noxfile builds its sessions from here; the
reports read the cell order from here (oldest first).

A pair runs on the oldest Python >= 3.8 that both wheels support (so Python
changes as rarely as possible along the history), and every cell holds NumPy and
Pillow at the same versions (Pillow changes augmentation bytes; NumPy 1.24.4 is
the newest with wheels for every Python the matrix needs).
"""
from __future__ import annotations

import dataclasses

NUMPY = "1.24.4"
PILLOW = "10.4.0"

# torch version -> Python versions with manylinux x86_64 wheels on PyPI.
TORCH_PYTHONS = {
    "1.4.0": ("3.7", "3.8"),
    "1.5.0": ("3.7", "3.8"), "1.5.1": ("3.7", "3.8"),
    "1.6.0": ("3.7", "3.8"),
    "1.7.1": ("3.7", "3.8", "3.9"),
    "1.8.1": ("3.7", "3.8", "3.9"),
    "1.9.0": ("3.7", "3.8", "3.9"), "1.9.1": ("3.7", "3.8", "3.9"),
    "1.10.0": ("3.7", "3.8", "3.9"), "1.10.2": ("3.7", "3.8", "3.9"),
    "1.11.0": ("3.7", "3.8", "3.9", "3.10"),
    "1.12.1": ("3.7", "3.8", "3.9", "3.10"),
    "1.13.1": ("3.7", "3.8", "3.9", "3.10", "3.11"),
    "2.0.1": ("3.8", "3.9", "3.10", "3.11"),
    "2.1.2": ("3.8", "3.9", "3.10", "3.11"),
    "2.2.2": ("3.8", "3.9", "3.10", "3.11", "3.12"),
    "2.3.1": ("3.8", "3.9", "3.10", "3.11", "3.12"),
    "2.4.1": ("3.8", "3.9", "3.10", "3.11", "3.12"),
    "2.5.1": ("3.9", "3.10", "3.11", "3.12", "3.13"),
    "2.6.0": ("3.9", "3.10", "3.11", "3.12", "3.13"),
    "2.7.0": ("3.9", "3.10", "3.11", "3.12", "3.13"),
    "2.7.1": ("3.9", "3.10", "3.11", "3.12", "3.13"),
    "2.8.0": ("3.9", "3.10", "3.11", "3.12", "3.13"),
    "2.9.1": ("3.10", "3.11", "3.12", "3.13"),
    "2.10.0": ("3.10", "3.11", "3.12", "3.13"),
    "2.11.0": ("3.10", "3.11", "3.12", "3.13"),
    "2.12.1": ("3.10", "3.11", "3.12", "3.13"),
    "2.13.0": ("3.10", "3.11", "3.12", "3.13"),
    "2.14.0": ("3.10", "3.11", "3.12", "3.13"),
    "2.15.0": ("3.11", "3.12", "3.13"),
}

OLDEST_PYTHON = "3.8"


@dataclasses.dataclass(frozen=True)
class Cell:
    python: str
    torch: str
    torchvision: str

    @property
    def id(self) -> str:
        return f"py{self.python}-torch{self.torch}-tv{self.torchvision}"

    @property
    def requirements(self) -> list[str]:
        """Exact pins installed into the cell's venv."""
        reqs = [f"torch=={self.torch}", f"torchvision=={self.torchvision}",
                f"numpy=={NUMPY}", f"pillow=={PILLOW}"]
        if _version(self.torch) < (2, 0):
            # uv venvs carry no setuptools, and torch 1.x imports pkg_resources
            # (removed from setuptools 70).
            reqs.append("setuptools<70")
        return reqs

    @property
    def sort_key(self) -> tuple:
        return (_version(self.torch), _version(self.torchvision), _version(self.python))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("+")[0].split(".")
                 if part.isascii() and part.isdigit())


def python_for(torch: str) -> str:
    """The oldest supported Python that is at least OLDEST_PYTHON."""
    supported = TORCH_PYTHONS[torch]
    eligible = [v for v in supported if _version(v) >= _version(OLDEST_PYTHON)]
    return min(eligible, key=_version)


def _cells(pairs: list[tuple[str, str]]) -> list[Cell]:
    return [Cell(python_for(torch), torch, tv) for torch, tv in pairs]


# Waypoints bracketing every known change; newest = the newest pair on PyPI.
DEFAULT = _cells([
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
    ("2.15.0", "0.29.2"),
])

# Every torchvision minor release with its torch (newest patch of each).
EXHAUSTIVE = _cells([
    ("1.4.0", "0.5.0"), ("1.5.1", "0.6.1"), ("1.6.0", "0.7.0"), ("1.7.1", "0.8.2"),
    ("1.8.1", "0.9.1"), ("1.9.1", "0.10.1"), ("1.10.2", "0.11.3"), ("1.11.0", "0.12.0"),
    ("1.12.1", "0.13.1"), ("1.13.1", "0.14.1"), ("2.0.1", "0.15.2"), ("2.1.2", "0.16.2"),
    ("2.2.2", "0.17.2"), ("2.3.1", "0.18.1"), ("2.4.1", "0.19.1"), ("2.5.1", "0.20.1"),
    ("2.6.0", "0.21.0"), ("2.7.1", "0.22.1"), ("2.8.0", "0.23.0"), ("2.9.1", "0.24.1"),
    ("2.10.0", "0.25.0"), ("2.11.0", "0.26.0"), ("2.12.1", "0.27.1"), ("2.13.0", "0.28.0"),
    ("2.14.0", "0.29.0"), ("2.15.0", "0.29.2"),
])


def all_cells() -> list[Cell]:
    seen: dict[str, Cell] = {}
    for cell in DEFAULT + EXHAUSTIVE:
        seen.setdefault(cell.id, cell)
    return sorted(seen.values(), key=lambda c: c.sort_key)


def find(cell_id: str) -> Cell | None:
    return next((c for c in all_cells() if c.id == cell_id), None)


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
