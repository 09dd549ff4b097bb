"""report.html: the report for people, one self-contained file (no scripts, no CDN).

The drift table becomes a heatmap (rows: scenario × seeding × metric, columns:
cells oldest first, colour: value group), the accuracy table an inline SVG
plot. Every value from the CSVs passes through ``esc``.
"""
from __future__ import annotations

import html

from harness.cell.schema import CALLS_PREFIX, RNG_PREFIX
from harness.report.model import (
    ACCURACY_METRIC, ACCURACY_SCENARIO, LEGEND, NONE_WORKS, NOT_MEASURED, accuracy_column,
    accuracy_value, cell_step, change_points, failures, per_cell, source_changes, versions)
from harness.text import plural

# Group letters cycle through these; the special labels have their own colours.
PALETTE = ("#8ecae6", "#ffd166", "#b5e48c", "#f4a3c1", "#cdb4db", "#90e0c8",
           "#ffb38a", "#a0c4ff", "#e9c46a", "#c8d5b9", "#f7a072", "#bde0fe")
SPECIAL = {"~": "#d9d9d9", "n/a": "#f4f4f4", "err": "#e63946", "timeout": "#f3722c",
           "-": "#ffffff"}
MODE_COLOURS = {"none": "#888888", "python": "#1f77b4", "torch": "#ff7f0e", "all": "#2ca02c",
                "full": "#9467bd"}
