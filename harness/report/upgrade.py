"""The upgrade question: "I'm on torch X; what changes if I move to Y?"

    rngdrift report RUN --from 1.10 --to 2.6          (two cells of one run)
    rngdrift compare BASE CAND --from CELL --to CELL  (a cell of each of two runs)

One diff from the first cell to the second, the steps in between collapsed; each
finding names the step where it first appeared (walking the run's cells in
between, where there are any).
"""
from __future__ import annotations

import pandas as pd

from ..matrix import compat
from ..errors import UserError
from . import findings, markdown
from .evidence import Evidence
from .words import verdict, where
from ..results.frames import Tolerance, expand
from ..text import code, table


def resolve(spec: str, cells: list[str], versions: dict[str, dict[str, str]], option: str) -> str:
    """A cell from a cell id, a torch version (``1.10``, ``torch1.10``) or a torchvision
    version (``0.11``, ``tv0.11``); the newest cell where several match."""
    if spec in cells:
        return spec
    text = spec.strip().lower()
    fields = ("torch", "torchvision")
    for prefix, field in (("torchvision", "torchvision"), ("tv", "torchvision"), ("torch", "torch")):
        if text.startswith(prefix):
            text, fields = text[len(prefix):].lstrip("=-"), (field,)
            break
    for field in fields:
        hits = [c for c in cells if versions[c].get(field) == text
                or versions[c].get(field, "").startswith(text + ".")]
        if hits:
            return hits[-1]
    known = ", ".join(f"torch {versions[c]['torch']}" for c in cells)
    raise UserError(f"{option} {spec}: no cell of this run has that torch or torchvision version "
                    f"(it has {known})")


def upgrade(evidence: Evidence, old: str, new: str) -> list[findings.Finding]:
    """Findings from cell ``old`` to cell ``new``, each at the step it first shows."""
    cells = evidence.cells
    between = cells[cells.index(old) + 1:cells.index(new) + 1] if old in cells and new in cells \
        and cells.index(old) < cells.index(new) else [new]

    def first_cell(key):
        return next((c for c in between
                     if findings.classify(evidence, key, old, c) is not None), new)
    return findings.findings(evidence, findings.transitions(evidence, old, new, first_cell))


def render(report_like, found: list[findings.Finding], old: str, new: str) -> str:
    """The answer as Markdown (``report_like``: anything with ``evidence`` and ``run_id``)."""
    versions = report_like.evidence.versions
    lines = [f"# Upgrading from {where(versions, old)} to {where(versions, new)}", "",
             f"From {code(old)} to {code(new)}; each finding at the step where it first appears.",
             "", f"**{verdict(found, 1).replace(' across 1 upgrade step', '')}**", ""]
    shown = [f for f in found if f.severity in findings.ACTIONABLE]
    for number, finding in enumerate(shown, 1):
        lines += markdown.finding_lines(report_like, finding, number)
    rest = [f for f in found if f.severity not in findings.ACTIONABLE]
    if rest:
        rows = [[f.severity, code(f.first_seen), markdown._cell(t.scenario + " " + t.metric
                                                                + " under " + t.seeding)]
                for f in rest for t in f.transitions]
        lines += ["<details><summary>Also changed (good news, noise, availability): "
                  f"{len(rows)} rows</summary>", ""] + table(["severity", "first cell", "row"], rows) \
            + ["", "</details>", ""]
    if not found:
        lines.append("Nothing changes between these two cells.")
    return "\n".join(lines).rstrip() + "\n"


def two_runs(base: pd.DataFrame, old: str, cand: pd.DataFrame, new: str, tol: Tolerance):
    """An evidence of one cell of each run (the candidate's renamed when the ids clash)."""
    left = base[base["cell"] == old]
    right = cand[cand["cell"] == new]
    if left.empty or right.empty:
        raise UserError(f"--from {old} / --to {new}: not a cell of the baseline / candidate")
    if old == new:
        new = f"{new} (candidate)"
        right = right.assign(cell=new)
    frame = pd.concat([left, right], ignore_index=True)
    cells = [old, new] if compat.parse_id(new) is None or old == new \
        else compat.order([old, new])
    return Evidence.of(frame, expand(frame, tol), cells, tol), old, new
