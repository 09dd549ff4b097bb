"""Every upgrade between two cells of a run, as ``rngdrift report RUN --from A --to B``
answers it, in one compact JSON: what ``rngdrift explain`` reads, offline, without pandas
and without a cell.

    data(report, pages, run)    the JSON-ready dict
    write(path, data)           compact JSON, written atomically

For each pair of cells (older, newer) the answer is the report's own: ``upgrade.upgrade``
finds the findings and ``upgrade.render`` / ``markdown.finding_lines`` word them. Texts
are stored once (a string table) and findings once (a record table), so n cells give
n(n-1)/2 answers at the size of the distinct texts. The folded rows (unseeded noise,
availability, harness recipe) are kept as a count: ``rngdrift report`` lists them.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

from ..report import markdown, upgrade
from ..report import severity as sev
from ..runs import rundirs
from .apis import Pages

FORMAT = 1
DATA = Path(__file__).with_name("explain.json")


class Table:
    """Values stored once, referred to by index."""

    def __init__(self):
        self.items: list = []
        self.index: dict = {}

    def __call__(self, value) -> int:
        key = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value
        if key not in self.index:
            self.index[key] = len(self.items)
            self.items.append(value)
        return self.index[key]


def answer_parts(report, old: str, new: str):
    """(head, [(finding, its Markdown block)], folded row count) of one upgrade, exactly as
    ``rngdrift report --from old --to new`` prints them."""
    found = upgrade.upgrade(report.evidence, old, new)
    text = upgrade.render(report, found, old, new)
    # the verdict's findings, then the good news, numbered on: as the answer prints them
    shown = [f for f in found if sev.get(f.severity).actionable] + \
        [f for f in found if sev.get(f.severity).good]
    blocks = ["\n".join(markdown.finding_lines(report, f, n)) for n, f in enumerate(shown, 1)]
    if blocks:
        head = text[:text.index(blocks[0])]
    else:
        head = text.split("<details>")[0].split("Nothing changes")[0]
    folded = sum(len(f.transitions) for f in found if sev.get(f.severity).folded)
    return head, list(zip(shown, blocks)), folded


def data(report, pages: Pages, run: str, platform: str, dependent: set) -> dict:
    strings, records = Table(), Table()
    cells = report.cells
    versions = report.evidence.versions
    pairs = {}
    for i, old in enumerate(cells):
        for j in range(i + 1, len(cells)):
            head, shown, folded = answer_parts(report, old, cells[j])
            found = []
            for finding, block in shown:
                names = sorted(pages.of_finding(report.evidence, finding))
                platform_rows = sum((t.scenario, t.metric) in dependent
                                    for t in finding.transitions)
                found.append(records([finding.severity, strings(block),
                                      [strings(n) for n in names],
                                      finding.cause.id if finding.cause else "", platform_rows]))
            pairs[f"{i}-{j}"] = [strings(head), found, folded]
    return {
        "format": FORMAT, "run": run, "platform": platform,
        "made": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "cells": [[c, *(versions[c].get(k, "") for k in ("torch", "torchvision", "python"))]
                  for c in cells],
        "apis": {api.name: list(api.aliases) for api in pages.all()},
        "strings": strings.items, "findings": records.items, "pairs": pairs,
    }


def write(path: Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rundirs.write_files(path.parent, {path.name: json.dumps(payload, separators=(",", ":"),
                                                             ensure_ascii=False) + "\n"})
    return path
