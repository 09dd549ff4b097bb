"""The steps of ``rngdrift check``, each a plain function (the command strings them):

    sides   = [specs.read(...), specs.read(...)]           what each side declares
    chosen  = resolve_both(sides, extra, index, cache)      one Python, exact pins for each
    ids     = cell_ids(chosen)                              the two cells' names
    python  = build.install(...)                            each environment
    run_cell(python, cell id, options, run dir, root)       the team's code in it
    header(sides, chosen, ids)                              what was compared, for check.md

A side that cannot be resolved is a UserError naming it and uv's reason in one line.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ..errors import UserError
from ..runs import runoptions
from ..runs.cellsession import pytest_requirement
from ..text import code, text
from . import build, pythons
from .specs import Side

CELL_MODULE = "_rngdrift.harness.cell"
SHOWN_PINS = ("torch", "torchvision", "numpy", "pillow")


def resolve_both(sides: list[Side], extra, index: list[str], cache: Path,
                 refresh: bool = False) -> list[build.Resolved]:
    """Both sides resolved on one Python: the newest installed one that torch and
    torchvision have wheels for on both sides (``pythons``) and on which both resolve.
    ``extra(xy)``: what the check adds on that Python (pytest)."""
    wanted = pythons.candidates([list(s.declared.requirements) for s in sides])
    if not wanted:
        raise UserError(f"{sides[0]} and {sides[1]}: no Python has wheels of both sides' torch "
                        "and torchvision (see the lock's Pythons per release)")
    found = pythons.installed(wanted) or list(filter(None, [pythons.download(wanted[0])]))
    if not found:
        raise UserError(f"no Python that both sides' torch and torchvision have wheels for "
                        f"is installed ({', '.join(wanted)}), and uv could not download "
                        f"{wanted[0]}: install it (`uv python install {wanted[0]}`)")
    first_problem = None
    for xy, interpreter in found:
        results = [build.resolve(s.declared, extra(xy, s), index=index, cache=cache,
                                 python=(xy, interpreter), refresh=refresh) for s in sides]
        problems = [(s, r) for s, r in zip(sides, results) if isinstance(r, str)]
        if not problems:
            for side, resolved in zip(sides, results):
                if resolved.version("torchvision") is None:  # the cell side imports it
                    raise UserError(f"{side} ({side.what}) has no torchvision; rngdrift's cells "
                                    "need it: name the torchvision that goes with its torch")
            return results
        first_problem = first_problem or (xy, problems[0])
    xy, (side, reason) = first_problem
    others = [x for x in dict.fromkeys(x for x, _ in found) if x != xy]  # each Python once
    nor = f" (nor {', '.join(others)})" if others else ""
    raise UserError(f"{side} ({side.what}) cannot be resolved on Python {xy}{nor}: {reason}")


def extra_requirements(opts: runoptions.RunOptions):
    """What the check adds to a side on Python X.Y: pytest for --pytest, unless the side
    declares it (then the team's pytest runs their tests)."""
    def extra(xy: str, side: Side) -> list[str]:
        if opts.pytest and "pytest" not in side.declared.names():
            return [pytest_requirement(xy)]
        return []
    return extra


def cell_ids(chosen: list[build.Resolved]) -> list[str]:
    """``py3.8-torch1.5.0-tv0.6.0`` for each side (what the report orders and names cells
    by); when both are alike (a NumPy or Pillow bump), the second names what differs."""
    ids = []
    for resolved in chosen:
        torch = resolved.version("torch") or "none"
        tv = resolved.version("torchvision") or "none"
        ids.append(re.sub(r"[^\w.+-]", "_", f"py{resolved.python}-torch{torch}-tv{tv}"))
    if ids[0] == ids[1]:
        changed = [f"{name}{version}" for name, version in _pin_map(chosen[1]).items()
                   if _pin_map(chosen[0]).get(name) != version]
        ids[1] += "+" + re.sub(r"[^\w.]", "_", changed[0] if changed else "to")
    return ids


def _pin_map(resolved: build.Resolved) -> dict[str, str]:
    out = {}
    for line in resolved.pins:
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match:
            out[match[1].lower().replace("_", "-")] = match[2]
    return out


def pin_changes(chosen: list[build.Resolved]) -> tuple[list[str], list[str]]:
    """(what moved: 'torch 1.5.0 → 1.6.0', 'scipy added 1.7.0', ...; what stayed among
    torch, torchvision, NumPy and Pillow: 'numpy 1.24.4')."""
    before, after = _pin_map(chosen[0]), _pin_map(chosen[1])
    moved, kept = [], []
    for name in sorted(set(before) | set(after), key=lambda n: (n not in SHOWN_PINS, n)):
        old, new = before.get(name), after.get(name)
        if old == new:
            kept += [f"{name} {old}"] if name in SHOWN_PINS else []
        elif old is None:
            moved.append(f"{name} {new} (added)")
        elif new is None:
            moved.append(f"{name} {old} (removed)")
        else:
            moved.append(f"{name} {old} → {new}")
    return moved, kept


def header(sides: list[Side], chosen: list[build.Resolved], ids: list[str]) -> list[str]:
    """check.md's first lines: what was compared, in the words of the two SPECs."""
    moved, kept = pin_changes(chosen)
    lines = [f"# rngdrift check: {code(sides[0].spec)} → {code(sides[1].spec)}", "",
             f"- From: {text(sides[0].what)}, cell {code(ids[0])}",
             f"- To: {text(sides[1].what)}, cell {code(ids[1])}",
             f"- Python {chosen[0].python} on both sides; what changed: "
             f"{', '.join(moved) or 'nothing'}" + (f"; the same: {', '.join(kept)}" if kept else ""),
             ""]
    return lines


def run_cell(python: Path, cell_id: str, opts: runoptions.RunOptions, run_path: Path,
             import_root: Path, notes: list[str]) -> None:
    """The team's code (and the scenarios asked for) in one environment: the cell side,
    started in its import root (only rngdrift's two names importable from there), with
    the team's folder first on sys.path for the team's code. Its progress goes to
    stderr; a cell that stops is a UserError with its own last line."""
    out = run_path / "cells" / f"{cell_id}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [str(python), "-m", CELL_MODULE, "--out", str(out), "--cell", cell_id,
               "--run-id", opts.run_id, *opts.cell_argv(),
               *[a for note in notes for a in ("--freeze-note", note)]]
    env = dict(os.environ, PYTHONPATH=str(import_root))
    with subprocess.Popen(command, cwd=import_root, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            sys.stderr.write(line)
            sys.stderr.flush()
        errors = proc.stderr.read()
    if proc.returncode != 0:
        said = [l.removeprefix("rngdrift: ") for l in errors.splitlines() if l.strip()]
        raise UserError(f"{cell_id}: {said[-1] if said else f'exited with {proc.returncode}'}")
