"""``rngdrift check --blame``: the environments of a blame, built and run.

    rows, noise = changed_rows(run_path, ids)      what moved between the check's two cells
    probes = Probes(...)                           observe(changes): build, run, read one env
    releases = Releases(python, index)             a group's releases between its two ends

The pure logic (what to build, in which order, the bisection) is ``harness.envs.blame``;
what is said and written is ``harness.envs.blametext``.
"""
from __future__ import annotations

import dataclasses
import re
import sys
import time
from pathlib import Path

from ..cell import options, schema
from ..errors import UserError
from ..matrix import compat, index as pyindex
from ..matrix.envs import releases_between
from ..matrix.index import vkey
from ..results import frames
from ..results.changes import deltas, unseeded
from ..results.frames import (Observation, Tolerance, absent_means_zero, expand,
                              generators_drawn)
from ..results.resultfiles import read_cell
from ..runs import runoptions
from . import blame, build, checkrun
from .declared import Declared, canonical

PYPI = "https://pypi.org/simple/"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def pin_map(resolved: build.Resolved) -> dict[str, str]:
    out = {}
    for line in resolved.pins:
        match = _PIN.match(line)
        if match:
            out[canonical(match[1])] = match[2]
    return out


def changed_rows(run_path: Path, ids: list[str], tol: Tolerance = Tolerance()):
    """({(scenario, seeding, metric): (kind, before, after)} for every row that moved
    between the check's two cells, the number of rows left out because the scenario
    draws from a generator its mode leaves unseeded on both sides: chance, not a bump)."""
    loaded = frames.load_run(run_path)
    observed: dict = {}
    kinds: dict = {}
    for (cell, *key), (kind, seen) in expand(loaded, tol).items():
        observed.setdefault(tuple(key), {})[cell] = seen
        kinds[tuple(key)] = kind
    drawn = generators_drawn(loaded)
    rows, noise = {}, 0
    for delta in deltas(observed, kinds, ids[0], ids[1], tol):
        if all(unseeded(drawn, cell, delta.scenario, delta.seeding) for cell in ids):
            noise += 1
            continue
        rows[delta.key] = (delta.kind, delta.before, delta.after)
    return rows, noise


def _glob(name: str) -> str:
    """A scenario name as an --only glob that matches only it."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def narrowed(opts: runoptions.RunOptions, rows: dict, run_id: str) -> runoptions.RunOptions:
    """The check's options, running only the scenarios and seeding modes of ``rows``."""
    scenarios = sorted({k[0] for k in rows})
    seedings = [m for m in schema.MODES if m in {k[1] for k in rows}]
    return dataclasses.replace(opts, only=tuple(_glob(s) for s in scenarios),
                               seeding=",".join(seedings), run_id=run_id)


@dataclasses.dataclass
class Cost:
    built: int = 0          # environments installed and run
    refused: int = 0        # resolutions uv refused
    runs: int = 0           # scenario runs (scenario x seeding mode x repeat)
    started: float = dataclasses.field(default_factory=time.perf_counter)
    wall_s: float = 0.0

    def stop(self) -> "Cost":
        self.wall_s = time.perf_counter() - self.started
        return self


class Probes:
    """``observe(changes)``: the old side's pins with ``changes`` applied (the packages
    nobody declares left to uv), resolved, installed, the narrowed cell run in it, its
    rows read back; uv's reason (one line) when it cannot be resolved or installed."""

    def __init__(self, old: build.Resolved, followers: list[str], opts, run_path: Path,
                 import_root: Path, cache: Path, index: list[str], rows: dict,
                 tol: Tolerance = Tolerance()):
        self.old, self.followers, self.opts = old, set(followers), opts
        self.out, self.root, self.cache, self.index = run_path / "blame", import_root, cache, index
        self.tol, self.cost, self.rows = tol, Cost(), rows
        self.per_env = len({k[0] for k in rows}) * len((opts.seeding or "").split(",")) * (
            opts.repeats or options.DEFAULT_REPEATS)
        self.log: list[dict] = []

    def requirements(self, changes: dict) -> list[str]:
        lines, seen = [], set()
        for line in self.old.pins:
            match = _PIN.match(line)
            name = canonical(match[1]) if match else None
            seen.add(name)
            if name in changes:
                if changes[name] is not None:
                    lines.append(f"{name}=={changes[name]}")
            elif name not in self.followers:
                lines.append(line)
        return lines + [f"{n}=={v}" for n, v in changes.items() if n not in seen and v]

    def cell_id(self, resolved: build.Resolved, changes: dict) -> str:
        """The matrix's name for it: 'py3.8-torch1.5.0-tv0.6.0-pillow9.0.0' (the moved
        packages other than torch and torchvision named)."""
        pins = pin_map(resolved)
        named = tuple((n, v) for n, v in sorted(changes.items())
                      if n not in ("torch", "torchvision") and v)
        try:
            return compat.Cell(resolved.python, pins["torch"], pins["torchvision"],
                               pins=named).id
        except (KeyError, ValueError):
            extra = "".join(f"-{n}{v}" for n, v in named)
            return re.sub(r"[^\w.+-]", "_", f"py{resolved.python}-torch{pins.get('torch')}"
                                           f"-tv{pins.get('torchvision')}{extra}")

    def __call__(self, changes: dict):
        what = ", ".join(f"{blame.display(n)} {v}" for n, v in sorted(changes.items()))
        python = (self.old.python, self.old.interpreter)
        resolved = build.resolve(Declared(tuple(self.requirements(changes))), [], python,
                                 self.index, self.cache)
        if isinstance(resolved, str):
            self.cost.refused += 1
            self.log.append({"changes": changes, "installable": False, "reason": resolved})
            print(f"rngdrift check --blame: {what}: not installable: {resolved}",
                  file=sys.stderr, flush=True)
            return resolved
        cell_id = self.cell_id(resolved, changes)
        print(f"rngdrift check --blame: {what} -> {cell_id}", file=sys.stderr, flush=True)
        try:
            exe = build.install(resolved, self.cache, self.index, f"--blame {what}")
            checkrun.run_cell(exe, cell_id, self.opts, self.out, self.root,
                              [f"rngdrift check --blame: {what}"])
        except UserError as exc:  # uv could not install it, or the cell did not run in it
            self.cost.refused += 1
            self.log.append({"changes": changes, "installable": False, "reason": str(exc)})
            return str(exc)
        self.cost.built += 1
        self.cost.runs += self.per_env
        self.log.append({"changes": changes, "installable": True, "cell": cell_id})
        path = self.out / "cells" / f"{cell_id}.csv"
        loaded = frames.Loaded(read_cell(path), path)
        return fill({tuple(key): value for (_, *key), value in expand(loaded, self.tol).items()},
                    self.rows)


