"""Reuse a previous run's cells whose result key did not change (as asv skips a
benchmark it already ran).

    decide(cell, key, previous)     Decision: reuse (from where) or run (and why)
    plan(cells, args, previous)     a Decision per cell, for --plan and the CI job list
    adopt(decision, run_path)       copy the cell's CSV, freeze file and log into a run
    plan_of(run_path)               what each cell's freeze header says: ran or reused

A reused cell is never silent: its rows keep the run id of the run that measured them
(so every table and ``compare`` name that run), and its freeze file says

    # rngdrift-plan: {"action": "reuse", "previous": "/…/results/nightly-41", "reason": "key … unchanged"}

A cell that ran says why (``"action": "run", "reason": "new cell: not in nightly-41"``).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

from ..cell.environment import CSV_SHA_LINE
from ..cell.safetext import visible
from ..errors import UserError
from ..matrix import compat
from . import resultkey, rundirs, safefiles
from .resultkey import ResultKey
from ..text import code, text


PLAN_LINE = "# rngdrift-plan: "
# What a previous run's files may weigh to be reused (a cell CSV is a few MB; a log is
# capped at 10 MB per child) and what a freeze file may (a few KB).
CSV_CAP, LOG_CAP, FREEZE_CAP = 256 << 20, 256 << 20, 4 << 20
PART_NAMES = {"pins": "pins", "options": "options", "code": "harness/scenario code",
              "user": "your scenario or requirement files", "index": "indexes",
              "harness": "rngdrift version"}


@dataclasses.dataclass(frozen=True)
class Decision:
    cell: str
    action: str                 # "reuse" or "run"
    reason: str
    key: ResultKey
    previous: Path | None = None  # the run a reused cell comes from (or was looked up in)

    @property
    def reused(self) -> bool:
        return self.action == "reuse"

    def line(self) -> str:
        """One line for people: 'reuse from nightly-41 (key … unchanged)', 'run: pins changed'."""
        if self.reused:
            return f"reuse from {self.previous.name} ({self.reason})"
        return f"run: {self.reason}"

    def note(self) -> str:
        """The freeze header line (without '# ') that records this decision."""
        record = {"action": self.action, "reason": self.reason,
                  "previous": str(self.previous) if self.previous else ""}
        return PLAN_LINE[2:] + json.dumps(record, sort_keys=True)

    def to_json(self) -> dict:
        return {"cell": self.cell, "action": self.action, "reason": self.reason,
                "key": self.key.digest, "platform": self.key.platform,
                "previous": str(self.previous) if self.previous else ""}


def freeze_path(run_path: Path, cell_id: str) -> Path:
    return run_path / "cells" / f"{cell_id}.freeze.txt"


def _pair(cell_id: str) -> tuple | None:
    cell = compat.parse_id(cell_id)
    return (cell.torch, cell.torchvision) if cell else None


def decide(cell: compat.Cell, key: ResultKey, previous: Path | None, rerun_all: bool = False,
           across_platforms: bool = False) -> Decision:
    """Reuse ``previous``'s result of ``cell`` when it is complete and its recorded key
    equals ``key`` (the CPU class too, unless ``across_platforms``); else say why not."""
    def run(reason: str) -> Decision:
        return Decision(cell.id, "run", reason, key, previous)
    if previous is None:
        return run("no previous run given (--reuse-from)")
    if rerun_all:
        return run("--rerun all")
    csv_path = rundirs.cell_csv(previous, cell.id)
    if not os.path.lexists(csv_path):
        cells = {p.name[:-len(".csv")] for p in (previous / "cells").glob("*.csv")}
        if _pair(cell.id) not in {_pair(c) for c in cells}:
            return run(f"new cell: not in {previous.name}")
        return run(f"not in {previous.name} (another Python or pins for this pair there)")
    try:  # before anything reads them: a FIFO waits forever, /dev/zero never ends
        freeze, data = _checked_files(previous, cell.id)
    except safefiles.Refused as exc:
        return run(f"{visible(str(exc))}; not copied")
    if not rundirs.cell_is_complete(csv_path, cell.id):
        return run(f"{previous.name} has no whole result of it (failed, cut or interrupted)")
    old = resultkey.key_from_text(freeze)
    if old is None:
        return run(f"{previous.name} recorded no result key for it (older rngdrift, or "
                   "a hand-edited freeze file)")
    changed = key.changed(old)
    if across_platforms and changed == ["platform"]:
        return Decision(cell.id, "reuse", f"key {key.digest} unchanged; made on "
                        f"{old.platform}, this machine is {key.platform} "
                        "(--reuse-across-platforms)", key, previous)
    if "platform" in changed:
        changed[changed.index("platform")] = f"CPU class ({old.platform} -> {key.platform})"
    if changed:
        return run(", ".join(PART_NAMES.get(p, p) for p in changed) + " changed")
    problem = content_problem(cell, freeze, data)
    if problem:
        return run(f"{previous.name}: {problem}")
    return Decision(cell.id, "reuse", f"key {key.digest} unchanged", key, previous)


def _checked_files(previous: Path, cell_id: str) -> tuple[str, bytes]:
    """(freeze text, CSV bytes) of a previous cell, read only as regular files (no link,
    FIFO or device) within their caps, its log checked the same way; Refused says why."""
    freeze = safefiles.read_capped(freeze_path(previous, cell_id), FREEZE_CAP)
    data = safefiles.read_capped(rundirs.cell_csv(previous, cell_id), CSV_CAP)
    log = previous / "cells" / f"{cell_id}.log"
    if os.path.lexists(log):
        safefiles.check(log, LOG_CAP)
    try:
        return freeze.decode("utf-8"), data
    except UnicodeDecodeError:
        raise safefiles.Refused(f"{freeze_path(previous, cell_id)} is not UTF-8 text") from None


def content_problem(cell: compat.Cell, freeze: str, data: bytes) -> str | None:
    """Why a previous cell's CSV cannot stand in for its key, or None: it is not the
    CSV its run wrote (no or another checksum in the freeze file) or its rows are not
    of this cell's pins."""
    recorded = next((line[len(CSV_SHA_LINE):].strip() for line in freeze.splitlines()
                     if line.startswith(CSV_SHA_LINE)), None)
    if recorded is None:
        return "its freeze file records no checksum of the CSV (an older rngdrift)"
    if hashlib.sha256(data).hexdigest() != recorded:
        return "its CSV is not the one its run wrote (hand-edited or damaged)"
    expected = {"cell": cell.id, "torch": cell.torch, "torchvision": cell.torchvision,
                "numpy": cell.numpy, "pillow": cell.pillow}
    rows = csv.DictReader(io.StringIO(data.decode("utf-8")))
    for number, row in enumerate(rows, start=2):
        for column, value in expected.items():
            if row.get(column) != value:
                return (f"line {number} of its CSV says {column} {visible(str(row.get(column)))!r}"
                        f", not {value!r}")
        if row.get("python", "").split(".")[:2] != cell.python.split("."):
            return f"line {number} of its CSV says python {visible(row.get('python', ''))!r}"
    return None


