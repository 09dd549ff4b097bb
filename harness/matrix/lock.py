"""The lock: which torch/torchvision pairs exist, on which Pythons, with which pins.

    python -m _rngdrift.harness.matrix.lock [--index-url URL] [--out matrix.lock.json]   (nox -s lock)

reads the package index and writes ``matrix.lock.json``, the file every other part
of rngdrift reads its version facts from (``harness/compat.py``). Everything after
this step runs offline from the committed lock.

What it reads (PEP 691 JSON simple API, the one every current index serves):
  - ``<index>/torch/`` and ``<index>/torchvision/``: every release and its files;
    a release counts when it has a Linux x86_64 wheel that is not yanked;
  - each torchvision release's own core metadata (PEP 658 ``.metadata`` file where
    the index has one, else the wheel's ``METADATA`` read by HTTP range requests,
    as pip and uv do): its ``Requires-Dist`` on torch;
  - ``<index>/numpy/`` and ``<index>/pillow/``: which pins each Python can have.

How a torchvision release gets its torch (``paired_by``):
  - ``exact``: it requires ``torch==X`` and X is a torch release on the index;
  - ``published-with``: any other requirement (torchvision 0.2/0.3 say ``torch`` or
    ``torch>=1.1.0``, 0.29.1 on say ``torch>=2.14.0``): the torch release published
    last before it, if that release satisfies the requirement. A requirement no
    torch release on the index satisfies (``torch==1.10.0+cu102`` of torchvision
    0.11.0) pairs with nothing; the lock still records what it says.

A pair's Python is the oldest one from 3.8 on that has wheels of both; pairs
without any (torch 1.0-1.3) take the newest they have (3.7). Its pins are NumPy
and Pillow at the matrix's versions (``NUMPY``/``PILLOW``) where that Python has
wheels of them, else the newest older release that has (Python 3.7: NumPy 1.21.6,
Pillow 9.5.0), else the oldest newer one; ``LIMITS`` narrows that where a release
needs what its metadata does not say (torchvision 0.4: Pillow 8.4.0), and torch
1.x and 2.1 also get ``setuptools<70``.

The output is deterministic (sorted, no timing), and a refresh that finds nothing
new leaves the file byte for byte as it was, ``made`` included. Any network or
parse failure prints one line and exits 2 with the old lock untouched.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import functools
import json
import re
import sys
import time

from pathlib import Path
from typing import Iterable

from .. import paths
from ..cell import schema
from ..cell.safetext import visible
from . import index
from .index import (  # noqa: F401  (LockError, Fetch: part of this module's use)
    Fetch, File, LockError, Version, http_fetch, linux_x86_64, read_metadata, read_project,
    satisfies, torch_requirement, vkey, wheel_pythons)

LOCK_PATH = paths.LOCK
DEFAULT_INDEX = "https://pypi.org/simple/"
FORMAT = 1
OLDEST_TORCH = "1.0.0"
CELL_PYTHON_FROM = "3.8"
# The matrix's pins: Pillow changes augmentation bytes, so every cell holds one
# version; NumPy 1.24.4 is the newest with wheels for every Python from 3.8.
NUMPY = "1.24.4"
PILLOW = "10.4.0"
WORKERS = 16

# -- building the lock ----------------------------------------------------------------

@dataclasses.dataclass
class Release:
    version: str
    pythons: list
    uploaded: str | None
    files: list


def releases(project: dict[str, list[File]], known_pythons: Iterable[str]) -> list[Release]:
    """Final releases with a Linux x86_64 wheel, oldest first, with their Pythons."""
    out = []
    for version, files in project.items():
        if Version.parse(version) is None:
            continue
        linux = [f for f in files if linux_x86_64(f.wheel)]
        if not linux:
            continue
        pythons = set()
        for f in linux:
            pythons |= wheel_pythons(f.wheel, f.requires_python, known_pythons)
        times = [f.uploaded for f in files if f.uploaded]
        out.append(Release(version, sorted(pythons, key=vkey), min(times) if times else None,
                           sorted(linux, key=lambda f: f.wheel.filename)))
    return sorted(out, key=lambda r: vkey(r.version))


def _cp_pythons(*projects: dict[str, list[File]]) -> set[str]:
    found = set()
    for project in projects:
        for files in project.values():
            for f in files:
                for tag in f.wheel.python_tags:
                    match = re.fullmatch(r"cp(\d)(\d+)", tag)
                    if match:
                        found.add(f"{match[1]}.{match[2]}")
    return found


def pair(torch: list[Release], torchvision: list[Release], requirements: dict) -> dict:
    """{torchvision version: (torch version or None, paired_by)}; see the module docstring."""
    torch_versions = {r.version for r in torch}
    pairs = {}
    for tv in torchvision:
        spec = requirements[tv.version]
        exact = re.fullmatch(r"===?([^,*]+)", spec or "")
        if exact and exact[1] in torch_versions:
            pairs[tv.version] = (exact[1], "exact")
            continue
        # Any other requirement: the torch release published last before this
        # torchvision, if it meets the requirement (torchvision was built against it).
        before = [t for t in torch if t.uploaded and tv.uploaded and t.uploaded < tv.uploaded]
        latest = max(before, key=lambda t: t.uploaded) if before else None
        if spec is not None and latest and satisfies(latest.version, spec):
            pairs[tv.version] = (latest.version, "published-with")
            continue
        pairs[tv.version] = (None, "")
    return pairs


def cell_python(both: list[str]) -> str | None:
    """The oldest Python from CELL_PYTHON_FROM, else the newest one before it."""
    both = sorted(both, key=vkey)
    modern = [p for p in both if vkey(p) >= vkey(CELL_PYTHON_FROM)]
    return modern[0] if modern else (both[-1] if both else None)


@dataclasses.dataclass(frozen=True)
class Limit:
    """A pin a release needs that its own metadata does not state."""
    package: str   # whose releases it applies to: "torch" or "torchvision"
    versions: str  # which releases (a specifier)
    pin: str       # "numpy" or "pillow"
    allowed: str   # what the pin may be (a specifier)
    why: str


LIMITS = (
    # Found by running the cell: `from PIL import ..., PILLOW_VERSION` in
    # torchvision/transforms/functional.py up to 0.4.2 (0.5.0 imports __version__);
    # Pillow removed PILLOW_VERSION in 7.0.0, restored it in 7.1.0, removed it in 9.0.0.
    Limit("torchvision", "<0.5", "pillow", "<9,!=7.0.*",
          "torchvision<0.5 imports PIL.PILLOW_VERSION, which Pillow 7.0 and >=9 lack"),
)


def limits_for(torch: str, torchvision: str) -> list[Limit]:
    versions = {"torch": torch, "torchvision": torchvision}
    return [lim for lim in LIMITS if satisfies(versions[lim.package], lim.versions)]


def pick_pin(target: str, candidates: list[Release], python: str, allowed: str = "") -> str | None:
    """``target`` if it has a wheel for ``python`` (and meets ``allowed``), else the
    newest older release that does, else the oldest newer one."""
    fitting = [r.version for r in candidates
               if python in r.pythons and satisfies(r.version, allowed)]
    older = [v for v in fitting if vkey(v) <= vkey(target)]
    newer = [v for v in fitting if vkey(v) > vkey(target)]
    return older[-1] if older else (newer[0] if newer else None)


def requirements(torch: str, torchvision: str, numpy: str, pillow: str) -> list[str]:
    """The exact pins installed into a cell's venv."""
    return [f"torch=={torch}", f"torchvision=={torchvision}", f"numpy=={numpy}",
            f"pillow=={pillow}", *constraints(torch)]


