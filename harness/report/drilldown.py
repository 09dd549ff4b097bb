"""One collapsed section per scenario in report.html: every (seeding, metric) value
and every draw row (sources.csv) of that scenario, cell by cell. Rows of the
heatmap and the weakest-seeding table link here."""
from __future__ import annotations

from .model import per_cell
from .words import moving_pins


def scenario_sections(report, anchor, esc) -> list[str]:
    cells = report.cells
    versions = report.evidence.versions
    head = "".join(f"<th>{esc(versions[c]['torch'])}<br>{esc(versions[c]['torchvision'])}"
                   + "".join(f"<br>{esc(pin)}" for pin in moving_pins(versions, c)) + "</th>"
                   for c in cells)
    values: dict[str, list[str]] = {}
    for row, shown in per_cell(report.shown, cells):
        values.setdefault(row["scenario"], []).append(
            f"<tr><td>{esc(row['seeding'])}</td><td>{esc(row['metric'])}</td>"
            + "".join(f"<td>{esc(v)}</td>" for v in shown) + "</tr>")
    draws: dict[str, list[str]] = {}
    for row, shown in per_cell(report.sources, cells):
        draws.setdefault(row["scenario"], []).append(
            f"<tr><td>{esc(row['seeding'])}</td><td>{esc(row['metric'])}</td>"
            + "".join(f"<td>{esc(v)}</td>" for v in shown) + "</tr>")
    changed = {t.scenario for f in report.findings for t in f.transitions}
    out = []
    for scenario in sorted(set(values) | set(draws)):
        mark = " (changes)" if scenario in changed else ""
        out.append(f'<details id="{anchor(scenario)}"><summary><code>{esc(scenario)}</code>'
                   f"{mark}</summary>")
        if scenario in values:
            out.append('<div class="scroll"><table><thead><tr><th>seeding</th><th>metric</th>'
                       f"{head}</tr></thead><tbody>{''.join(values[scenario])}</tbody></table></div>")
        if scenario in draws:
            out.append('<p class="muted">Draws: generators its results depend on (1), the '
                       "harness recipe it was handed, and the random APIs it called most, in its "
                       "own process and in its workers or processes.</p>"
                       '<div class="scroll"><table><thead><tr><th>seeding</th><th>draw</th>'
                       f"{head}</tr></thead><tbody>{''.join(draws[scenario])}</tbody></table></div>")
        out.append("</details>")
    return out