def plan(cells: list[compat.Cell], args: argparse.Namespace,
         platform: str | None = None) -> list[Decision]:
    """A decision per cell for the host options ``args`` (``harness.runoptions``)."""
    previous = rundirs.resolve(args.reuse_from) if getattr(args, "reuse_from", None) else None
    return [decide(cell, resultkey.key_for(cell, args, platform), previous,
                   args.rerun == "all", args.reuse_across_platforms) for cell in cells]


def _write(target: Path, text: str) -> None:
    """``text`` to ``target`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".tmp-", dir=target.parent)
    try:
        with open(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def adopt(decision: Decision, run_path: Path) -> Path:
    """Copy a reused cell's log, freeze file (its plan line replaced by this decision's)
    and CSV, in that order, into ``run_path``; returns the CSV. The CSV comes last, so a
    cell is either wholly there or not at all. Only regular files within their caps are
    copied, and only the CSV bytes its freeze file's checksum names; else a UserError."""
    assert decision.reused and decision.previous is not None
    cells = run_path / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    source = decision.previous / "cells"
    log = source / f"{decision.cell}.log"
    try:
        freeze, data = _checked_files(decision.previous, decision.cell)
        problem = content_problem(compat.parse_id(decision.cell), freeze, data)
        if problem:
            raise safefiles.Refused(problem)
        if os.path.lexists(log):
            safefiles.copy_capped(log, cells / log.name, LOG_CAP)
        kept = [line for line in freeze.splitlines() if not line.startswith(PLAN_LINE)]
        at = next((i + 1 for i, line in enumerate(kept)
                   if line.startswith(resultkey.PARTS_LINE)), 0)
        kept.insert(at, "# " + decision.note())
        _write(freeze_path(run_path, decision.cell), "\n".join(kept) + "\n")
        target = rundirs.cell_csv(run_path, decision.cell)
        recorded = next(line[len(CSV_SHA_LINE):].strip() for line in freeze.splitlines()
                        if line.startswith(CSV_SHA_LINE))
        safefiles.copy_capped(rundirs.cell_csv(decision.previous, decision.cell), target,
                              CSV_CAP, expect_sha=recorded)
    except safefiles.Refused as exc:
        raise UserError(f"{decision.cell}: not reused from {decision.previous.name}: "
                        f"{visible(str(exc))}; run it again (--rerun all)") from None
    return target


