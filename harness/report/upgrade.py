"""The upgrade question: "I'm on torch X; what changes if I move to Y?"

    rngdrift report RUN --from 1.10 --to 2.6          (two cells of one run)
    rngdrift compare BASE CAND --from CELL --to CELL  (a cell of each of two runs)

One diff from the first cell to the second, the steps in between collapsed; each
finding names the step where it first appeared (walking the run's cells in
between, where there are any).
"""
from __future__ import annotations

from types import SimpleNamespace

from ..matrix import compat
from ..errors import UserError
from . import findings, markdown
from .evidence import Evidence
from ..results.frames import Loaded, Tolerance, expand
from ..results.resultfiles import Table


def resolve(spec: str, cells: list[str], versions: dict[str, dict[str, str]], option: str) -> str:
    """A cell from a cell id, a torch version (``1.10``, ``torch1.10``) or a torchvision
    version (``0.11``, ``tv0.11``); the newest cell where several match."""
    if spec in cells:
        return spec
    wanted = spec.strip().lower()
    fields = ("torch", "torchvision")
    for prefix, field in (("torchvision", "torchvision"), ("tv", "torchvision"), ("torch", "torch")):
        if wanted.startswith(prefix):
            wanted, fields = wanted[len(prefix):].lstrip("=-"), (field,)
            break
    for field in fields:
        hits = [c for c in cells if versions[c].get(field) == wanted
                or versions[c].get(field, "").startswith(wanted + ".")]
        if hits:
            return hits[-1]
    known = ", ".join(f"torch {versions[c]['torch']}" for c in cells)
    raise UserError(f"{option} {spec}: no cell of this run has that torch or torchvision version "
                    f"(it has {known})")


def upgrade(evidence: Evidence, old: str, new: str) -> list[findings.Finding]:
    """Findings from cell ``old`` to cell ``new``, each at the step it first shows and
    explained with that step's versions and draws."""
    cells = evidence.cells
    between = cells[cells.index(old) + 1:cells.index(new) + 1] if old in cells and new in cells \
        and cells.index(old) < cells.index(new) else [new]

    def first_cell(key):
        return next((c for c in between
                     if findings.classify(evidence, key, old, c) is not None), new)
    return findings.findings(evidence, findings.transitions(evidence, old, new, first_cell))


def render(report_like, found: list[findings.Finding], old: str, new: str) -> str:
    """The answer as Markdown (``report_like``: a ``Report``, or anything with
    ``evidence`` and ``run_path``)."""
    return markdown.render_upgrade(report_like, found, old, new)


def two_runs(base: Loaded, old: str, cand: Loaded, new: str, tol: Tolerance):
    """An evidence of one cell of each run (the candidate's renamed when the ids clash)."""
    left = [(r, v) for r, v in zip(base.rows, base.table.values) if r.cell == old]
    right = [(r, v) for r, v in zip(cand.rows, cand.table.values) if r.cell == new]
    if not left or not right:
        raise UserError(f"--from {old} / --to {new}: not a cell of the baseline / candidate")
    if old == new:
        new = f"{new} (candidate)"
        right = [(r._replace(cell=new), v) for r, v in right]
    rows = left + right
    table = Table.of_rows(cand.source, [r for r, _ in rows], [v for _, v in rows], [0] * len(rows))
    loaded = Loaded(table, cand.source)
    cells = [old, new] if compat.parse_id(new) is None or old == new \
        else compat.order([old, new])
    evidence = Evidence.of(loaded, expand(loaded, tol), cells, tol)
    return SimpleNamespace(evidence=evidence, run_path=cand.source, cells=cells), old, new
