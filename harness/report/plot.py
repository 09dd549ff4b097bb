"""The accuracy plot: pixel accuracy per cell and seeding mode, as inline SVG.

Every mode stays visible: each has its own marker shape and a small sideways
offset, so equal values do not hide each other; hollow markers are means of
repeats that disagreed. A dashed line marks what predicting background
everywhere scores, so 0.70 reads as "the net learned nothing". The x axis names
torch and torchvision; the SVG scales to the page (viewBox, width 100%).
"""
from __future__ import annotations

import html

from ..cell import modes as seeding_modes
from .model import accuracy_column, accuracy_value


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def _number(value):
    """An accuracy table value that is a number (values arrive parsed), else None."""
    return value if isinstance(value, float) else None


def _marker(shape: str, x: float, y: float, colour: str, hollow: bool, title: str) -> str:
    fill = "#fff" if hollow else colour
    common = f'fill="{fill}" stroke="{colour}" stroke-width="1.6"'
    if shape == "circle":
        body = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" {common}>'
        end = "</circle>"
    elif shape == "square":
        body = f'<rect x="{x - 3.6:.1f}" y="{y - 3.6:.1f}" width="7.2" height="7.2" {common}>'
        end = "</rect>"
    else:
        points = {"triangle": [(0, -5), (4.5, 3.5), (-4.5, 3.5)],
                  "diamond": [(0, -5), (4.5, 0), (0, 5), (-4.5, 0)],
                  "cross": [(-4, -1.5), (-1.5, -1.5), (-1.5, -4), (1.5, -4), (1.5, -1.5), (4, -1.5),
                            (4, 1.5), (1.5, 1.5), (1.5, 4), (-1.5, 4), (-1.5, 1.5), (-4, 1.5)],
                  "star": [(0, -5), (1.3, -1.6), (4.8, -1.5), (2, 0.7), (3, 4.2), (0, 2.1),
                           (-3, 4.2), (-2, 0.7), (-4.8, -1.5), (-1.3, -1.6)]}.get(
                      shape, [(0, -5), (4.5, 3.5), (-4.5, 3.5)])
        body = (f'<polygon points="{" ".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in points)}" '
                f"{common}>")
        end = "</polygon>"
    return f"{body}<title>{esc(title)}</title>{end}"


def accuracy_svg(report) -> str:
    records = list(report.accuracy.records())
    modes = report.modes
    series = {m: [_number(r[accuracy_column(m)]) for r in records] for m in modes}
    numbers = [v for values in series.values() for v in values if v is not None]
    if not numbers:
        return "<p>No numeric accuracy in this run.</p>"
    floor = report.background
    low = min(numbers + ([floor] if floor is not None else []))
    high = max(numbers)
    pad = max((high - low) * 0.08, 0.01)
    low, high = max(0.0, low - pad), min(1.0, high + pad)
    n = len(records)
    left, right, top, bottom, step = 64, 20, 20, 74, 70
    width = left + right + step * max(n - 1, 1) + 40
    height = 330
    plot_h = height - top - bottom

    def x(i, mode=None):
        offset = (modes.index(mode) - (len(modes) - 1) / 2) * 4 if mode else 0
        return left + 20 + step * i + offset

    def y(v):
        return top + plot_h * (1 - (v - low) / (high - low))
    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'style="width:100%;max-width:{width}px;height:auto" font-family="system-ui, sans-serif" '
           'font-size="11" role="img" aria-label="pixel accuracy per cell and seeding mode">']
    for k in range(6):
        value = low + (high - low) * k / 5
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                   f'stroke="#e5e5e5"/><text x="{left - 6}" y="{y(value) + 4:.1f}" '
                   f'text-anchor="end" fill="#555">{value:.3f}</text>')
    out.append(f'<text transform="translate(14,{top + plot_h / 2:.0f}) rotate(-90)" '
               'text-anchor="middle" fill="#333">pixel accuracy (share of mask pixels right)</text>')
    if floor is not None:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(floor):.1f}" y2="{y(floor):.1f}" '
                   'stroke="#b00020" stroke-dasharray="5,4"/>'
                   f'<text x="{width - right}" y="{y(floor) - 5:.1f}" text-anchor="end" '
                   f'fill="#b00020">{floor:.3f}: predicts background everywhere</text>')
    versions = report.evidence.versions
    for i, cell in enumerate(r["cell"] for r in records):
        v = versions.get(cell, {})
        out.append(f'<text x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle" '
                   f'fill="#333">torch {esc(v.get("torch", ""))}<title>{esc(cell)}</title></text>'
                   f'<text x="{x(i):.1f}" y="{height - bottom + 32}" text-anchor="middle" '
                   f'fill="#666">tv {esc(v.get("torchvision", ""))}</text>')
    for mode, values in series.items():
        colour = seeding_modes.get(mode).colour
        segment: list[str] = []
        for i, v in enumerate(values + [None]):
            if v is not None:
                segment.append(f"{x(i, mode):.1f},{y(v):.1f}")
            elif segment:
                out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                           f'stroke-opacity="0.8" points="{" ".join(segment)}"/>')
                segment = []
        for i, v in enumerate(values):
            if v is not None:
                shown = accuracy_value(records[i], mode)
                out.append(_marker(seeding_modes.get(mode).marker, x(i, mode), y(v), colour,
                                   shown.startswith("~"), f"{records[i]['cell']} {mode}: {shown}"))
    legend_y = height - 16
    for j, mode in enumerate(modes):
        lx = left + j * 110
        out.append(_marker(seeding_modes.get(mode).marker, lx, legend_y - 4,
                           seeding_modes.get(mode).colour, False, mode)
                   + f'<text x="{lx + 9}" y="{legend_y}" fill="#222">{esc(mode)} seeding</text>')
    out.append(f'<text x="{left + len(modes) * 110}" y="{legend_y}" fill="#555">hollow: repeats '
               'disagreed (mean)</text>')
    out.append("</svg>")
    return "\n".join(out)