def record_reason(run_path: Path, record: dict) -> bool:
    """Put a plan ``record`` (what ``Decision.to_json`` gives) into the freeze file of a
    cell that ran, in place of the plan line it has (a CI cell job knows no previous run;
    the job that planned it does). False when the cell sent no freeze file."""
    freeze = freeze_path(run_path, record["cell"])
    try:
        text = safefiles.read_capped(freeze, FREEZE_CAP).decode("utf-8")
    except (safefiles.Refused, UnicodeDecodeError):
        return False
    line = PLAN_LINE + json.dumps({k: record.get(k, "") for k in ("action", "reason", "previous")},
                                  sort_keys=True)
    lines = [x for x in text.splitlines() if not x.startswith(PLAN_LINE)]
    at = next((i + 1 for i, x in enumerate(lines) if x.startswith(resultkey.PARTS_LINE)), 0)
    lines.insert(at, line)
    _write(freeze, "\n".join(lines) + "\n")
    return True


def plan_of(run_path: Path) -> dict[str, dict]:
    """{cell: the plan record its freeze file holds} for the cells of a run that have one."""
    out = {}
    for freeze in sorted((Path(run_path) / "cells").glob("*.freeze.txt")):
        try:
            lines = safefiles.read_capped(freeze, FREEZE_CAP).decode("utf-8").splitlines()
        except (safefiles.Refused, UnicodeDecodeError):
            continue
        for line in lines:
            if line.startswith(PLAN_LINE):
                try:
                    out[freeze.name[:-len(".freeze.txt")]] = json.loads(line[len(PLAN_LINE):])
                except ValueError:
                    pass
                break
    return out


def previous_run(run_path: Path) -> Path | None:
    """The previous run a run's plan names (where its reused cells came from), if it is
    still there."""
    for record in plan_of(run_path).values():
        previous = Path(record.get("previous") or "")
        if record.get("previous") and previous.is_dir():
            return previous
    return None


def describe(run_path: Path) -> list[str]:
    """Markdown sentences for a report or compare: which cells of a run were reused
    from which run (their key unchanged) and why the others ran."""
    records = plan_of(run_path)
    reused: dict[str, list[str]] = {}
    for cell, record in records.items():
        if record.get("action") == "reuse":
            reused.setdefault(Path(record.get("previous") or "?").name, []).append(cell)
    if not reused:
        return []
    ran = [f"{code(c)} ({text(r.get('reason', '?'))})" for c, r in records.items()
           if r.get("action") == "run"]
    return ["Reused, not run again (result key unchanged): "
            + "; ".join(f"{len(cells)} cell(s) from {code(name)}" for name, cells in reused.items())
            + (f". Ran: {', '.join(ran)}." if ran else ". Nothing ran.")]


def table(decisions: list[Decision]) -> str:
    """The plan for a terminal: one line per cell, then the count."""
    width = max((len(d.cell) for d in decisions), default=0)
    lines = [f"{d.cell:<{width}}  {d.line()}" for d in decisions]
    reused = sum(d.reused for d in decisions)
    lines.append(f"{reused} of {len(decisions)} cells reused, {len(decisions) - reused} to run")
    return "\n".join(lines)


# -- rngdrift plan [--cells SET] [the options after nox -s matrix --] ---------------------
