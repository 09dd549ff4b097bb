"""report.md: the answer first, for a terminal and for a GitHub job summary
(``cat report.md >> $GITHUB_STEP_SUMMARY``).

Order: the verdict (counts by severity, then the top findings with why and fix),
how to ask about one's own upgrade, then every finding by upgrade step, the
weakest seeding that reproduces each scenario, accuracy, the seeding modes as
code, what was folded away and cells that failed. Long parts sit in <details>.
No line outside a table is longer than ~200 characters; values from the CSVs go
through ``harness.text`` so they can neither break a table nor inject markup.
"""
from __future__ import annotations

import re

from ..cell.schema import MODES
from . import advice
from .findings import ACTIONABLE, FOLDED, SEVERITY_WORDS
from .model import ACCURACY_METRIC, ACCURACY_SCENARIO, accuracy_value, failures, runs
from .words import (
    HEADINGS, counts, finding_step, summary_rows, title, transition, verdict, version_step)
from ..text import code, plural, table, text, wrap

TOP_FINDINGS = 8
MAX_TABLE_ROWS = 200


def render(report, notes=()) -> str:
    """``notes``: the run's headline, reuse and platform sentences (``headline.run_notes``)."""
    lines = _head(report) + [f"{n}\n" for n in notes] + _verdict(report) + _ask(report)
    lines += _by_step(report)
    lines += _minimal(report) + _accuracy(report) + _legend(report) + _folded(report)
    lines += _failures(report)
    return "\n".join(lines).rstrip() + "\n"


def _versions(report):
    return report.evidence.versions


def _head(report) -> list[str]:
    cells = report.cells
    first, last = _versions(report)[cells[0]], _versions(report)[cells[-1]]
    return [f"# rngdrift: what changes from torch {first['torch']} to {last['torch']}", "",
            *wrap(f"Run {code(report.run_id)}: {plural(len(cells), 'cell')} from "
                  f"{code(cells[0])} to {code(cells[-1])}, "
                  f"{plural(len(report.scenarios), 'scenario')}, seeding "
                  f"{', '.join(map(code, report.modes)) or 'none ran'}, "
                  f"{plural(report.repeats, 'repeat')} each; numbers equal within "
                  f"atol={report.tol.atol:g}, rtol={report.tol.rtol:g}."), ""]


def _verdict(report) -> list[str]:
    steps = len(report.upgrade_steps)
    lines = ["## Verdict", "", *wrap(f"**{verdict(report.findings, steps)}**"), ""]
    top = [f for f in report.findings if f.severity in ACTIONABLE][:TOP_FINDINGS]
    for number, finding in enumerate(top, 1):
        lines += finding_lines(report, finding, number)
    left = [f for f in report.findings if f.severity in ACTIONABLE][TOP_FINDINGS:]
    if left:
        lines += [f"… and {plural(len(left), 'more finding')}: every one is under "
                  "[All findings by upgrade step](#all-findings-by-upgrade-step).", ""]
    return lines


def finding_lines(report, finding, number: int) -> list[str]:
    """One finding: headline, what, why, fix (also used by the upgrade answer)."""
    step = finding_step(report.evidence, finding)
    lines = wrap(f"{number}. **{HEADINGS[finding.severity]}** at {step}: {_md(title(finding))}.")
    lines += wrap(f"   - What: {_md(summary_rows(finding))}.", indent="     ")
    why = []
    if finding.cause:
        why.append(f"known change `{finding.cause.id}` ([source]({finding.cause.link}))")
    if finding.mechanism:
        why.append(_md(finding.mechanism))
    if why:
        lines += wrap("   - Why: " + "; ".join(why) + ".", indent="     ")
    if finding.fix:
        lines += wrap(f"   - Fix: {_md(finding.fix.text)}", indent="     ")
        if finding.fix.add:
            lines += ["", "     ```python", *[f"     {line}" for line in finding.fix.add],
                      "     ```"]
        if finding.fix.upstream:
            lines += wrap(f"   - Upstream advice: {_md(finding.fix.upstream)}.", indent="     ")
    return lines + [""]


def _ask(report) -> list[str]:
    if len(report.cells) < 3:
        return []
    v = _versions(report)
    old, new = v[report.cells[1]]["torch"], v[report.cells[-1]]["torch"]
    return ["## Your upgrade", "", *wrap(
        "To see what one upgrade changes, with each finding at the step where it first "
        f"appears: `rngdrift report {report.run_id} --from {old} --to {new}` (torch or "
        "torchvision versions, or cell ids)."), ""]


def _by_step(report) -> list[str]:
    lines = ["## All findings by upgrade step", ""]
    versions = _versions(report)
    shown = [f for f in report.findings if f.severity not in FOLDED]
    if not shown:
        return lines + ["Nothing changed from one cell to the next.", ""]
    for before, after in report.upgrade_steps:
        here = [f for f in shown if f.first_seen == after and f.before_cell == before]
        if not here:
            continue
        found = counts(here)
        summary = ", ".join(f"{found[s]} {HEADINGS[s].lower()}" for s in found)
        rows = [[HEADINGS[t.severity], _cell(transition(t)), _cell(_cause(f))]
                for f in here for t in f.transitions]
        lines += [f"<details><summary>{text(version_step(versions, before, after))}: "
                  f"{text(summary)}</summary>", ""]
        lines += table(["severity", "change", "cause"], rows[:MAX_TABLE_ROWS])
        if len(rows) > MAX_TABLE_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_TABLE_ROWS} more rows in findings.csv")
        lines += ["", "</details>", ""]
    return lines


