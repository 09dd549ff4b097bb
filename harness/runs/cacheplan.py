"""What a disk-bounded run installs, in which order, and what it evicts when.

    resolve(cell, ...)   the cell's wheels: ``uv pip compile --format pylock.toml`` (every
                         distribution, its wheel file and download size)
    order(needs)         from the oldest cell, each next one shares the most bytes with
                         the one before (cells sharing large wheels run together)
    evictions(...)       before an install: the packages holding what no later cell needs,
                         then, while the estimate is over the budget, the one used
                         farthest ahead
    check_budget(...)    a cell that alone does not fit the budget is refused

``add_options``: --max-cache and --cache-dir (after ``nox -s matrix --``). Pure but for
``resolve``; ``harness.runs.cache`` runs it.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import UserError

GB = 1e9
DEFAULT_DIR = Path(".nox") / "_rngdrift-cache"
PLAN_MAX_AGE_S = 24 * 3600
# A wheel unpacked in uv's cache takes this much more than its download (measured here:
# 1.6 to 2.6 per cell over the 50 cells of the lock); cache.jsonl records each cell's.
UNPACKED_RATIO = 2.8


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("disk (a run that must fit its disk)")
    group.add_argument("--max-cache", type=_gigabytes, metavar="GB",
                       help="keep rngdrift's own uv cache under GB: cells run in an order that "
                            "installs shared wheels once, and what no later cell needs is "
                            "evicted (docs/atlas.md)")
    group.add_argument("--cache-dir", metavar="DIR",
                       help=f"the cache --max-cache manages (default {DEFAULT_DIR}; never "
                            "~/.cache/uv)")


def _gigabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--max-cache wants a size in GB above 0, got {text!r}")
    return value


# -- what each cell installs ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Wheel:
    name: str      # normalised (PEP 503): what ``uv cache clean`` takes
    version: str
    file: str      # the wheel (or sdist) file: the identity of a cache entry
    size: int      # bytes to download


@dataclasses.dataclass(frozen=True)
class Needs:
    cell: str
    wheels: tuple[Wheel, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(w.name for w in self.wheels)

    def download(self) -> int:
        return sum(w.size for w in self.wheels)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_PACKAGE = re.compile(r"^\[\[packages\]\]\s*$", re.M)
_FIELD = re.compile(r'^(name|version)\s*=\s*"([^"]*)"', re.M)
_FILE = re.compile(r'url\s*=\s*"([^"]+)"[^}]*?size\s*=\s*(\d+)')


def parse_pylock(text: str) -> list[tuple[str, str, list[tuple[str, int]], tuple[str, int] | None]]:
    """[(name, version, [(wheel file, size)], (sdist file, size) or None)] of a pylock.toml
    as uv writes it (one inline table per file)."""
    out = []
    for block in _PACKAGE.split(text)[1:]:
        fields = dict(_FIELD.findall(block))
        files = [(url.rsplit("/", 1)[-1], int(size)) for url, size in _FILE.findall(block)]
        wheels = [f for f in files if f[0].endswith(".whl")]
        sdist = next((f for f in files if not f[0].endswith(".whl")), None)
        if "name" in fields:
            out.append((fields["name"], fields.get("version", ""), wheels, sdist))
    return out


def pick_wheel(files: list[tuple[str, int]], python: str,
               machine: str = platform.machine()) -> tuple[str, int] | None:
    """The wheel a Linux ``python`` (e.g. '3.8') installs from ``files``: its own CPython
    tag first, then abi3, then pure Python; None when none fits."""
    cp = "cp" + python.replace(".", "")
    best = None
    for file, size in files:
        parts = file[:-len(".whl")].split("-")
        if len(parts) < 5:
            continue
        pys, abis, plats = (set(p.split(".")) for p in parts[-3:])
        if not (plats == {"any"} or any("linux" in p and p.endswith(machine) for p in plats)):
            continue
        if cp in pys and (abis & {cp, cp + "m", "none"}):
            rank = 0
        elif "abi3" in abis and any(p.startswith("cp3") and int(p[3:] or 0) <= int(cp[3:])
                                    for p in pys):
            rank = 1
        elif any(p in ("py3", "py2.py3") or p.startswith("py3") for p in pys) and \
                abis == {"none"}:
            rank = 2
        else:
            continue
        if best is None or rank < best[0]:
            best = (rank, file, size)
    return (best[1], best[2]) if best else None


def needs_from_pylock(cell_id: str, text: str, python: str) -> Needs:
    wheels = []
    for name, version, files, sdist in parse_pylock(text):
        chosen = pick_wheel(files, python) or sdist or (f"{name}-{version}", 0)
        wheels.append(Wheel(normalise(name), version, chosen[0], chosen[1]))
    return Needs(cell_id, tuple(sorted(wheels, key=lambda w: w.name)))


def uv_executable() -> str:
    from nox.virtualenv import find_uv  # the uv nox itself uses
    found, uv, _ = find_uv()
    if not found:
        raise UserError("--max-cache needs uv (pip install 'nox[uv]')")
    return uv


def uv_env(cache_dir: Path) -> dict[str, str]:
    return dict(os.environ, UV_CACHE_DIR=str(uv_cache(cache_dir)))


def uv_cache(cache_dir: Path) -> Path:
    return cache_dir / "uv"


def resolve(cell, interpreter: Path | None, index: list[str], cache_dir: Path) -> Needs:
    """What ``cell`` installs: uv's resolution of its pins (with the cell's interpreter
    where it is there, else its Python version), read back from a day-old plan if any."""
    key = hashlib.sha256(json.dumps([cell.python, cell.requirements, index]).encode())
    memo = cache_dir / "plans" / f"{cell.id}-{key.hexdigest()[:12]}.pylock.toml"
    if not (memo.is_file() and time.time() - memo.stat().st_mtime < PLAN_MAX_AGE_S):
        target = ["--python", str(interpreter)] if interpreter else \
            ["--python-version", cell.python, "--python-platform", "linux"]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "pylock.toml"
            proc = subprocess.run(
                [uv_executable(), "pip", "compile", "-", "--format", "pylock.toml", "--no-header",
                 "--quiet", "-o", str(out), *target, *index],
                input="\n".join(cell.requirements) + "\n", capture_output=True, text=True,
                env=uv_env(cache_dir))
            if proc.returncode != 0:
                # the install will fail the same way and record it as the cell's error row
                return Needs(cell.id, ())
            memo.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out, memo)
    return needs_from_pylock(cell.id, memo.read_text(encoding="utf-8"), cell.python)


# -- order and eviction (pure: what the tests check) ------------------------------------

def order(needs: list[Needs]) -> list[Needs]:
    """From the first (oldest) cell, each next cell is the one that shares the most
    download bytes with the one before; ties keep the given (version) order."""
    left = list(needs)
    if not left:
        return []
    out = [left.pop(0)]
    while left:
        last = {w.file for w in out[-1].wheels}
        shared = [sum(w.size for w in n.wheels if w.file in last) for n in left]
        best = max(range(len(left)), key=lambda i: (shared[i], -i))
        out.append(left.pop(best))
    return out


def next_use(name_files: set[str], future: list[Needs]) -> int:
    """How many cells ahead the first one needing one of ``name_files`` is (len+1: never)."""
    for distance, needs in enumerate(future):
        if any(w.file in name_files for w in needs.wheels):
            return distance
    return len(future) + 1


def evictions(held: dict[str, set[str]], this: Needs, future: list[Needs], sizes: dict[str, int],
              budget: int, ratio: float = UNPACKED_RATIO) -> tuple[list[str], list[str], int]:
    """(packages to clean now, packages to clean to fit the budget (farthest next use
    first), the estimated cache size after this cell's install).

    ``held``: package -> the files the cache holds; ``sizes``: an estimate of each
    held package's size in the cache (bytes); ``this``: the cell about to install.
    ``uv cache clean`` takes a package with all its files, so a package is cleaned
    now when it holds a file no cell from this one on needs and none this cell uses
    (its later files are fetched again when their turn comes: in version order that
    never happens, a cache left by an earlier run is pruned this way).
    """
    wanted = {w.file for n in [this, *future] for w in n.wheels}
    used = {w.file for w in this.wheels}
    unneeded = sorted(name for name, files in held.items()
                      if files - wanted and not files & used)
    kept = {name: files for name, files in held.items() if name not in unneeded}
    held_files = {f for files in kept.values() for f in files}
    incoming = sum(int(w.size * ratio) for w in this.wheels if w.file not in held_files)
    size = sum(sizes.get(name, 0) for name in kept) + incoming
    over = []
    candidates = sorted((name for name in kept if not kept[name] & used),
                        key=lambda name: (-next_use(kept[name], future), -sizes.get(name, 0), name))
    for name in candidates:
        if size <= budget:
            break
        over.append(name)
        size -= sizes.get(name, 0)
    return unneeded, over, size


def check_budget(needs: list[Needs], budget_gb: float, ratio: float = UNPACKED_RATIO) -> None:
    """UserError when one cell alone needs more than the budget."""
    big = max(needs, key=lambda n: n.download(), default=None)
    if big is not None and big.download() * ratio > budget_gb * GB:
        raise UserError(f"--max-cache {budget_gb:g} cannot hold this cell: it needs about "
                        f"{big.download() * ratio / GB:.1f} GB unpacked "
                        f"({big.download() / GB:.1f} GB of wheels); give at least "
                        f"{math.ceil(big.download() * ratio / GB)}")
