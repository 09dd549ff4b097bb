"""report.md: the run's story in Markdown that reads well in a terminal and as a
GitHub Actions job summary (``cat report.md >> $GITHUB_STEP_SUMMARY``).

Every value from the CSVs goes through ``code`` or ``text``, so a scenario name
or an error message can neither break a table nor inject markup.
"""
from __future__ import annotations

from collections import defaultdict

from harness.results import CALLS_PREFIX

MAX_ROWS_PER_CELL = 60


def code(value) -> str:
    """An inline code span; backticks and pipes cannot escape it."""
    text = " ".join(str(value).split()).replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text else ""


def text(value, limit: int = 160) -> str:
    """Plain text with Markdown and HTML specials escaped, on one line."""
    out = " ".join(str(value).split())
    if len(out) > limit:
        out = out[:limit - 1] + "…"
    for char in "\\`*_[]<>|#":
        out = out.replace(char, "\\" + char)
    return out


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def cell_step(report, cell: str, previous: str | None) -> str:
    """What moved from the previous cell: 'torchvision 0.6.0 → 0.7.0, torch 1.5.0 → 1.6.0'."""
    if previous is None:
        return "oldest cell"
    from harness.report import versions
    now, before = versions(report, cell), versions(report, previous)
    steps = [f"{name} {before[name]} → {now[name]}"
             for name in ("torchvision", "torch", "python", "numpy", "pillow")
             if before[name] != now[name]]
    return ", ".join(steps) or "same versions"


def where(subset: set[str], cells: list[str]) -> str:
    """Where in ``cells`` (in order) the ``subset`` lies, as spans: 'from `X` on',
    'up to `Y`', '`X` … `Y`', '`X`'; '' when it is all of them."""
    labels = ["in" if c in subset else "out" for c in cells]
    spans = [(first, last) for label, first, last in _runs(labels, cells) if label == "in"]
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


def change_points(report) -> dict[str, list[tuple]]:
    """{cell: [(scenario, metric, before, after, [seedings])]} for every drift change."""
    out: dict[str, dict[tuple, list[str]]] = defaultdict(dict)
    cells = report.cells
    for row in report.shown.itertuples(index=False):
        if not row.changes_at:
            continue
        values = dict(zip(cells, row[4:4 + len(cells)]))
        previous = None
        for cell in cells:
            shown = values[cell]
            if shown == "-":
                continue
            if previous is not None and shown.split(" ", 1)[0] != previous.split(" ", 1)[0]:
                key = (row.scenario, row.metric, previous, shown)
                out[cell].setdefault(key, []).append(row.seeding)
            previous = shown
    return {cell: [(*key, seedings) for key, seedings in hits.items()]
            for cell, hits in out.items()}


def source_change(metric: str, before: str, after: str) -> tuple[str, str] | None:
    """('random.random', '400 → 0') or ('python generator', 'advanced → untouched');
    None when a side is not a number (n/a, err: the scenario did not run there)."""
    if not (before.isdigit() and after.isdigit()):
        return None
    if metric.startswith(CALLS_PREFIX):
        return metric[len(CALLS_PREFIX):], f"{before} → {after}"
    moved = {"0": "untouched", "1": "advanced"}
    return (f"{metric.split('.', 1)[-1]} generator",
            f"{moved.get(before, before)} → {moved.get(after, after)}")


def source_changes(report) -> dict[str, list[tuple[str, list[str]]]]:
    """{cell: [(scenario, [('random.random', '400 → 0'), …])]} from sources.csv."""
    out: dict[str, dict[str, list[str]]] = defaultdict(dict)
    cells = report.cells
    for row in report.sources.itertuples(index=False):
        if not row.changes_at:
            continue
        values = dict(zip(cells, row[3:3 + len(cells)]))
        previous = None
        for cell in cells:
            if values[cell] == "-":
                continue
            if previous is not None and values[cell] != previous:
                change = source_change(row.metric, previous, values[cell])
                if change:
                    out[cell].setdefault(row.scenario, []).append(change)
            previous = values[cell]
    return {cell: list(hits.items()) for cell, hits in out.items()}


