"""report.md (and the Markdown of an upgrade answer and of ``rngdrift compare``): the
answer first, for a terminal and for a GitHub job summary
(``cat report.md >> $GITHUB_STEP_SUMMARY``).

Order: the verdict (counts by severity, tests that fail everywhere, then the top
findings with why and a verified fix), how to ask about one's own upgrade, then every
finding by upgrade step, the weakest seeding that reproduces each scenario, accuracy,
the seeding modes as code, what was folded away and cells that failed. Long parts sit
in <details>. No line outside a table is longer than ~200 characters; values from the
CSVs go through ``harness.text`` so they can neither break a table nor inject markup.
"""
from __future__ import annotations

import re

from ..cell import modes
from . import advice
from . import severity as sev
from .model import (
    ACCURACY_METRIC, ACCURACY_SCENARIO, TOP_FINDINGS, accuracy_value, failures, runs)
from .words import (
    counts, finding_step, mode_lines, summary_rows, title, transition, upgrade_command, verdict,
    verdict_line, version_step, where)
from ..text import code, plural, table, text, wrap

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
    lines = ["## Verdict", "", *wrap(f"**{verdict_line(report)}**"), ""]
    if report.failing_everywhere:
        lines += wrap("Failing in every cell, under every mode (fix these before reading "
                      "anything into an upgrade): " + "; ".join(
                          f"{code(s)} ({text(d, 120)})" for s, d in report.failing_everywhere[:8])
                      + (" …" if len(report.failing_everywhere) > 8 else "") + ".") + [""]
    actionable = [f for f in report.findings if sev.get(f.severity).actionable]
    for number, finding in enumerate(actionable[:TOP_FINDINGS], 1):
        lines += finding_lines(report, finding, number)
    if len(actionable) > TOP_FINDINGS:
        lines += [f"… and {plural(len(actionable) - TOP_FINDINGS, 'more finding')}: every one "
                  "is under [All findings by upgrade step](#all-findings-by-upgrade-step).", ""]
    return lines


def finding_lines(report, finding, number: int) -> list[str]:
    """One finding: headline, what, why, fix and its verification."""
    step = finding_step(report.evidence, finding)
    heading = sev.get(finding.severity).heading
    lines = wrap(f"{number}. **{heading}** at {step}: {_md(title(finding))}.")
    lines += wrap(f"   - What: {_md(summary_rows(finding))}.", indent="     ")
    why = []
    if finding.cause:
        why.append(f"known change `{finding.cause.id}` ([source]({finding.cause.link}))")
    elif finding.explanation.candidates:
        why.append("candidates: " + ", ".join(f"`{c.id}` ([source]({c.link}))"
                                              for c in finding.explanation.candidates))
    if finding.mechanism:
        why.append(_md(finding.mechanism))
    if why:
        lines += wrap("   - Why: " + "; ".join(why) + ".", indent="     ")
    fix = finding.fix
    if fix:
        lines += wrap(f"   - Fix: {_md(fix.text)}", indent="     ")
        if fix.add:
            lines += ["", "     ```python", *[f"     {line}" for ln in fix.add
                                               for line in ln.splitlines()], "     ```", ""]
        if fix.verified:
            lines += wrap(f"   - {_md(fix.verified.text[:1].upper() + fix.verified.text[1:])}.",
                          indent="     ")
        elif fix.to_verify:
            lines += wrap(f"   - Not verified: {_md(fix.to_verify)}.", indent="     ")
        if fix.upstream:
            lines += wrap(f"   - Upstream advice: {_md(fix.upstream)}.", indent="     ")
    return lines + [""]


def _ask(report) -> list[str]:
    if len(report.cells) < 3:
        return []
    return ["## Your upgrade", "", *wrap(
        "To see what one upgrade changes, with each finding at the step where it first "
        f"appears: `{upgrade_command(report)}` (torch or torchvision versions, or cell ids)."), ""]


def _by_step(report) -> list[str]:
    lines = ["## All findings by upgrade step", ""]
    versions = _versions(report)
    shown = [f for f in report.findings if not sev.get(f.severity).folded]
    if not shown:
        return lines + ["Nothing changed from one cell to the next.", ""]
    for before, after in report.upgrade_steps:
        here = [f for f in shown if f.step == (before, after)]
        if not here:
            continue
        found = counts(here)
        summary = ", ".join(f"{found[s]} {sev.get(s).plural}" for s in sev.NAMES if found[s])
        rows = [[sev.get(t.severity).heading, cell_text(transition(t)), cell_text(cause_link(f))]
                for f in here for t in f.transitions]
        lines += [f"<details><summary>{text(version_step(versions, before, after))}: "
                  f"{text(summary)}</summary>", ""]
        lines += table(["severity", "change", "cause"], rows[:MAX_TABLE_ROWS])
        if len(rows) > MAX_TABLE_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_TABLE_ROWS} more rows in findings.csv")
        lines += ["", "</details>", ""]
    return lines


