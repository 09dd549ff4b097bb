"""Findings in words: the sentences both renderers print, so report.md and
report.html say the same thing. Inline code is marked with backticks; the
Markdown renderer keeps them, the HTML renderer turns them into <code>.
"""
from __future__ import annotations

from collections import Counter

from ..cell.schema import OK
from .evidence import VERSION_FIELDS, Observation
from .findings import ACTIONABLE, FOLDED, Finding, Transition
from .model import STATE_LABEL, short_value

HEADINGS = {
    "broken": "Broken", "failing": "Now fails", "lost-repro": "Lost reproducibility",
    "drift": "Drift", "improved": "Improved", "regained": "Regained reproducibility",
    "new": "Newly available", "gone": "No longer available", "noise": "Noise",
    "harness": "Harness recipe changed",
}
PLURAL = {"broken": "broken", "failing": "now failing", "lost-repro": "lost reproducibility",
          "drift": "drift", "improved": "improved", "regained": "regained reproducibility",
          "new": "newly available", "gone": "no longer available", "noise": "noise",
          "harness": "harness recipe"}
MAX_ROWS_IN_SUMMARY = 3


def version_step(versions: dict[str, dict[str, str]], before: str, after: str) -> str:
    """'torchvision 0.6.0 → 0.7.0, torch 1.5.0 → 1.6.0' (what moved between two cells)."""
    b, a = versions[before], versions[after]
    others = sorted((set(b) | set(a)) - set(VERSION_FIELDS))  # pins a cell id names
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


def finding_step(evidence, finding: Finding) -> str:
    """The upgrade step where a finding first shows: its previous cell to that cell."""
    cells, first = evidence.cells, finding.first_seen
    before = finding.before_cell
    if finding.transitions[0].first_cell and first in cells and before in cells \
            and cells.index(first) - 1 > cells.index(before):  # an upgrade question's walk
        before = cells[cells.index(first) - 1]
    return version_step(evidence.versions, before, first)


def moving_pins(versions: dict[str, dict[str, str]], cell: str) -> list[str]:
    """['pillow 9.5.0'] for a column head: what a cell has besides torch and torchvision
    where cells of the run differ in it. NumPy and Pillow only where two cells of one
    torch/torchvision pair differ (a --vary axis; along the matrix they move with the
    Python), any other package wherever the cells differ."""
    every = list(versions.values())
    pairs = len({(v["torch"], v["torchvision"]) for v in every})
    out = []
    for name in sorted({n for v in every for n in v} - {"torch", "torchvision", "python"}):
        value = versions[cell].get(name)
        if name in ("numpy", "pillow"):
            varied = len({(v["torch"], v["torchvision"], v.get(name)) for v in every}) > pairs
        else:
            varied = len({v.get(name) for v in every}) > 1
        if value and varied:
            out.append(f"{name} {value}")
    return out


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
    return f"{what} of {names}; no known upstream change explains it (unexplained)"


def summary_rows(finding: Finding) -> str:
    shown = [transition(t) for t in finding.transitions[:MAX_ROWS_IN_SUMMARY]]
    more = len(finding.transitions) - len(shown)
    return "; ".join(shown) + (f"; and {more} more row{'s' if more > 1 else ''}" if more else "")


def counts(findings: list[Finding]) -> Counter:
    return Counter(f.severity for f in findings)


def verdict(findings: list[Finding], steps: int) -> str:
    """'3 broken · 1 lost reproducibility · 12 drift across 16 upgrade steps; …'."""
    found = counts(findings)
    head = [f"{found[s]} {PLURAL[s]}" for s in ACTIONABLE if found[s]]
    good = [f"{found[s]} {PLURAL[s]}" for s in ("improved", "regained") if found[s]]
    folded = sum(len(f.transitions) for f in findings if f.severity in FOLDED)
    if not head:
        text = f"Nothing broke, lost reproducibility or drifted across {steps} step" \
               f"{'s' if steps != 1 else ''}"
    else:
        text = " · ".join(head) + f" across {steps} upgrade step{'s' if steps != 1 else ''}"
    if good:
        text += f"; good news: {', '.join(good)}"
    if folded:
        text += f"; {folded} rows of noise, newly available or harness changes folded below"
    return text + "."