def render(report) -> str:
    cells = report.cells
    lines = [f"# rngdrift report: run {text(report.run_id)}", ""]
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
        bad = repro[(repro["seeding"] == mode) & (repro["reproducible"] == "no")]
        if bad.empty:
            rows.append([code(mode), "all reproducible"])
            continue
        ran = repro[(repro["seeding"] == mode) & (repro["reproducible"].isin(["yes", "no"]))]
        parts = []
        for scenario, group in bad.groupby("scenario", sort=True):
            cells = [c for c in report.cells
                     if c in set(ran.loc[ran["scenario"] == scenario, "cell"])]
            span = where(set(group["cell"]), cells)
            parts.append(code(scenario) + (f" ({span})" if span else ""))
        rows.append([code(mode), ", ".join(parts)])
    return lines + table(["seeding", "scenarios whose repeats disagreed"], rows)


def _runs(labels: list[str], cells: list[str]) -> list[tuple[str, str, str]]:
    """Run-length encode labels along the cells: [(label, first cell, last cell)]."""
    out: list[list[str]] = []
    for label, cell in zip(labels, cells):
        if label == "-":
            continue
        if out and out[-1][0] == label:
            out[-1][2] = cell
        else:
            out.append([label, cell, cell])
    return [tuple(r) for r in out]


def _minimal(report) -> list[str]:
    from harness.results import SEEDING_MODES
    lines = ["## Weakest seeding that reproduces", "",
             "Order `none` < `python` < `torch` < `all` < `full`; `none works`: no mode did.", ""]
    skipped = [m for m in SEEDING_MODES if m not in report.modes]
    if skipped:
        lines[-1:-1] = ["", f"Not run here: {', '.join(map(code, skipped))}; the weakest "
                            "seeding is among the modes that ran."]
    rows = []
    for row in report.minimal_seeding.itertuples(index=False):
        labels = list(row[1:1 + len(report.cells)])
        spans = []
        for label, first, last in _runs(labels, report.cells):
            where = code(first) if first == last else f"{code(first)} … {code(last)}"
            spans.append(f"{code(label)} ({where})")
        rows.append([code(row.scenario), " → ".join(spans)])
    return lines + table(["scenario", "weakest seeding, by cell"], rows)


def _accuracy(report) -> list[str]:
    from harness.report import ACCURACY_METRIC, ACCURACY_SCENARIO
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


def failures(report) -> list[tuple[str, str, str]]:
    """[(cell, what failed, detail)]: failed cells, cells without a CSV, scenario errors."""
    out = [(cell, "cell failed", detail) for cell, detail in report.failures.items()]
    out += [(cell, "no CSV", "interrupted or still running; rerun with --resume")
            for cell in report.interrupted]
    repro = report.reproducibility
    bad = repro[repro["reproducible"].isin(["err", "timeout"])
                & ~repro["cell"].isin(report.failures)]
    grouped: dict[tuple, list[str]] = {}
    for r in bad.itertuples(index=False):
        grouped.setdefault((r.cell, r.scenario, r.reproducible, r.detail), []).append(r.seeding)
    for (cell, scenario, verdict, detail), modes in grouped.items():
        out.append((cell, f"{scenario}: {verdict} under {', '.join(modes)}", detail))
    return out


def accuracy_value(row, mode: str) -> str:
    """An accuracy.csv value for people: 4 decimals (the CSV keeps every digit), '~'
    in front of the mean of repeats that disagreed."""
    from harness.report import accuracy_column
    value = row[accuracy_column(mode)]
    try:
        shown = f"{float(value):.4f}"
    except ValueError:
        return value
    return f"~{shown}" if f"{mode}: repeats disagree" in row["note"] else shown


def _failures(report) -> list[str]:
    lines = ["## Cells that failed", ""]
    entries = [f"- {code(cell)}: **{text(what)}**: {text(detail, 300)}"
               for cell, what, detail in failures(report)]
    if not entries:
        entries = ["None: every scenario ran or was not applicable."]
    notes = [f"- {text(note, 300)}" for note in report.notes]
    return lines + entries + (["", "Notes:", ""] + notes if notes else [])