def constraints(torch: str) -> list[str]:
    """What a torch release needs besides its pins: uv venvs carry no setuptools, and
    torch 1.x imports pkg_resources (removed from setuptools 70); torch 2.1's
    torch_version imports packaging, which its wheel does not declare, else
    pkg_resources' copy (pytorch/pytorch#114591: `import torch` fails in a bare venv)."""
    needs = vkey(torch) < vkey("2.0") or vkey("2.1") <= vkey(torch) < vkey("2.2")
    return ["setuptools<70"] if needs else []


def _parallel(func, items: list, workers: int) -> list:
    if not items:
        return []
    with concurrent.futures.ThreadPoolExecutor(max(1, min(workers, len(items)))) as pool:
        return list(pool.map(func, items))


def build(index: str = DEFAULT_INDEX, fetch: Fetch = http_fetch, workers: int = WORKERS,
          made: str | None = None) -> dict:
    """The lock as a dict (see ``render``). Raises LockError."""
    names = ("torch", "torchvision", "numpy", "pillow")
    projects = dict(zip(names, _parallel(lambda n: read_project(index, n, fetch), list(names),
                                         workers)))
    known = _cp_pythons(projects["torch"], projects["torchvision"])
    torch = [r for r in releases(projects["torch"], known) if vkey(r.version) >= vkey(OLDEST_TORCH)]
    if not torch:
        raise LockError(f"{index}: no torch release from {OLDEST_TORCH} with Linux x86_64 wheels")
    torchvision = releases(projects["torchvision"], known)
    metadata = _parallel(lambda r: read_metadata(r.files[0], fetch), torchvision, workers)
    wanted = {}
    for release, text in zip(torchvision, metadata):
        try:
            wanted[release.version] = torch_requirement(text)
        except LockError as exc:
            raise LockError(f"torchvision {release.version}: {exc}") from None
    pairs = pair(torch, torchvision, wanted)
    pin_sources = {n: releases(projects[n], known) for n in ("numpy", "pillow")}
    tv_by_version = {r.version: r for r in torchvision}

    cells, pins = [], {}
    for t in torch:
        for tv_version, (paired, _) in pairs.items():
            if paired != t.version:
                continue
            both = [p for p in t.pythons if p in tv_by_version[tv_version].pythons]
            python = cell_python(both)
            if python is None:
                continue
            if python not in pins:
                pins[python] = {"numpy": pick_pin(NUMPY, pin_sources["numpy"], python),
                                "pillow": pick_pin(PILLOW, pin_sources["pillow"], python)}
            chosen, why = dict(pins[python]), []
            for limit in limits_for(t.version, tv_version):
                target = NUMPY if limit.pin == "numpy" else PILLOW
                chosen[limit.pin] = pick_pin(target, pin_sources[limit.pin], python, limit.allowed)
                why.append(f"{limit.pin}{limit.allowed}: {limit.why}")
            numpy, pillow = chosen["numpy"], chosen["pillow"]
            if numpy is None or pillow is None:
                raise LockError(f"no NumPy or Pillow wheel for Python {python} that torch "
                                f"{t.version}/torchvision {tv_version} can use on {index}")
            cell = {"python": python, "torch": t.version, "torchvision": tv_version,
                    "numpy": numpy, "pillow": pillow,
                    "requirements": requirements(t.version, tv_version, numpy, pillow)}
            if why:
                cell["pins_limited"] = why
            cells.append(cell)
    cells.sort(key=lambda c: (vkey(c["torch"]), vkey(c["torchvision"])))
    return {
        "format": FORMAT,
        "made": made or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "made_by": "nox -s lock (python -m _rngdrift.harness.matrix.lock)",
        "index": index,
        "pins": [{"python": p, **pins[p]} for p in sorted(pins, key=vkey)],
        "torch": [{"version": t.version, "pythons": t.pythons,
                   "torchvision": sorted((v for v, (p, _) in pairs.items() if p == t.version),
                                         key=vkey)}
                  for t in torch],
        "torchvision": [{"version": r.version, "pythons": r.pythons,
                         "requires_torch": wanted[r.version], "torch": pairs[r.version][0],
                         "paired_by": pairs[r.version][1] or None}
                        for r in torchvision],
        "cells": cells,
    }


