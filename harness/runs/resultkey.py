"""A cell's result key: a stable hash of everything that decides its results.

Computed on the host before anything is installed, from

    pins      the cell's Python and exact requirements, from the lock
    options   the options that shape the rows (seeding modes, repeats, --only/--skip,
              timeouts, memory limit, start method; not --jobs or --resume, which
              change how fast, not what)
    code      the sha256 of every file under harness/cell/ and scenarios/
    user      the sha256 of every file of the user's --scenarios and --cell-requirements
    index     --index-url, --extra-index-url, --find-links (and a local directory's
              file names: a new wheel there can change what installs)
    harness   rngdrift's version and the CSV schema version

and recorded, with the machine's platform class beside it (``harness.platforms``),
in the header of the cell's freeze file:

    # rngdrift-key: 5d0c1f7a9b2e4c61 platform=x86_64-amd-avx512
    # rngdrift-key-parts: pins=… options=… code=… user=… index=… harness=0.2.0/1

Two cells with the same key and class would write the same rows (but for run id,
timings and what an unseeded generator drew), so a previous run's cell can stand in
for a new run of it (``harness.reuse``). The parts say *why* a key differs.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
from pathlib import Path

from .. import paths
from ..matrix import compat
from ..results import platforms
from . import runoptions, safefiles
from ..cell import codeid, loader, options, schema

ROOT = paths.SOURCE  # holds harness/ and scenarios/ (a checkout, or the installed package)
CODE_DIRS = ("harness/cell", "scenarios")
PARTS = ("pins", "options", "code", "user", "index", "harness")
# How a cell runs, not what it computes: left out so that they never force a rerun.
NOT_IN_KEY = ("jobs", "resume")
INDEX_OPTIONS = ("index_url", "extra_index_url", "find_links")
KEY_LINE = "# rngdrift-key: "
PARTS_LINE = "# rngdrift-key-parts: "
DIGITS = 16


def _digest(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:DIGITS]


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def code_digest(root: Path = ROOT) -> str:
    """sha256 over every file under harness/cell/ and scenarios/ (relative name and
    content; caches and compiled files left out)."""
    files = {}
    for folder in CODE_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[path.relative_to(root).as_posix()] = _file_sha(path)
    return _digest(files)


def harness_version(root: Path = ROOT) -> str:
    """rngdrift's version and the CSV schema's (``root`` is kept for the callers' sake:
    the version is the package's, wherever its files are)."""
    return f"{paths.VERSION}/{schema.SCHEMA_VERSION}"


def option_values(args: runoptions.RunOptions) -> dict:
    """The cell options that shape its rows, each as the cell will see it (what the user
    did not pass is the cell's default, so `--repeats 2` and nothing are one key)."""
    values = {}
    for option in options.selected("both"):
        name = options.dest(option)
        if option.path or name in NOT_IN_KEY:
            continue  # user files go in by content ("user"), not by path
        value = getattr(args, name, None)
        if option.kind == "append":
            value = list(value or [])
        elif value is None or value is False:
            value = option.default
        values[name] = value
    return values


def user_digest(args: runoptions.RunOptions) -> str:
    """The content of the user's code and requirement files (not their paths): the
    --scenarios files, the files --call/--script/--dataset/--pairs/--pytest name, and
    every file of the user's they import (``harness.cell.codeid``: the closure the cells
    hash into ``code.sha256``), so editing a helper module reruns the cells."""
    try:
        scenario_files = [f for _, files in loader.user_files(args.scenarios or []) for f in files]
    except loader.UserCodeError as exc:
        scenario_files = [f"unreadable: {exc}"]
    named = runoptions.user_code_files(args) + runoptions.pytest_files(args)
    workdir = str(args.workdir)
    readable = [f for f in scenario_files + named + _module_files(args, workdir)
                if Path(f).is_file()]
    code = codeid.closure(readable, [workdir])
    contents = {
        "scenarios": sorted(loader.file_sha256(f) or f for f in scenario_files),
        "code": codeid.digest(code) if code else "",
        "missing": sorted(f for f in named if not Path(f).is_file()),
        "requirements": [loader.file_sha256(f) or f"missing {f}"
                         for f in (args.cell_requirements or [])],
    }
    return _digest(contents)


def _module_files(args: runoptions.RunOptions, workdir: str) -> list[str]:
    """The files of the modules --call/--dataset/--pairs name as ``package.module:NAME``
    that lie in the user's folder (an installed package's are not the user's code)."""
    files = []
    for text in [*(getattr(args, "call", None) or []), *(getattr(args, "dataset", None) or []),
                 *(getattr(args, "pairs", None) or [])]:
        target = text.rpartition(":")[0]
        if workdir and target and not target.endswith(".py") and "/" not in target:
            files += codeid._module_files(workdir, target)
    return files


def index_values(args: runoptions.RunOptions) -> dict:
    """The index options as given, plus the files of each local --find-links directory."""
    values = {name: list(getattr(args, name, None) or []) for name in INDEX_OPTIONS}
    listings = {}
    for link in values["find_links"]:
        if os.path.isdir(link):
            listings[link] = sorted(f"{p.name}:{p.stat().st_size}" for p in Path(link).iterdir()
                                    if p.is_file())
    values["listings"] = listings
    return values


@dataclasses.dataclass(frozen=True)
class ResultKey:
    parts: dict          # part name -> digest (harness: its version)
    platform: str        # the platform class the cell runs (ran) on

    @property
    def digest(self) -> str:
        return _digest(self.parts)

    def __str__(self) -> str:
        return f"{self.digest}@{self.platform}"

    def header(self) -> list[str]:
        """The freeze file's header lines (without the leading '# ')."""
        return [f"{KEY_LINE[2:]}{self.digest} platform={self.platform}",
                PARTS_LINE[2:] + " ".join(f"{p}={self.parts.get(p, '?')}" for p in PARTS)]

    def changed(self, other: "ResultKey") -> list[str]:
        """The parts that differ from ``other``'s, 'platform' last."""
        out = [p for p in PARTS if self.parts.get(p) != other.parts.get(p)]
        return out + (["platform"] if self.platform != other.platform else [])


def key_for(cell: compat.Cell, args: runoptions.RunOptions, platform: str | None = None,
            root: Path = ROOT) -> ResultKey:
    """The key of ``cell`` run with the options ``args`` (``runoptions.parse``: the same
    record the cell session runs with, user paths absolute)."""
    parts = {
        "pins": _digest([cell.python, *cell.requirements]),
        "options": _digest(option_values(args)),
        "code": code_digest(root),
        "user": user_digest(args),
        "index": _digest(index_values(args)),
        "harness": harness_version(root),
    }
    return ResultKey(parts, platform or platforms.this_class())


_KEY = re.compile(r"# rngdrift-key: (?P<digest>[0-9a-f]+) platform=(?P<platform>\S+)")


def read_key(freeze: Path) -> ResultKey | None:
    """The key a freeze file's header records, or None (no file, not a regular file
    within 4 MiB, an older rngdrift, or a header whose parts do not add up to its
    digest: hand-edited)."""
    try:
        return key_from_text(safefiles.read_capped(freeze, 4 << 20).decode("utf-8"))
    except (safefiles.Refused, UnicodeDecodeError):
        return None


def key_from_text(freeze: str) -> ResultKey | None:
    """The key a freeze file's text records (see ``read_key``)."""
    head = [line.rstrip("\r") for line in freeze.split("\n") if line.startswith("#")]
    found = next((m for m in map(_KEY.fullmatch, head) if m), None)
    parts_line = next((h for h in head if h.startswith(PARTS_LINE)), None)
    if found is None or parts_line is None:
        return None
    parts = dict(p.split("=", 1) for p in parts_line[len(PARTS_LINE):].split() if "=" in p)
    key = ResultKey(parts, found["platform"])
    return key if key.digest == found["digest"] else None