def cause_link(finding) -> str:
    if finding.cause:
        return f"[{finding.cause.id}]({finding.cause.link})"
    if finding.explanation.candidates:
        return "candidates: " + ", ".join(f"[{c.id}]({c.link})"
                                          for c in finding.explanation.candidates)
    return "unexplained"


def _minimal(report) -> list[str]:
    lines = ["## Weakest seeding that reproduces", "", *wrap(
        "Per scenario and cell, the weakest modes (a mode is weaker than another when the "
        "other applies every line it applies) under which every repeat agreed, that seed "
        "every generator the scenario drew from (so no chance agreement counts; code that "
        "seeds a generator itself needs no mode for it) and keep its correctness goals; "
        f"`{advice.NO_MODE}` where none does. The code of each mode is under "
        "[Seeding modes](#seeding-modes)."), ""]
    skipped = [m for m in modes.DEFAULT if m not in report.modes]
    if skipped:
        lines += [f"Not run here: {', '.join(map(code, skipped))}.", ""]
    rows = []
    for row in report.minimal_seeding.records():
        labels = [row[c] for c in report.cells]
        spans = []
        for label, first, last in runs(labels, report.cells):
            span = code(first) if first == last else f"{code(first)} … {code(last)}"
            spans.append(f"{code(label)} ({span})")
        rows.append([code(row["scenario"]), " → ".join(spans)])
    return ["<details><summary>" + lines[0][3:] + "</summary>"] + lines[1:] + \
        table(["scenario", "weakest seeding, by cell"], rows) + ["", "</details>", ""]


def _accuracy(report) -> list[str]:
    if not report.accuracy_present:
        return []  # a canonical section: nothing to say where the run does not have it
    lines = [f"## Accuracy: {code(ACCURACY_SCENARIO)} {code(ACCURACY_METRIC)}", ""]
    if report.background is not None:
        lines += wrap(f"The original report's table. {report.background:.4f} is what a net "
                      "that predicts background everywhere scores: the accuracy falls there when "
                      "masks stop matching their images. `~`: repeats disagreed, their mean shown.")
        lines.append("")
    rows = [[text(r["torch"]), text(r["torchvision"]), text(r["python"]),
             *[text(accuracy_value(r, m)) for m in report.modes]]
            for r in report.accuracy.records()]
    return lines + table(["torch", "torchvision", "python", *[f"{m} seeding" for m in report.modes]],
                         rows) + [""]


def _legend(report) -> list[str]:
    lines = ["## Seeding modes", "", "What each mode this run has applies, and where, with "
             "`seed = 0` (`seed_worker` is PyTorch's recipe: it seeds `random` and NumPy from "
             "`torch.initial_seed()` in each worker):", ""]
    for mode in report.modes:
        recipe = " (a fix recipe)" if modes.get(mode).recipe else ""
        lines += wrap(f"- `{mode}`{recipe}: {text(modes.get(mode).summary)}. {mode_lines(mode)}",
                      indent="  ")
    lines += ["", "Severities, most serious first:", ""]
    lines += [f"- **{s.heading}**: {text(s.words)}" for s in sev.SEVERITIES]
    return lines + [""]


def _folded(report) -> list[str]:
    folded = [f for f in report.findings if sev.get(f.severity).folded]
    if not folded:
        return []
    lines = ["## Folded: unseeded noise, availability, harness recipe changes", ""]
    for severity in sev.in_group(sev.FOLDED):
        rows = [[code(f.first_seen), cell_text(transition(t))] for f in folded
                if f.severity == severity for t in f.transitions]
        if not rows:
            continue
        lines += [f"<details><summary>{sev.get(severity).heading}: {plural(len(rows), 'row')}"
                  "</summary>", ""]
        lines += table(["first cell", "change"], rows[:MAX_TABLE_ROWS])
        if len(rows) > MAX_TABLE_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_TABLE_ROWS} more rows in findings.csv")
        lines += ["", "</details>", ""]
    harness = [f for f in folded if f.severity == sev.HARNESS and f.fix]
    for number, finding in enumerate(harness[:3], 1):
        lines += finding_lines(report, finding, number)
    return lines


