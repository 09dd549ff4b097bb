"""Which Python a check's two environments share.

The candidates are the Pythons torch and torchvision publish wheels for at the
versions each side declares, from the lock (``matrix.lock.json`` records every
release's wheel Pythons, read from the index by ``nox -s lock``): the Pythons both
sides have, from 3.7 (the oldest the cell side runs on), newest first, and of those
the ones installed here (pyenv, uv-managed, PATH: ``harness.matrix.interpreters``);
when none is, uv downloads the newest (``uv python install``, as nox's
``--download-python auto`` would), so a CI runner with one Python checks any bump.
A version the lock does not know (newer than the lock, a local ``+cpu`` build) does
not narrow the candidates; the resolver then decides (``harness.envs.build`` tries
them in order).
"""
from __future__ import annotations

import re
import sys

from ..matrix import compat, interpreters
from ..matrix.index import satisfies, vkey
from . import uvtool
from .declared import canonical

OLDEST = "3.7"
FALLBACK = ("3.13", "3.12", "3.11", "3.10", "3.9", "3.8", "3.7")
_SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")


def specifier(requirements, project: str) -> str | None:
    """The version specifier the requirement lines give ``project`` ('==1.5.0',
    '>=2.0,<2.5', '' for any), or None when no line names it."""
    found = None
    for line in requirements:
        match = _SPEC.match(line)
        if match and canonical(match[1]) == project:
            spec = match[3].strip().replace(" ", "")
            found = ",".join(filter(None, [found, spec])) if found else spec
    return found


def wheel_pythons(project: str, spec: str | None, lock: dict | None = None) -> set[str] | None:
    """Pythons with wheels of some release of ``project`` the lock knows that meets
    ``spec``; None when that does not narrow anything (no spec, or no such release)."""
    if not spec:
        return None
    releases = (lock or compat.LOCK).get(project, [])
    pythons: set[str] = set()
    for release in releases:
        try:
            if all(_meets(release["version"], part) for part in spec.split(",") if part):
                pythons |= set(release.get("pythons", []))
        except ValueError:  # a URL or a specifier the lock's reader does not know
            return None
    return pythons or None


def _meets(version: str, part: str) -> bool:
    local = re.fullmatch(r"(==|===)\s*([^+]+)\+\S+", part)  # torch==2.4.1+cpu: the release
    return satisfies(version, f"=={local[2]}" if local else part)


def candidates(sides: list[list[str]], lock: dict | None = None) -> list[str]:
    """Pythons every side's torch and torchvision have wheels for, newest first."""
    allowed: set[str] | None = None
    for requirements in sides:
        for project in ("torch", "torchvision"):
            pythons = wheel_pythons(project, specifier(requirements, project), lock)
            if pythons is not None:
                allowed = pythons if allowed is None else allowed & pythons
    pool = FALLBACK if allowed is None else allowed
    usable = [p for p in pool if vkey(p) >= vkey(OLDEST)]
    return sorted(set(usable), key=vkey, reverse=True)


def installed(pythons: list[str]) -> list[tuple[str, str]]:
    """(X.Y, interpreter) for each of ``pythons`` found on this machine, in order."""
    found = []
    for xy in pythons:
        exe = interpreters.find(xy)
        if exe is not None:
            found.append((xy, str(exe)))
    return found


def download(xy: str) -> tuple[str, str] | None:
    """Python X.Y fetched by uv (a managed build), or None when uv cannot."""
    sys.stderr.write(f"rngdrift check: no Python {xy} here; uv python install {xy}\n")
    if uvtool.run(["python", "install", xy]).returncode != 0:
        return None
    proc = uvtool.run(["python", "find", "--managed-python", xy])
    path = proc.stdout.strip()
    return (xy, path) if proc.returncode == 0 and path else None
