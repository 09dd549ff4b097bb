"""report.md: the run's story in Markdown that reads well in a terminal and as a
GitHub Actions job summary (``cat report.md >> $GITHUB_STEP_SUMMARY``).

Every value from the CSVs goes through ``harness.text.code`` or ``text``, so a
scenario name or an error message can neither break a table nor inject markup.
"""
from __future__ import annotations

from harness.cell.schema import MODES
from harness.report.model import (
    ACCURACY_METRIC, ACCURACY_SCENARIO, NO, YES, accuracy_value, cell_step, change_points,
    failures, runs, source_changes)
from harness.text import code, plural, table, text

MAX_ROWS_PER_CELL = 60


def where(subset: set[str], cells: list[str]) -> str:
    """Where in ``cells`` (in order) the ``subset`` lies, as spans: 'from `X` on',
    'up to `Y`', '`X` … `Y`', '`X`'; '' when it is all of them."""
    labels = ["in" if c in subset else "out" for c in cells]
    spans = [(first, last) for label, first, last in runs(labels, cells) if label == "in"]
    if spans == [(cells[0], cells[-1])]:
        return ""
    out = []
    for first, last in spans:
        if first == last:
            out.append(code(first))
        elif last == cells[-1]:
            out.append(f"from {code(first)} on")
        elif first == cells[0]:
            out.append(f"up to {code(last)}")
        else:
            out.append(f"{code(first)} … {code(last)}")
    return ", ".join(out)


def render(report, notes=()) -> str:
    """``notes``: the run's headline, reuse and platform sentences (``headline.run_notes``)."""
    cells = report.cells
    lines = [f"# rngdrift report: run {text(report.run_id)}", ""] + [f"{n}\n" for n in notes]
    lines.append(f"{plural(len(cells), 'cell')}, oldest {code(cells[0])}, newest "
                 f"{code(cells[-1])}; {plural(len(report.scenarios), 'scenario')}; seeding "
                 f"{', '.join(map(code, report.modes)) or 'none ran'}; "
                 f"{plural(report.repeats, 'repeat')}; numbers equal within "
                 f"atol={report.tol.atol:g}, rtol={report.tol.rtol:g}.")
    lines.append("")
    lines.append("Tables next to this file: `drift.csv` (value groups per cell), "
                 "`reproducibility.csv`, `sources.csv`, `minimal_seeding.csv`, `accuracy.csv`, "
                 "`matrix.csv` (all rows); `report.html` has the heatmap.")
    lines += [""] + _changes(report) + [""] + _reproducibility(report) + [""]
    lines += _minimal(report) + [""] + _accuracy(report) + [""] + _failures(report)
    return "\n".join(lines).rstrip() + "\n"


def _changes(report) -> list[str]:
    points = change_points(report)
    sources = source_changes(report)
    lines = ["## Change points", ""]
    if not points and not sources:
        return lines + ["No value changes from one cell to the next."]
    lines.append("Where a value's group (drift.csv) differs from the previous cell's: "
                 "`A`, `B` … value groups, `~` repeats disagreed, `n/a`, `err`, `timeout`.")
    previous = None
    for cell in report.cells:
        hits, moved = points.get(cell, []), sources.get(cell, [])
        if hits or moved:
            lines += ["", f"### {code(cell)}: {text(cell_step(report, cell, previous))}", ""]
        if hits:
            rows = [[code(scenario), code(metric), ", ".join(map(code, seedings)),
                     f"{text(before)} → {text(after)}"]
                    for scenario, metric, before, after, seedings in hits]
            lines += table(["scenario", "metric", "seeding", "before → after"],
                           rows[:MAX_ROWS_PER_CELL])
            if len(rows) > MAX_ROWS_PER_CELL:
                lines.append(f"\n… and {len(rows) - MAX_ROWS_PER_CELL} more in drift.csv")
        if moved:
            lines += ["", f"Draws under `{report.sources_seeding}` seeding (sources.csv):", ""]
            lines += [f"- {code(scenario)}: " + "; ".join(f"{code(what)} {how}" for what, how in changes)
                      for scenario, changes in moved]
        previous = cell
    return lines


def _reproducibility(report) -> list[str]:
    repro = report.reproducibility
    lines = ["## Not reproducible (repeats disagreed)", ""]
    if report.repeats < 2:
        return lines + ["Only one repeat per seeding mode: run with `--repeats 2` to test this."]
    rows = []
    for mode in report.modes:
        bad = repro[(repro["seeding"] == mode) & (repro["reproducible"] == NO)]
        if bad.empty:
            rows.append([code(mode), "all reproducible"])
            continue
        ran = repro[(repro["seeding"] == mode) & (repro["reproducible"].isin([YES, NO]))]
        parts = []
        for scenario, group in bad.groupby("scenario", sort=True):
            cells = [c for c in report.cells
                     if c in set(ran.loc[ran["scenario"] == scenario, "cell"])]
            span = where(set(group["cell"]), cells)
            parts.append(code(scenario) + (f" ({span})" if span else ""))
        rows.append([code(mode), ", ".join(parts)])
    return lines + table(["seeding", "scenarios whose repeats disagreed"], rows)


def _minimal(report) -> list[str]:
    lines = ["## Weakest seeding that reproduces", "",
             "Order `none` < `python` < `torch` < `all` < `full`; `none works`: no mode did.", ""]
    skipped = [m for m in MODES if m not in report.modes]
    if skipped:
        lines[-1:-1] = ["", f"Not run here: {', '.join(map(code, skipped))}; the weakest "
                            "seeding is among the modes that ran."]
    rows = []
    for row in report.minimal_seeding.itertuples(index=False):
        labels = list(row[1:1 + len(report.cells)])
        spans = []
        for label, first, last in runs(labels, report.cells):
            where = code(first) if first == last else f"{code(first)} … {code(last)}"
            spans.append(f"{code(label)} ({where})")
        rows.append([code(row.scenario), " → ".join(spans)])
    return lines + table(["scenario", "weakest seeding, by cell"], rows)


def _accuracy(report) -> list[str]:
    lines = [f"## Accuracy: {code(ACCURACY_SCENARIO)} {code(ACCURACY_METRIC)}", ""]
    if not report.accuracy_present:
        lines += [f"{code(ACCURACY_SCENARIO)} is not in this run (not selected, or not yet a "
                  "scenario); accuracy.csv lists the cells with empty values.", ""]
    acc = report.accuracy
    rows = [[code(r["cell"]), text(r["python"]), text(r["torch"]), text(r["torchvision"]),
             *[text(accuracy_value(r, m)) for m in report.modes]] for _, r in acc.iterrows()]
    lines += table(["cell", "python", "torch", "torchvision",
                    *[f"{m} seeding" for m in report.modes]], rows)
    notes = [f"- {code(r.cell)}: {text(r.note)}" for r in acc.itertuples(index=False)
             if r.note and report.accuracy_present]
    if notes:
        lines += ["", "`~`: the repeats disagreed; the mean is shown.", ""] + notes
    return lines


def _failures(report) -> list[str]:
    lines = ["## Cells that failed", ""]
    entries = [f"- {code(cell)}: **{text(what)}**: {text(detail, 300)}"
               for cell, what, detail in failures(report)]
    if not entries:
        entries = ["None: every scenario ran or was not applicable."]
    notes = [f"- {text(note, 300)}" for note in report.notes]
    return lines + entries + (["", "Notes:", ""] + notes if notes else [])
