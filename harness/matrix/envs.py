"""Environments as data: a Python and exact pins, what a matrix cell runs in.

    Env.of(cell) / env.cell()          to and from matrix cells (``compat.Cell``)
    Axis.parse("pillow=9.5.0,10.4.0")  one ``--vary`` axis: a package and its versions
    varied(cells, axes)                every cell once per version of each axis
    groups(a, b)                       what moves between two environments, in groups
                                       that must move together (torch with torchvision)
    one_at_a_time(a, b, ...)           a with one group moved to b's versions, per group
    path(a, b, resolve)                a to b one group a step, each environment resolved
    Resolver()                         resolve(env) -> Resolution, with uv: an environment
                                       that cannot be installed is said, with uv's reason
    releases_between(versions, a, b)   the releases a bisection of one package walks

A matrix cell is one such environment with a name (``compat.Cell.id``); ``--vary``
and a blame bisector (issue 24) build the environments between two cells or two
teams' pins with the functions here, so both agree on what an environment is.
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..errors import UserError
from . import compat, interpreters, lock as lockfile
from .index import Version, vkey

# Packages that only move together: torchvision pins one torch release exactly.
TOGETHER = (("torch", "torchvision"),)
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(compat.VERSION, re.ASCII)


@dataclasses.dataclass(frozen=True)
class Env:
    """Python X.Y and exact pins ({PEP 503 name: version}), sorted: equal environments
    compare and hash equal whatever order their pins were given in."""
    python: str
    pins: tuple[tuple[str, str], ...]

    @classmethod
    def make(cls, python: str, pins: Mapping[str, str] | Iterable[tuple[str, str]]) -> "Env":
        items = pins.items() if isinstance(pins, Mapping) else pins
        named = {}
        for name, version in items:
            key = compat.normalize(name)
            if key in named and named[key] != version:
                raise ValueError(f"{key} pinned twice ({named[key]} and {version})")
            named[key] = str(version)
        return cls(python, tuple(sorted(named.items())))

    @classmethod
    def of(cls, cell: compat.Cell) -> "Env":
        pins = {"torch": cell.torch, "torchvision": cell.torchvision, "numpy": cell.numpy,
                "pillow": cell.pillow, **cell.named}
        return cls.make(cell.python, pins)

    @property
    def named(self) -> dict[str, str]:
        return dict(self.pins)

    def get(self, name: str) -> str | None:
        return self.named.get(compat.normalize(name))

    def moved(self, changes: Mapping[str, str | None]) -> "Env":
        """This environment with ``changes`` applied ({name: version}; None unpins)."""
        pins = self.named
        for name, version in changes.items():
            if compat.normalize(name) == "python":
                raise ValueError("python is not a pin; use dataclasses.replace(env, python=...)")
            if version is None:
                pins.pop(compat.normalize(name), None)
            else:
                pins[compat.normalize(name)] = version
        return Env.make(self.python, pins)

    @property
    def requirements(self) -> list[str]:
        """What uv installs: the pins, plus what an old torch needs (the lock's rule)."""
        torch = self.get("torch")
        return [f"{name}=={version}" for name, version in self.pins] + (
            lockfile.constraints(torch) if torch else [])

    def cell(self) -> compat.Cell:
        """The matrix cell of this environment: NumPy and Pillow are named in its id
        where they are not the lock's for that pair, other pins always."""
        pins = self.named
        torch, torchvision = pins.pop("torch", None), pins.pop("torchvision", None)
        if not torch or not torchvision:
            raise ValueError(f"{self}: a cell needs torch and torchvision pinned")
        default = compat.Cell(self.python, torch, torchvision)
        for field in ("numpy", "pillow"):
            if pins.get(field) == getattr(default, field):
                del pins[field]
        return compat.Cell(self.python, torch, torchvision, pins=tuple(pins.items()))

    def __str__(self) -> str:
        return f"python {self.python}, " + ", ".join(f"{n} {v}" for n, v in self.pins)


# -- --vary ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Axis:
    """One ``--vary`` axis: a package and the versions each chosen cell runs with."""
    package: str
    versions: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> "Axis":
        """'pillow=9.5.0,10.4.0,11.0.0' -> Axis; UserError with the reason."""
        name, sep, listed = text.partition("=")
        versions = tuple(v.strip() for v in listed.split(",") if v.strip())
        hint = "--vary wants PACKAGE=VERSION[,VERSION...], e.g. pillow=9.5.0,10.4.0,11.0.0"
        if not sep or not _NAME.fullmatch(name.strip()) or not versions:
            raise UserError(f"{hint}; got {text!r}")
        package = compat.normalize(name.strip())
        if package in compat.OWN_AXES:
            raise UserError(f"--vary {text}: {package} is the matrix's own axis; choose its "
                            "cells instead (nox -s patches -t tv0.17, or nox -s 'matrix(ID)')")
        bad = [v for v in versions if not _VERSION.fullmatch(v)]
        if bad:
            raise UserError(f"--vary {text}: {', '.join(map(repr, bad))} is not an exact release "
                            "version like 9.5.0 (a range would let the install choose)")
        if len(set(versions)) != len(versions):
            raise UserError(f"--vary {text}: a version listed twice")
        return cls(package, tuple(sorted(versions, key=vkey)))


def combine(axes: Iterable[Axis]) -> list[Axis]:
    """Axes with one package each: ``--vary numpy=a --vary numpy=b`` is numpy=a,b."""
    merged: dict[str, list[str]] = {}
    for axis in axes:
        found = merged.setdefault(axis.package, [])
        found += [v for v in axis.versions if v not in found]
    return [Axis(p, tuple(sorted(v, key=vkey))) for p, v in merged.items()]


def varied(cells: list[compat.Cell], axes: Iterable[Axis]) -> list[compat.Cell]:
    """Every cell once per version of each axis, one package moved at a time (no cross
    product: ``--vary pillow=… --vary numpy=…`` gives the Pillow cells and the NumPy
    cells); the cells as they are without axes. The version is named in each cell's
    id, even where it is the lock's own pin, so a varied run says it in every name."""
    axes = combine(axes)
    if not axes:
        return list(cells)
    out: dict[str, compat.Cell] = {}
    for cell in cells:
        for axis in axes:
            for version in axis.versions:
                pins = dict(cell.pins)
                pins[axis.package] = version
                numpy = None if "numpy" in pins else cell.numpy
                pillow = None if "pillow" in pins else cell.pillow
                new = compat.Cell(cell.python, cell.torch, cell.torchvision, numpy, pillow,
                                  tuple(pins.items()))
                out.setdefault(new.id, new)
    return sorted(out.values(), key=lambda c: c.sort_key)


# -- between two environments ------------------------------------------------------------

def groups(a: Env, b: Env, together=TOGETHER) -> list[tuple[str, ...]]:
    """The packages that differ between ``a`` and ``b`` (a pin added, removed or moved),
    in groups that move as one: ``together``'s groups where any of them moved, every
    other package alone, 'python' alone when the Pythons differ. Sorted by name."""
    old, new = a.named, b.named
    moved = {n for n in set(old) | set(new) if old.get(n) != new.get(n)}
    out = []
    for group in together:
        if moved & set(group):
            out.append(tuple(sorted(set(group) & (set(old) | set(new)))))
            moved -= set(group)
    out += [(name,) for name in moved]
    if a.python != b.python:
        out.append(("python",))
    return sorted(out)


def apply(env: Env, target: Env, group: tuple[str, ...]) -> Env:
    """``env`` with the packages of ``group`` at ``target``'s versions (or unpinned where
    ``target`` lacks them); 'python' takes ``target``'s Python."""
    if "python" in group:
        env = dataclasses.replace(env, python=target.python)
    return env.moved({name: target.get(name) for name in group if name != "python"})


def one_at_a_time(a: Env, b: Env, together=TOGETHER) -> list[tuple[tuple[str, ...], Env]]:
    """For each group that moves from ``a`` to ``b``: ``a`` with only that group moved.
    What a blame runs first: a change seen here belongs to that group alone."""
    return [(group, apply(a, b, group)) for group in groups(a, b, together)]


@dataclasses.dataclass(frozen=True)
class Resolution:
    env: Env
    ok: bool
    detail: str                                  # uv's reason when not ok
    resolved: tuple[tuple[str, str], ...] = ()   # every distribution uv chose, when ok


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a path: ``group`` moved, giving ``env``; ``refused`` the moves tried
    first that uv could not install (each a Resolution saying why)."""
    group: tuple[str, ...]
    env: Env
    refused: tuple[Resolution, ...] = ()


def path(a: Env, b: Env, resolve: Callable[[Env], Resolution],
         together=TOGETHER) -> list[Step]:
    """From ``a`` to ``b``, moving one group a step: at each step the first group (by
    name) whose move gives an environment uv can install. Where no single group can
    move, the smallest union of groups that can (Python with torch, when the new torch
    has no wheels for the old Python) moves as one step; where nothing can, the rest
    moves at once and its last step says so through ``refused``. ``b`` itself is
    resolved too: a path ending in an environment that cannot be installed says so."""
    steps: list[Step] = []
    env = a
    left = groups(a, b, together)
    while left:
        refused = []
        chosen = None
        for size in range(1, len(left) + 1):
            for combo in itertools.combinations(left, size):
                group = tuple(sorted({n for g in combo for n in g}))
                candidate = apply(env, b, group)
                found = resolve(candidate)
                if found.ok:
                    chosen = (combo, group, candidate)
                    break
                refused.append(found)
            if chosen:
                break
        if chosen is None:
            group = tuple(sorted({n for g in left for n in g}))
            steps.append(Step(group, apply(env, b, group), tuple(refused)))
            break
        combo, group, env = chosen
        steps.append(Step(group, env, tuple(refused)))
        left = [g for g in left if g not in combo]
    return steps


def releases_between(versions: Iterable[str], old: str, new: str) -> list[str]:
    """The final releases strictly between ``old`` and ``new``, oldest first: what a
    bisection of one package's bump walks (its midpoint first)."""
    low, high = sorted((old, new), key=vkey)
    return sorted((v for v in set(versions) if Version.parse(v) is not None
                   and vkey(low) < vkey(v) < vkey(high)), key=vkey)


# -- resolving with uv ------------------------------------------------------------------

def find_uv() -> str | None:
    """The uv next to this interpreter (a venv with nox[uv]), on PATH, or nox's own."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    if shutil.which("uv"):
        return shutil.which("uv")
    try:
        from nox.virtualenv import find_uv as nox_find_uv
    except ImportError:
        return None
    has_uv, uv, _ = nox_find_uv()
    return uv if has_uv else None


class Resolver:
    """``resolve(env)``: can uv install ``env``'s pins together on its Python, here?

    Asks ``uv pip compile`` with the environment's interpreter (``interpreters.find``;
    without one, for its Python version), wheels only (a cell that would build from
    source is not one rngdrift installs), nothing installed. Answers are kept, so a
    bisection asks uv once per environment."""

    def __init__(self, uv: str | None = None, index: list[str] = (), timeout: float = 300,
                 run=subprocess.run, find_python=interpreters.find):
        self.uv = uv or find_uv()
        self.index = list(index)
        self.timeout = timeout
        self._run = run
        self._find_python = find_python
        self._answers: dict[Env, Resolution] = {}

    def command(self, env: Env) -> list[str]:
        if not self.uv:
            raise UserError("uv not found (pip install uv, or nox[uv]): rngdrift resolves "
                            "environments with it")
        exe = self._find_python(env.python)
        target = ["--python", str(exe)] if exe else ["--python-version", env.python]
        return [self.uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate",
                "--only-binary", ":all:", *target, *self.index, "-"]

    def __call__(self, env: Env) -> Resolution:
        if env not in self._answers:
            self._answers[env] = self._resolve(env)
        return self._answers[env]

    def _resolve(self, env: Env) -> Resolution:
        cmd = self.command(env)
        try:
            proc = self._run(cmd, input="\n".join(env.requirements) + "\n", capture_output=True,
                             text=True, timeout=self.timeout,
                             env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"))
        except subprocess.TimeoutExpired:
            return Resolution(env, False, f"uv did not answer within {self.timeout:.0f} s")
        except OSError as exc:
            raise UserError(f"cannot run uv ({self.uv}): {exc.strerror}") from None
        if proc.returncode == 0:
            found = tuple(sorted(tuple(line.strip().split("==", 1))
                                 for line in proc.stdout.splitlines() if "==" in line
                                 and not line.startswith(("#", " "))))
            return Resolution(env, True, "", found)
        return Resolution(env, False, why(proc.stderr or proc.stdout))


def why(output: str) -> str:
    """uv's reason in one line: its 'cause' and 'hint' lines, not its download noise."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith("error:")), 0)
    kept = [re.sub(r"^(error|cause|hint):\s*", "", line) for line in lines[start:]
            if not line.startswith("warning:")]
    kept = [line for line in kept if line and line != "No solution found when resolving dependencies"]
    return " ".join(kept)[:600] or "uv could not resolve it (no reason given)"