def fill(probe: dict, rows: dict) -> dict:
    """``probe`` with the changed rows it does not name filled in as ``expand`` fills a
    run's grid: a scenario run that ran reports an attribution count only when it is not
    zero (0 then), any other metric it did not report is n/a; a run that failed gives
    every row its state."""
    runs: dict = {}
    for (scenario, seeding, _), (_, seen) in probe.items():
        runs.setdefault((scenario, seeding), seen)
    out = dict(probe)
    for key, (kind, _, _) in rows.items():
        ran = runs.get(key[:2])
        if key in out or ran is None:
            continue
        if ran.failed:
            out[key] = (kind, Observation(ran.state, (), ran.detail, ran.repeats))
        elif absent_means_zero(key[2]):
            out[key] = (kind, Observation(schema.OK, (0,), "", ran.repeats))
        else:
            out[key] = (kind, Observation(schema.NA, (), "metric not reported", ran.repeats))
    return out


class Releases:
    """``releases(group)``: the positions strictly between a group's ends that have
    wheels for the check's Python: torch/torchvision pairs from the lock; any other
    package's releases from the index (its simple API), read once."""

    def __init__(self, python: str, index_url: str = PYPI, fetch=pyindex.http_fetch,
                 lock: dict | None = None):
        self.python, self.index_url, self.fetch = python, index_url, fetch
        self.lock = compat.LOCK if lock is None else lock

    def __call__(self, group: blame.Group) -> list[dict]:
        old, new = group.ends()
        if "torchvision" in group.names:
            return self.pairs(old, new)
        name = group.names[0]
        if not old.get(name) or not new.get(name):
            return []
        return [{name: v} for v in releases_between(self.versions(name), old[name], new[name])]

    def pairs(self, old: dict, new: dict) -> list[dict]:
        wheels = {r["version"]: set(r.get("pythons", [])) for r in self.lock.get("torch", [])}
        low, high = sorted((old, new), key=lambda p: vkey(p.get("torchvision") or "0"))
        found = {}
        if not all(p.get(k) for p in (low, high) for k in ("torch", "torchvision")):
            return []
        for cell in self.lock.get("cells", []):
            torch, tv = cell["torch"], cell["torchvision"]
            if (vkey(low["torchvision"]) < vkey(tv) < vkey(high["torchvision"])
                    and vkey(low["torch"]) <= vkey(torch) <= vkey(high["torch"])
                    and self.python in wheels.get(torch, {self.python})):
                found[(vkey(tv), vkey(torch))] = {"torch": torch, "torchvision": tv}
        return [found[k] for k in sorted(found)]

    def versions(self, name: str) -> list[str]:
        files = pyindex.read_project(self.index_url, name, self.fetch)
        return [version for version, wheels in files.items() if any(
            (pyindex.linux_x86_64(f.wheel) or "any" in f.wheel.platforms)
            and self.python in pyindex.wheel_pythons(f.wheel, f.requires_python, [self.python])
            for f in wheels)]


def index_url(opts) -> str:
    return (opts.index_url or (PYPI,))[0]


def row_text(kind: str, seen) -> str:
    """An observation as blame.csv writes it: the value, or the state."""
    if seen.state != schema.OK:
        return seen.state or "not measured"
    if len(seen.values) != 1:
        return f"{len(seen.values)} values over the repeats"
    return frames.text(kind, seen.values[0])