def _cause(finding) -> str:
    if finding.cause:
        return f"[{finding.cause.id}]({finding.cause.link})"
    return "unexplained"


def _minimal(report) -> list[str]:
    lines = ["## Weakest seeding that reproduces", "", *wrap(
        "Per scenario and cell, the weakest mode (`none` < `python` < `torch` < `all` < `full`) "
        "under which every repeat agreed, that seeds every generator the scenario drew from "
        "(so no chance agreement counts) and keeps its correctness goals; "
        f"`{advice.NO_MODE}` where none does. The code of each mode is under "
        "[Seeding modes](#seeding-modes)."), ""]
    skipped = [m for m in MODES if m not in report.modes]
    if skipped:
        lines += [f"Not run here: {', '.join(map(code, skipped))}.", ""]
    rows = []
    for _, row in report.minimal_seeding.iterrows():
        labels = [row[c] for c in report.cells]
        spans = []
        for label, first, last in runs(labels, report.cells):
            span = code(first) if first == last else f"{code(first)} … {code(last)}"
            spans.append(f"{code(label)} ({span})")
        rows.append([code(row["scenario"]), " → ".join(spans)])
    return ["<details><summary>" + lines[0][3:] + "</summary>"] + lines[1:] + \
        table(["scenario", "weakest seeding, by cell"], rows) + ["", "</details>", ""]


def _accuracy(report) -> list[str]:
    lines = [f"## Accuracy: {code(ACCURACY_SCENARIO)} {code(ACCURACY_METRIC)}", ""]
    if not report.accuracy_present:
        return lines + [f"{code(ACCURACY_SCENARIO)} is not in this run.", ""]
    if report.background is not None:
        lines += wrap(f"The original report's table. {report.background:.4f} is what a net "
                      "that predicts background everywhere scores: the accuracy falls there when "
                      "masks stop matching their images. `~`: repeats disagreed, their mean shown.")
        lines.append("")
    acc = report.accuracy
    rows = [[text(r["torch"]), text(r["torchvision"]), text(r["python"]),
             *[text(accuracy_value(r, m)) for m in report.modes]] for _, r in acc.iterrows()]
    return lines + table(["torch", "torchvision", "python", *[f"{m} seeding" for m in report.modes]],
                         rows) + [""]


def _legend(report) -> list[str]:
    lines = ["## Seeding modes", "", "What each mode runs at a program's start, with `seed = 0`:",
             ""]
    for mode in MODES:
        lines += wrap(f"- `{mode}`: " + "; ".join(f"`{c}`" for c in advice.MODE_CODE[mode]),
                      indent="  ")
    lines += ["", "Severities, most serious first:", ""]
    lines += [f"- **{HEADINGS[s]}**: {text(SEVERITY_WORDS[s])}" for s in SEVERITY_WORDS]
    return lines + [""]


def _folded(report) -> list[str]:
    folded = [f for f in report.findings if f.severity in FOLDED + ("improved", "regained")]
    if not folded:
        return []
    lines = ["## Folded: good news, noise, newly available, harness changes", ""]
    for severity in ("improved", "regained") + FOLDED:
        rows = [[code(f.first_seen), _cell(transition(t))] for f in folded
                if f.severity == severity for t in f.transitions]
        if not rows:
            continue
        lines += [f"<details><summary>{HEADINGS[severity]}: {plural(len(rows), 'row')}"
                  "</summary>", ""]
        lines += table(["first cell", "change"], rows[:MAX_TABLE_ROWS])
        if len(rows) > MAX_TABLE_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_TABLE_ROWS} more rows in findings.csv")
        lines += ["", "</details>", ""]
    return lines


def _failures(report) -> list[str]:
    entries = [f"- {code(cell)}: **{text(what)}**: {text(detail, 180)}"
               for cell, what, detail in failures(report)]
    notes = [f"- {text(note, 180)}" for note in report.notes]
    if not entries and not notes:
        return []
    lines = ["## Cells that failed", ""] + (entries or ["None."])
    return lines + (["", "Notes:", ""] + notes if notes else [])


def _md(sentence: str) -> str:
    """A sentence of words.py (backtick spans kept) made safe for Markdown: only a ``<``
    that could open an HTML tag is escaped, so ``rand(1) < 0.5`` reads as written in a
    terminal."""
    return _TAG.sub("&lt;", sentence)


def _cell(sentence: str) -> str:
    """``_md`` for a table cell, where ``|`` would end the cell."""
    return _md(sentence).replace("|", "\\|")


_TAG = re.compile(r"<(?=[A-Za-z/!?])")
