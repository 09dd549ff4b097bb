"""Findings in words: the sentences every renderer prints, so report.md, report.html,
findings.csv and findings.json say the same thing. Inline code is marked with
backticks; the Markdown renderer keeps them, the HTML renderer turns them into <code>.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from ..cell import modes
from ..cell.schema import OK, PYTEST_PREFIX, TEST_FAILURE_METRIC
from ..results.frames import Observation
from . import severity as sev
from .evidence import VERSION_FIELDS
from .model import NOT_PACKAGES
from .findings import Finding, Transition
from .model import STATE_LABEL, short_value, step_versions  # noqa: F401 (re-exported)

MAX_ROWS_IN_SUMMARY = 3


def version_step(versions: dict[str, dict[str, str]], before: str, after: str) -> str:
    """'torchvision 0.6.0 → 0.7.0, torch 1.5.0 → 1.6.0' (what moved between two cells)."""
    b, a = versions[before], versions[after]
    others = sorted((set(b) | set(a)) - set(VERSION_FIELDS) - set(NOT_PACKAGES))  # pins a cell id names
    moved = [f"{name} {b.get(name) or '(none)'} → {a.get(name) or '(none)'}"
             for name in (*VERSION_FIELDS, *others) if not _same_release(b.get(name), a.get(name))]
    return ", ".join(moved) or "same versions"


def _same_release(old: str | None, new: str | None) -> bool:
    """'3.8' and '3.8.18' are one Python: a cell that failed to install knows only the X.Y
    its id names."""
    if not old or not new:
        return old == new
    shorter, longer = sorted((old.split("."), new.split(".")), key=len)
    return longer[:len(shorter)] == shorter


def moving_pins(versions: dict[str, dict[str, str]], cell: str) -> list[str]:
    """['pillow 9.5.0'] for a column head: what a cell has besides torch and torchvision
    where cells of the run differ in it. NumPy and Pillow only where two cells of one
    torch/torchvision pair differ (a --vary axis; along the matrix they move with the
    Python), any other package wherever the cells differ."""
    every = list(versions.values())
    pairs = len({(v["torch"], v["torchvision"]) for v in every})
    out = []
    names = {n for v in every for n in v} - {"torch", "torchvision", "python", *NOT_PACKAGES}
    for name in sorted(names):
        value = versions[cell].get(name)
        if name in ("numpy", "pillow"):
            varied = len({(v["torch"], v["torchvision"], v.get(name)) for v in every}) > pairs
        else:
            varied = len({v.get(name) for v in every}) > 1
        if value and varied:
            out.append(f"{name} {value}")
    return out


def finding_step(evidence, finding: Finding) -> str:
    """The upgrade step where a finding first shows."""
    return version_step(evidence.versions, *finding.step)


def where(versions: dict[str, dict[str, str]], cell: str) -> str:
    """'torch 1.6.0 / torchvision 0.7.0'."""
    v = versions[cell]
    return f"torch {v['torch']} / torchvision {v['torchvision']}"


def value(obs: Observation, kind: str) -> str:
    """A side of a transition as people read it."""
    if obs.state != OK:
        return STATE_LABEL.get(obs.state, obs.state)
    if kind == "fingerprint":
        return "one value" if obs.agreed else "differs run to run"
    shown = short_value(kind, obs.values)
    return shown if obs.agreed else f"{shown} (repeats disagree)"


def transition(t: Transition, with_seeding: bool = True) -> str:
    """'`pairs.hflip` `pair_consistency` under `python`: 1.0 → 0.46…0.53 (repeats disagree)'."""
    if t.kind == "fingerprint" and t.before.agreed and t.after.agreed:
        change = "changed"
    else:
        change = f"{value(t.before, t.kind)} → {value(t.after, t.kind)}"
    seeding = f" under `{t.seeding}`" if with_seeding else ""
    return f"`{t.scenario}` `{t.metric}`{seeding}: {change}"


def title(finding: Finding) -> str:
    """One sentence: the cause's own words, else what the rows say."""
    if finding.cause:
        return finding.cause.what.rstrip(".")
    scenarios = finding.scenarios
    names = ", ".join(f"`{s}`" for s in scenarios[:3]) + (
        f" and {len(scenarios) - 3} more" if len(scenarios) > 3 else "")
    metrics = list(dict.fromkeys(t.metric for t in finding.transitions))
    what = ", ".join(f"`{m}`" for m in metrics[:3]) + (" …" if len(metrics) > 3 else "")
    if finding.explanation.candidates:
        return f"{what} of {names}; no single known change explains it (candidates below)"
    return f"{what} of {names}; no known upstream change explains it (unexplained)"


