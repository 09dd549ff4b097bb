"""A cell's import root: one folder holding only rngdrift's two importable names.

A cell's interpreter finds rngdrift through PYTHONPATH. Pointing that at the checkout
would make everything there importable in the cell (its ``tests``, ``results``,
``benchmarks``, ``harness`` and ``scenarios`` folders), and the host's site-packages
would bring packages built for another Python. This folder holds two links,
``_rngdrift`` (the code: ``_rngdrift.harness``, ``_rngdrift.scenarios``) and
``rngdrift`` (the public API: ``rngdrift.record``, ``rngdrift.scenario``), so a team's
own modules import as theirs in the cell whatever their names.
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import paths

FOLDER = "_rngdrift-import"


def make(base: Path) -> Path:
    """The import root under ``base`` (made, or its links renewed when they point
    elsewhere); returns it for PYTHONPATH."""
    root = Path(base) / FOLDER
    root.mkdir(parents=True, exist_ok=True)
    for name, target in (("_rngdrift", paths.PACKAGE), ("rngdrift", paths.PUBLIC)):
        link = root / name
        if link.is_symlink() and os.readlink(link) == str(target):
            continue
        tmp = root / f".{name}.{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target, target_is_directory=True)
        os.replace(tmp, link)
    return root