def _failures(report) -> list[str]:
    entries = [f"- {code(cell)}: **{text(what)}**: {text(detail, 180)}"
               for cell, what, detail in failures(report)]
    notes = [f"- {text(note, 180)}" for note in report.notes]
    if not entries and not notes:
        return []
    lines = ["## Cells that failed", ""] + (entries or ["None."])
    return lines + (["", "Notes:", ""] + notes if notes else [])


# -- the upgrade answer ------------------------------------------------------------------

def render_upgrade(report, found: list, old: str, new: str) -> str:
    """The answer to "what changes from cell ``old`` to cell ``new``?" (``upgrade.py``);
    ``report``: anything with ``evidence``, ``cells``, ``run_path`` and ``findings``."""
    versions = report.evidence.versions
    lines = [f"# Upgrading from {where(versions, old)} to {where(versions, new)}", "",
             f"From {code(old)} to {code(new)}; each finding at the step where it first appears.",
             "", f"**{verdict(found, 1).replace(' across 1 upgrade step', '')}**", ""]
    shown = [f for f in found if sev.get(f.severity).actionable]
    for number, finding in enumerate(shown, 1):
        lines += finding_lines(report, finding, number)
    good = [f for f in found if sev.get(f.severity).good]
    for number, finding in enumerate(good, len(shown) + 1):
        lines += finding_lines(report, finding, number)
    rest = [f for f in found if sev.get(f.severity).folded]
    if rest:
        rows = [[f.severity, code(f.first_seen), cell_text(transition(t))]
                for f in rest for t in f.transitions]
        lines += ["<details><summary>Also changed (unseeded noise, availability, harness "
                  f"recipe): {len(rows)} rows</summary>", ""] + \
            table(["severity", "first cell", "row"], rows) + ["", "</details>", ""]
    if not found:
        lines.append("Nothing changes between these two cells.")
    return "\n".join(lines).rstrip() + "\n"


# -- rngdrift compare ---------------------------------------------------------------------

MAX_COMPARE_ROWS = 100


def render_compare(changes: list, head: list[str], categories) -> str:
    """compare.md: the summary ``head``, then each category's rows (``categories``: the
    category names in their order)."""
    lines = list(head)
    for category in categories:
        rows = [c for c in changes if c.category == category]
        if not rows:
            continue
        lines += ["", f"## {category}", ""]
        body = [[code(r.cell), code(r.scenario), code(r.seeding), code(r.metric),
                 text(r.baseline, 60), text(r.candidate, 60), text(r.detail, 120)]
                for r in rows[:MAX_COMPARE_ROWS]]
        lines += table(["cell", "scenario", "seeding", "metric", "baseline", "candidate",
                        "detail"], body)
        if len(rows) > MAX_COMPARE_ROWS:
            lines.append(f"\n… and {len(rows) - MAX_COMPARE_ROWS} more in compare.csv")
    return "\n".join(lines).rstrip() + "\n"


def compare_summary(changes: list, sides, shared: int, tol, fail_on, categories,
                    notes=()) -> list[str]:
    """The head of compare.md (and what ``rngdrift compare`` prints): ``sides``: the
    (source, run ids, cells) of the baseline and the candidate."""
    counted = {c: sum(r.category == c for r in changes) for c in categories}
    failing = sum(counted[c] for c in fail_on if c in counted)
    lines = ["# rngdrift compare", ""] + [f"{n}\n" for n in notes]
    for label, (source, run_ids, cells) in zip(("baseline", "candidate"), sides):
        lines.append(f"- {label}: {code(source)} (run {text(run_ids)}, {plural(cells, 'cell')})")
    lines += [f"- {plural(shared, 'shared cell')} compared; numbers equal within atol={tol.atol:g}, "
              f"rtol={tol.rtol:g}; failing categories: {', '.join(map(code, fail_on)) or 'none'}",
              ""]
    if not changes:
        return lines + ["**No differences.**"]
    lines += [(f"**{failing} difference(s) in failing categories.**" if failing
               else "**No difference in a failing category.**"), ""]
    return lines + table(["category", "rows", "fails"],
                         [[code(c), str(counted[c]), "yes" if c in fail_on else "no"]
                          for c in categories if counted[c]])


def _md(sentence: str) -> str:
    """A sentence of words.py (backtick spans kept) made safe for Markdown: only a ``<``
    that could open an HTML tag is escaped, so ``rand(1) < 0.5`` reads as written in a
    terminal."""
    return _TAG.sub("&lt;", sentence)


def cell_text(sentence: str) -> str:
    """A sentence for a table cell, where ``|`` would end the cell."""
    return _md(sentence).replace("|", "\\|")


_TAG = re.compile(r"<(?=[A-Za-z/!?])")