def candidates(finding: Finding) -> str:
    """'`a` or `b`: the catalogued changes of this step that touch the APIs it calls'."""
    found = finding.explanation.candidates
    if not found:
        return ""
    return (" or ".join(f"`{c.id}`" for c in found) + ": the catalogued changes of this "
            "step that touch the random APIs the code calls")


def cause_id(explanation) -> str:
    """The cause's id, 'candidates: a b', or 'unexplained'."""
    if explanation.cause:
        return explanation.cause.id
    if explanation.candidates:
        return "candidates: " + " ".join(c.id for c in explanation.candidates)
    return "unexplained"


def summary_rows(finding: Finding) -> str:
    shown = [transition(t) for t in finding.transitions[:MAX_ROWS_IN_SUMMARY]]
    more = len(finding.transitions) - len(shown)
    text = "; ".join(shown) + (f"; and {more} more row{'s' if more > 1 else ''}" if more else "")
    failed = next((t.after.values[0] for t in finding.transitions
                   if t.metric == TEST_FAILURE_METRIC and t.scenario.startswith(PYTEST_PREFIX)
                   and t.after.values and t.after.values[0]), None)
    return text + (f"; the test fails with: {failed}" if failed else "")


def counts(findings: list[Finding]) -> Counter:
    return Counter(f.severity for f in findings)


def verdict(findings: list[Finding], steps: int, failing_everywhere: list[str] = ()) -> str:
    """'3 broken · 1 lost reproducibility · 12 drift across 16 upgrade steps; …'."""
    found = counts(findings)
    head = [f"{found[s]} {sev.get(s).plural}" for s in sev.in_group(sev.ACTIONABLE) if found[s]]
    good = [f"{found[s]} {sev.get(s).plural}" for s in sev.in_group(sev.GOOD) if found[s]]
    folded = sum(len(f.transitions) for f in findings if sev.get(f.severity).folded)
    where = f"across {steps} upgrade step{'s' if steps != 1 else ''}"
    if head:
        text = " · ".join(head) + f" {where}"
    elif failing_everywhere:
        text = f"No change {where}"
    else:
        text = f"Nothing broke, lost reproducibility or drifted {where}"
    if failing_everywhere:
        text += (f"; {len(failing_everywhere)} scenario"
                 f"{'s fail' if len(failing_everywhere) > 1 else ' fails'} in every cell: "
                 "their expected results do not hold here")
    if good:
        text += f"; good news: {', '.join(good)}"
    if folded:
        text += f"; {folded} rows of unseeded noise, availability or harness changes folded below"
    return text + "."


def verdict_line(report) -> str:
    return verdict(report.findings, len(report.upgrade_steps),
                   [s for s, _ in report.failing_everywhere])


def run_dir_text(report) -> str:
    """The run's directory as a command line takes it: relative where it is below the
    working directory, so the printed command runs as printed."""
    source = Path(report.run_path)
    folder = source.parent if source.suffix == ".csv" else source
    try:
        relative = os.path.relpath(folder)
    except ValueError:
        return str(folder)
    return relative if not relative.startswith("..") else str(folder.resolve())


def upgrade_command(report) -> str:
    v = report.evidence.versions
    old, new = v[report.cells[0]]["torch"], v[report.cells[-1]]["torch"]
    return f"rngdrift report {run_dir_text(report)} --from {old} --to {new}"


def mode_lines(mode: str) -> str:
    """A mode's lines, each at its place, in one line of Markdown."""
    record = modes.get(mode)
    if not record.lines:
        return "no seeding"
    parts = []
    for place in dict.fromkeys(ln.place for ln in record.lines):
        shown = "; ".join(f"`{ln.code.split('  #')[0]}`" + (f" (torch {ln.torch})" if ln.torch
                                                            else "") for ln in record.at(place))
        parts.append(f"{place.label}: {shown}")
    return " · ".join(parts)