VERDICT = {"yes": "#b5e48c", "no": "#f4a3a3", "untested": "#f4f4f4", "n/a": "#f4f4f4",
           "err": "#e63946", "timeout": "#f3722c", "-": "#ffffff"}

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 2px 6px; font-size: 12px; vertical-align: top; }
th { background: #fafafa; text-align: left; }
.heat td.v, .grid td.v { text-align: center; min-width: 44px; font-family: ui-monospace, monospace; }
.heat td.chg { box-shadow: inset 3px 0 0 #222; font-weight: bold; }
tr.first td { border-top: 2px solid #999; }
td.same { color: #bbb; }
.heat thead th, .grid thead th { position: sticky; top: 0; z-index: 1; }
th.cell { text-align: center; white-space: nowrap; }
.legend span { display: inline-block; padding: 0 6px; margin: 2px 4px 2px 0; border: 1px solid #ccc; font-family: ui-monospace, monospace; font-size: 12px; }
.muted { color: #666; } .bad { color: #b00020; }
ul { margin-top: 4px; }
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def colour(label: str) -> str:
    if label in SPECIAL:
        return SPECIAL[label]
    index = 0
    for char in label:
        index = index * 26 + (ord(char) - ord("A") + 1)
    return PALETTE[(index - 1) % len(PALETTE)]


def cell_header(report, cell: str) -> str:
    m = versions(report, cell)
    return (f'<th class="cell" title="{esc(cell)}">torch {esc(m["torch"])}<br>'
            f'tv {esc(m["torchvision"])}<br><span class="muted">py {esc(m["python"])}</span></th>')


def _code(value) -> str:
    return f"<code>{esc(value)}</code>"


def render(report) -> str:
    cells = report.cells
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>rngdrift report: {esc(report.run_id)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>rngdrift report: run {esc(report.run_id)}</h1>",
        f'<p class="muted">{plural(len(cells), "cell")}, oldest {_code(cells[0])}, '
        f"newest {_code(cells[-1])}; {plural(len(report.scenarios), 'scenario')}; "
        f"seeding {', '.join(map(_code, report.modes))}; "
        f"{plural(report.repeats, 'repeat')}; numbers equal "
        f"within atol={report.tol.atol:g}, rtol={report.tol.rtol:g}.</p>",
    ]
    parts += _failures(report)
    parts += _changes(report)
    parts += _accuracy(report)
    parts += _heatmap(report)
    parts += _grid(report, "Reproducibility: did every repeat agree?", _verdicts(report),
                   VERDICT)
    parts += _grid(report, "Weakest seeding that reproduces",
                   {(r["scenario"], ""): values
                    for r, values in per_cell(report.minimal_seeding, cells)},
                   {**{m: MODE_COLOURS.get(m, "#eee") + "55" for m in report.modes},
                    NONE_WORKS: "#f4a3a3", **VERDICT})
    parts += _sources(report)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _legend() -> str:
    spans = []
    for label, meaning in LEGEND.items():
        background = colour("A") if label.startswith("A") else colour(label)
        spans.append(f'<span style="background:{background}">{esc(label)}</span>{esc(meaning)}')
    return '<p class="legend">' + " &nbsp; ".join(spans) + "</p>"


def _changes(report) -> list[str]:
    points = change_points(report)
    sources = source_changes(report)
    out = ["<h2>Change points</h2>"]
    if not points and not sources:
        return out + ["<p>No value changes from one cell to the next.</p>"]
    previous = None
    for cell in report.cells:
        hits, moved = points.get(cell, []), sources.get(cell, [])
        if hits or moved:
            out.append(f"<h3>{_code(cell)}: {esc(cell_step(report, cell, previous))}</h3>")
        if hits:
            out.append("<table><tr><th>scenario</th><th>metric</th><th>seeding</th>"
                       "<th>before</th><th>after</th></tr>")
            for scenario, metric, before, after, seedings in hits:
                out.append(f"<tr><td>{_code(scenario)}</td><td>{_code(metric)}</td>"
                           f"<td>{esc(', '.join(seedings))}</td>{_label_td(before)}"
                           f"{_label_td(after)}</tr>")
            out.append("</table>")
        if moved:
            out.append(f"<p>Draws under <code>{esc(report.sources_seeding)}</code> seeding:</p><ul>")
            out += [f"<li>{_code(s)}: " + "; ".join(f"{_code(what)} {esc(how)}" for what, how in changes)
                    + "</li>" for s, changes in moved]
            out.append("</ul>")
        previous = cell
    return out


def _label_td(shown: str) -> str:
    label = shown.split(" ", 1)[0]
    return f'<td style="background:{colour(label)}">{esc(shown)}</td>'


def _heatmap(report) -> list[str]:
    cells = report.cells
    out = ["<h2>Drift: value groups per cell</h2>",
           '<p class="muted">One row per scenario, seeding and metric (drift.csv); a bold cell '
           "with a dark left edge is a change point. Hover a cell for its value.</p>",
           _legend(), '<table class="heat"><thead><tr><th>scenario</th><th>seeding</th>'
           "<th>metric</th>" + "".join(cell_header(report, c) for c in cells) + "</tr></thead><tbody>"]
    previous = None
    for (drift, labels), (_, shown) in zip(per_cell(report.drift, cells),
                                           per_cell(report.shown, cells)):
        changed = set(drift["changes_at"].split())
        first = drift["scenario"] != previous
        tds = [f'<td class="{"" if first else "same"}">{esc(drift["scenario"])}</td>',
               f"<td>{esc(drift['seeding'])}</td>", f"<td>{esc(drift['metric'])}</td>"]
        for cell, label, title in zip(cells, labels, shown):
            css = "v chg" if cell in changed else "v"
            tds.append(f'<td class="{css}" style="background:{colour(label)}" '
                       f'title="{esc(cell)}: {esc(title)}">{esc(label)}</td>')
        out.append(f'<tr class="{"first" if first else ""}">' + "".join(tds) + "</tr>")
        previous = drift["scenario"]
    out.append("</tbody></table>")
    return out


def _verdicts(report) -> dict[tuple, list[str]]:
    lookup = {(r.scenario, r.seeding, r.cell): r.reproducible
              for r in report.reproducibility.itertuples(index=False)}
    keys = list(dict.fromkeys((r.scenario, r.seeding)
                              for r in report.reproducibility.itertuples(index=False)))
    return {key: [lookup.get((*key, c), NOT_MEASURED) for c in report.cells] for key in keys}


def _grid(report, title: str, rows: dict[tuple, list[str]], colours: dict[str, str]) -> list[str]:
    with_seeding = any(key[1] for key in rows)
    head = "<th>scenario</th>" + ("<th>seeding</th>" if with_seeding else "")
    out = [f"<h2>{esc(title)}</h2>", '<table class="grid"><thead><tr>' + head
           + "".join(cell_header(report, c) for c in report.cells) + "</tr></thead><tbody>"]
    previous = None
    for key, labels in rows.items():
        first = key[0] != previous
        tds = [f'<td class="{"" if first else "same"}">{esc(key[0])}</td>']
        tds += [f"<td>{esc(key[1])}</td>"] if with_seeding else []
        tds += [f'<td class="v" style="background:{colours.get(label, "#fff")}">{esc(label)}</td>'
                for label in labels]
        out.append(f'<tr class="{"first" if first and with_seeding else ""}">' + "".join(tds)
                   + "</tr>")
        previous = key[0]
    out.append("</tbody></table>")
    return out


def _sources(report) -> list[str]:
    cells = report.cells
    out = [f"<h2>Sources: what each scenario draws from ({esc(report.sources_seeding)} seeding)</h2>",
           '<p class="muted">Generator rows: 1 when that generator\'s state advanced. API rows: '
           "calls counted in the main process (sources.csv).</p>",
           '<table class="grid"><thead><tr><th>scenario</th><th>generator / API</th>'
           + "".join(cell_header(report, c) for c in cells) + "</tr></thead><tbody>"]
    previous = None
    for row, values in per_cell(report.sources, cells):
        changed = set(row["changes_at"].split())
        name = row["metric"].removeprefix(CALLS_PREFIX).removeprefix(RNG_PREFIX)
        first = row["scenario"] != previous
        previous = row["scenario"]
        tds = [f'<td class="{"" if first else "same"}">{esc(row["scenario"])}</td>',
               f"<td>{esc(name)}</td>"]
        for cell, value in zip(cells, values):
            style = "background:#fff3b0;" if cell in changed else ""
            style += "color:#bbb;" if value in ("0", "-") else ""
            tds.append(f'<td class="v" style="{style}">{esc(value)}</td>')
        out.append(f'<tr class="{"first" if first else ""}">' + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return out


def _failures(report) -> list[str]:
    entries = failures(report)
    if not entries and not report.notes:
        return []
    out = ["<h2 class=\"bad\">Cells that failed</h2><ul>"] if entries else ["<ul>"]
    out += [f"<li>{_code(cell)}: <b>{esc(what)}</b>: {esc(detail)}</li>"
            for cell, what, detail in entries]
    out += [f"<li class=\"muted\">note: {esc(n)}</li>" for n in report.notes]
    out.append("</ul>")
    return out


def _accuracy(report) -> list[str]:
    out = [f"<h2>Accuracy: {_code(ACCURACY_SCENARIO)} {_code(ACCURACY_METRIC)}</h2>"]
    if not report.accuracy_present:
        return out + [f"<p>{_code(ACCURACY_SCENARIO)} is not in this run.</p>"]
    out.append(accuracy_svg(report))
    acc = report.accuracy
    out.append("<table><tr><th>cell</th><th>python</th><th>torch</th><th>torchvision</th>"
               + "".join(f"<th>{esc(m)} seeding</th>" for m in report.modes) + "<th>note</th></tr>")
    for _, r in acc.iterrows():
        tds = [f'<td style="white-space:nowrap">{esc(r["cell"])}</td>']
        tds += [f"<td>{esc(r[c])}</td>" for c in ("python", "torch", "torchvision")]
        tds += [f"<td>{esc(accuracy_value(r, m))}</td>" for m in report.modes]
        tds.append(f"<td>{esc(r['note'])}</td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</table>")
    return out


def _number(text: str):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def accuracy_svg(report) -> str:
    """A line per seeding mode: pixel accuracy (y) over the cells oldest first (x)."""
    acc = report.accuracy
    series = {m: [_number(v) for v in acc[accuracy_column(m)]] for m in report.modes}
    numbers = [v for values in series.values() for v in values if v is not None]
    if not numbers:
        return "<p>No numeric accuracy in this run.</p>"
    low, high = min(numbers), max(numbers)
    if high - low < 0.05:
        low, high = low - 0.025, high + 0.025
    pad = (high - low) * 0.08
    low, high = max(0.0, low - pad), min(1.0, high + pad) if high <= 1 else high + pad
    n = len(acc)
    left, right, top, bottom, step = 56, 150, 16, 96, 64
    width, height = left + right + step * max(n - 1, 1), 300
    plot_h = height - top - bottom

    def x(i):
        return left + (step * i if n > 1 else step / 2)

    def y(v):
        return top + plot_h * (1 - (v - low) / (high - low))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="11" '
           'role="img" aria-label="pixel accuracy per cell and seeding mode">']
    for k in range(6):
        value = low + (high - low) * k / 5
        out.append(f'<line x1="{left}" x2="{x(n - 1) if n > 1 else width - right}" y1="{y(value):.1f}" '
                   f'y2="{y(value):.1f}" stroke="#e5e5e5"/><text x="{left - 6}" y="{y(value) + 4:.1f}" '
                   f'text-anchor="end" fill="#666">{value:.3f}</text>')
    for i, cell in enumerate(acc["cell"]):
        label = f"tv {versions(report, cell)['torchvision']}"
        out.append(f'<text transform="translate({x(i):.1f},{height - bottom + 14}) rotate(40)" '
                   f'fill="#444">{esc(label)}<title>{esc(cell)}</title></text>')
    for j, (mode, values) in enumerate(series.items()):
        col = MODE_COLOURS.get(mode, "#333")
        segment: list[str] = []
        for i, v in enumerate(values + [None]):
            if v is not None:
                segment.append(f"{x(i):.1f},{y(v):.1f}")
            elif segment:
                out.append(f'<polyline fill="none" stroke="{col}" stroke-width="2" '
                           f'points="{" ".join(segment)}"/>')
                segment = []
        for i, v in enumerate(values):
            if v is not None:
                shown = accuracy_value(acc.iloc[i], mode)
                fill = "#fff" if shown.startswith("~") else col
                out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{fill}" '
                           f'stroke="{col}" stroke-width="1.5"><title>{esc(acc["cell"].iloc[i])} '
                           f"{esc(mode)}: {esc(shown)}</title></circle>")
        lx, ly = width - right + 16, top + 14 + 18 * j
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{col}" '
                   f'stroke-width="2"/><text x="{lx + 24}" y="{ly}" fill="#222">{esc(mode)}</text>')
    out.append(f'<text x="{width - right + 16}" y="{top + 14 + 18 * len(series) + 8}" '
               'fill="#666">hollow: repeats</text>'
               f'<text x="{width - right + 16}" y="{top + 14 + 18 * len(series) + 22}" '
               'fill="#666">disagreed (mean)</text>')
    out.append("</svg>")
    return "\n".join(out)