def render(lock: dict) -> str:
    return json.dumps(lock, indent=1, sort_keys=True) + "\n"


def _without_made(lock: dict) -> dict:
    return {k: v for k, v in lock.items() if k != "made"}


def write(lock: dict, path: Path) -> bool:
    """Write the lock atomically; False (file untouched) when only ``made`` would change."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = None
    if isinstance(old, dict) and _without_made(old) == _without_made(lock):
        return False
    # An exclusive, unpredictable temporary name: a link planted next to the lock is
    # never followed (a name from the pid was guessable).
    schema.write_atomic(str(path), render(lock))
    return True


def changes(old: dict | None, new: dict) -> list[str]:
    """Cells the new lock adds or drops, as 'added py3.11-torch2.16.0-tv0.30.0' lines."""
    def ids(lock):
        return {f"py{c['python']}-torch{c['torch']}-tv{c['torchvision']}"
                for c in (lock or {}).get("cells", [])}
    before, after = ids(old), ids(new)
    return [f"added {i}" for i in sorted(after - before)] + \
           [f"dropped {i}" for i in sorted(before - after)]


def main(argv: list[str] | None = None, fetch: Fetch = http_fetch) -> int:
    parser = argparse.ArgumentParser(prog="python -m _rngdrift.harness.matrix.lock",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-url", default=DEFAULT_INDEX,
                        help=f"simple-API index to read (default {DEFAULT_INDEX})")
    parser.add_argument("--out", type=Path, default=LOCK_PATH, help="lock file to write")
    parser.add_argument("--workers", type=int, default=WORKERS, help="parallel requests")
    parser.add_argument("--timeout", type=float, default=index.DEADLINE_S, metavar="SECONDS",
                        help="longest wait for one whole answer of the index (default "
                             f"{index.DEADLINE_S:g})")
    args = parser.parse_args(argv)
    if fetch is http_fetch:
        fetch = functools.partial(http_fetch, deadline=args.timeout)
    started = time.monotonic()
    try:
        try:
            old = json.loads(args.out.read_text())
        except (OSError, ValueError):
            old = None
        lock = build(args.index_url, fetch, args.workers)
        written = write(lock, args.out)
    except (LockError, ValueError, OSError, RecursionError) as exc:
        # What the index said is shown, never obeyed: an escape sequence in a reason
        # phrase or a file name is printed as its escape.
        print(f"rngdrift lock: {visible(str(exc))}; {args.out} left as it was", file=sys.stderr)
        return 2
    seconds = time.monotonic() - started
    newest = lock["cells"][-1]
    summary = (f"{len(lock['torch'])} torch releases, {len(lock['cells'])} pairs, newest "
               f"torch {newest['torch']}/torchvision {newest['torchvision']}")
    state = "written" if written else "unchanged"
    print(f"rngdrift lock: {args.out.name} {state} in {seconds:.1f} s: {summary}")
    for line in changes(old, lock) if old else []:
        print(f"rngdrift lock: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
