"""report.html: the answer first, for people. One self-contained file: no scripts,
no fonts or images fetched, nothing but this file.

The first screen holds the verdict: counts by severity (coloured, the colours are
the legend) and the top findings with why and fix. A contents line links to every
section. The heatmap shows only the rows that change, coloured by the severity of
the change at each cell, values printed in the cells, the names sticky while it
scrolls sideways inside its own box; each scenario name links to a section with
all its values and draws. Everything from the CSVs goes through ``esc``.
"""
from __future__ import annotations

import html
import re

from ..cell import modes
from . import advice
from . import severity as sev
from .drilldown import scenario_sections
from .model import (
    ACCURACY_METRIC, ACCURACY_SCENARIO, STATE_LABEL, TOP_FINDINGS, accuracy_value, failures,
    per_cell)
from .plot import accuracy_svg
from .words import (
    counts, finding_step, mode_lines, moving_pins, summary_rows, title, transition,
    upgrade_command, verdict_line, version_step)

CSS = """
*{box-sizing:border-box} body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;
margin:0 auto;padding:12px 16px;max-width:1280px;color:#1d1d1f}
h1{font-size:22px;margin:6px 0 2px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:0 0 4px}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f2f2f2;padding:0 3px;
border-radius:3px;overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:6px 10px;overflow-x:auto;font-size:13px;margin:4px 0}
pre code{background:none;padding:0}
nav.toc{font-size:13px;color:#555} nav.toc a{margin-right:10px;white-space:nowrap}
.facts{color:#555;margin:0 0 8px;font-size:14px}
.badges span{display:inline-block;padding:2px 9px;margin:2px 4px 2px 0;border-radius:12px;
font-size:14px;font-weight:600}
.verdict{font-size:16px;margin:6px 0 10px}
ol.findings{padding-left:0;list-style:none;margin:0}
ol.findings li{border-left:6px solid #999;background:#fafafa;padding:8px 12px;margin:0 0 10px}
ol.findings p{margin:3px 0}
.label{font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.03em;color:#555}
.scroll{overflow-x:auto;max-width:100%;border:1px solid #ddd}
.heatbox{overflow:auto;max-height:75vh}
table{border-collapse:collapse} th,td{border:1px solid #ddd;padding:2px 6px;font-size:12px;
vertical-align:top} th{background:#fafafa;text-align:left}
table.heat{border-collapse:separate;border-spacing:0}
table.heat td.v{text-align:center;white-space:nowrap;font-family:ui-monospace,monospace;
font-size:11px;min-width:44px}
table.heat th.v{text-align:center;font-size:11px;padding:2px 3px;white-space:nowrap}
table.heat th.n,table.heat td.n{position:sticky;background:#fff;z-index:1;overflow:hidden;
text-overflow:ellipsis;white-space:nowrap}
table.heat .n1{left:0;width:170px;max-width:170px;min-width:170px}
table.heat .n2{left:170px;width:74px;max-width:74px;min-width:74px}
table.heat .n3{left:244px;width:120px;max-width:120px;min-width:120px;box-shadow:2px 0 0 #bbb}
table.heat thead th{position:sticky;top:0;background:#fafafa;z-index:2}
table.heat thead th.n{z-index:3}
details{margin:6px 0} summary{cursor:pointer}
.muted{color:#666} .bad{color:#b00020} .ok{color:#1b6e3a}
@media (max-width:600px){body{padding:8px;font-size:14px} h1{font-size:19px}}
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def prose(sentence: str) -> str:
    """A sentence of words.py: escaped, its `spans` as <code>."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", esc(sentence))


def anchor(scenario: str) -> str:
    return "s-" + re.sub(r"[^A-Za-z0-9_-]", "-", scenario)


def badge(severity: str, label: str) -> str:
    record = sev.get(severity)
    return (f'<span style="background:{record.colour};'
            f'color:{record.ink}">{esc(label)}</span>')


def render(report, notes=()) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>rngdrift report: {esc(report.run_id)}</title>",
             f"<style>{CSS}</style></head><body>"]
    parts += _head(report) + _verdict(report) + _ask(report) + _by_step(report)
    parts += _heatmap(report) + _minimal(report) + _accuracy(report) + _scenarios(report)
    parts += _legend(report) + _failures(report)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _head(report) -> list[str]:
    v = report.evidence.versions
    first, last = v[report.cells[0]], v[report.cells[-1]]
    links = [("verdict", "Verdict"), ("steps", "All findings by step"), ("heatmap", "Heatmap"),
             ("weakest", "Weakest seeding")] + \
        ([("accuracy", "Accuracy")] if report.accuracy_present else []) + \
        [("scenarios", "Scenarios"), ("legend", "Seeding modes and legend")]
    return ['<nav class="toc">' + " ".join(f'<a href="#{a}">{t}</a>' for a, t in links) + "</nav>",
            f"<h1>rngdrift: what changes from torch {esc(first['torch'])} to {esc(last['torch'])}</h1>",
            f'<p class="facts">Run <code>{esc(report.run_id)}</code>: {len(report.cells)} cells, '
            f"{len(report.scenarios)} scenarios, seeding {esc(', '.join(report.modes))}, "
            f"{report.repeats} repeats each.</p>"]


def _verdict(report) -> list[str]:
    found = counts(report.findings)
    out = ['<section id="verdict">',
           '<p class="badges">' + "".join(badge(s, f"{found[s]} {sev.get(s).plural}")
                                          for s in sev.NAMES if found[s]) + "</p>",
           f'<p class="verdict"><b>{esc(verdict_line(report))}</b></p>']
    if report.failing_everywhere:
        out.append('<p class="bad">Failing in every cell, under every mode: ' + "; ".join(
            f"<code>{esc(s)}</code> ({esc(d)})" for s, d in report.failing_everywhere[:8])
            + ("…" if len(report.failing_everywhere) > 8 else "") + ".</p>")
    actionable = [f for f in report.findings if sev.get(f.severity).actionable]
    out.append('<ol class="findings">')
    out += [finding_item(report, f) for f in actionable[:TOP_FINDINGS]]
    out.append("</ol>")
    if len(actionable) > TOP_FINDINGS:
        out.append(f"<p>… and {len(actionable) - TOP_FINDINGS} more findings under "
                   '<a href="#steps">all findings by step</a>.</p>')
    return out + ["</section>"]


def finding_item(report, finding) -> str:
    record = sev.get(finding.severity)
    lines = [f'<li style="border-left-color:{record.colour}">',
             f"<h3>{badge(finding.severity, record.heading)} at "
             f"{esc(finding_step(report.evidence, finding))}</h3>",
             f"<p>{prose(title(finding))}.</p>",
             f'<p><span class="label">What</span> {prose(summary_rows(finding))}.</p>']
    why = []
    if finding.cause:
        why.append(f'known change <a href="{esc(finding.cause.link)}">'
                   f"<code>{esc(finding.cause.id)}</code></a>")
    elif finding.explanation.candidates:
        why.append("candidates: " + ", ".join(f'<a href="{esc(c.link)}"><code>{esc(c.id)}'
                                              "</code></a>" for c in finding.explanation.candidates))
    if finding.mechanism:
        why.append(prose(finding.mechanism))
    if why:
        lines.append(f'<p><span class="label">Why</span> {"; ".join(why)}.</p>')
    fix = finding.fix
    if fix:
        lines.append(f'<p><span class="label">Fix</span> {prose(fix.text)}</p>')
        if fix.add:
            lines.append("<pre class=\"scroll\"><code>" + esc("\n".join(fix.add)) + "</code></pre>")
        if fix.verified:
            lines.append(f'<p class="ok">{prose(fix.verified.text[:1].upper() + fix.verified.text[1:])}.</p>')
        elif fix.to_verify:
            lines.append(f'<p class="muted">Not verified: {prose(fix.to_verify)}.</p>')
        if fix.upstream:
            lines.append(f'<p class="muted">Upstream advice: {prose(fix.upstream)}.</p>')
    return "\n".join(lines) + "</li>"


def _ask(report) -> list[str]:
    if len(report.cells) < 3:
        return []
    return [f"<p>Upgrading from one version to another? <code>{esc(upgrade_command(report))}"
            "</code> lists what that upgrade changes, each finding at the step where it first "
            "appears.</p>"]


def _by_step(report) -> list[str]:
    out = ['<h2 id="steps">All findings by upgrade step</h2>']
    versions = report.evidence.versions
    shown = [f for f in report.findings if not sev.get(f.severity).folded]
    for before, after in report.upgrade_steps:
        here = [f for f in shown if f.step == (before, after)]
        if not here:
            continue
        found = counts(here)
        summary = "".join(badge(s, f"{found[s]} {sev.get(s).plural}") for s in sev.NAMES
                          if found[s])
        out.append(f'<details><summary><b>{esc(version_step(versions, before, after))}</b> '
                   f'<span class="badges">{summary}</span></summary><ol class="findings">')
        out += [finding_item(report, f) for f in here]
        out.append("</ol></details>")
    folded = [f for f in report.findings if sev.get(f.severity).folded]
    if folded:
        rows = "".join(f"<tr><td>{badge(t.severity, sev.get(t.severity).heading)}</td>"
                       f"<td>{esc(f.first_seen)}</td><td>{prose(transition(t))}</td></tr>"
                       for f in folded for t in f.transitions)
        out.append(f"<details><summary>Folded: {sum(len(f.transitions) for f in folded)} rows of "
                   "unseeded noise, availability or harness recipe changes</summary>"
                   f'<div class="scroll"><table>{rows}</table></div>')
        out.append('<ol class="findings">' + "".join(
            finding_item(report, f) for f in folded if f.severity == sev.HARNESS and f.fix)
            + "</ol></details>")
    return out


def _heatmap(report) -> list[str]:
    cells = report.cells
    severity_at: dict[tuple, str] = {}
    for finding in report.findings:
        for t in finding.transitions:
            severity_at[(t.scenario, t.seeding, t.metric, t.after_cell)] = t.severity
    changed, quiet = [], 0
    for (row, labels), (_, values) in zip(per_cell(report.drift, cells),
                                          per_cell(report.shown, cells)):
        key = (row["scenario"], row["seeding"], row["metric"])
        marks = [severity_at.get((*key, c)) for c in cells]
        if not any(m and not sev.get(m).folded for m in marks):
            quiet += 1
            continue
        changed.append((key, values, marks))
    versions = report.evidence.versions
    head = "".join(f'<th class="v" title="{esc(c)}">{esc(versions[c]["torch"])}<br>'
                   f'<small>{esc(versions[c]["torchvision"])}'
                   + "".join(f"<br>{esc(pin)}" for pin in moving_pins(versions, c))
                   + "</small></th>" for c in cells)
    out = ['<h2 id="heatmap">Heatmap: the rows that change</h2>',
           f'<p class="muted">{len(changed)} rows (scenario, seeding, metric) with a change; '
           f"{quiet} more only change by unseeded noise or availability, or never (drift.csv has "
           "them all). Columns: torch above torchvision. A coloured cell is where the change "
           "happened, by severity; letters are value groups per row (A, B …), <code>~</code> "
           "means the repeats disagreed. The table scrolls in its box; its header and names "
           "stay.</p>",
           '<div class="scroll heatbox"><table class="heat"><thead><tr>'
           '<th class="n n1">scenario</th><th class="n n2">seeding</th>'
           f'<th class="n n3">metric</th>{head}</tr></thead><tbody>']
    for (scenario, seeding, metric), values, marks in changed:
        tds = [f'<td class="n n1" title="{esc(scenario)}"><a href="#{anchor(scenario)}">'
               f"{esc(scenario)}</a></td>",
               f'<td class="n n2">{esc(seeding)}</td>'
               f'<td class="n n3" title="{esc(metric)}">{esc(metric)}</td>']
        for value, mark in zip(values, marks):
            style = (f' style="background:{sev.get(mark).colour};color:{sev.get(mark).ink}"'
                     if mark else "")
            tds.append(f'<td class="v"{style}{_short(value)}</td>')
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table></div>")
    return out


def _short(value: str) -> str:
    """A heatmap cell's text: a state with its reason ('n/a needs torchvision>=0.8; cell
    has 0.4.0') or a value group with its number shows its first word, the rest on
    hover, so 17 cells fit a screen."""
    word, _, rest = value.partition(" ")
    if rest and (word in STATE_LABEL.values() or len(word) <= 2):
        # 'A 0.981506' shows its group letter; the number is on hover and in drift.csv
        return f' title="{esc(value)}">{esc(word)}'
    return f">{esc(value)}"


def _minimal(report) -> list[str]:
    cells = report.cells
    out = ['<h2 id="weakest">Weakest seeding that reproduces</h2>',
           "<p>Per scenario and cell: the weakest modes under which every repeat agreed, that "
           "seed every generator the scenario drew from (no chance agreement counts) and keep "
           f"its correctness goals; <code>{esc(advice.NO_MODE)}</code> where none does.</p>",
           "<details><summary>The table</summary><div class=\"scroll\"><table><thead><tr>"
           "<th>scenario</th>" + "".join(f"<th>{esc(report.evidence.versions[c]['torch'])}</th>"
                                         for c in cells) + "</tr></thead><tbody>"]
    for row, labels in per_cell(report.minimal_seeding, cells):
        out.append(f'<tr><td><a href="#{anchor(row["scenario"])}">{esc(row["scenario"])}</a></td>'
                   + "".join(f"<td>{esc(label)}</td>" for label in labels) + "</tr>")
    return out + ["</tbody></table></div></details>"]


def _accuracy(report) -> list[str]:
    if not report.accuracy_present:
        return []
    out = [f'<h2 id="accuracy">Accuracy: <code>{ACCURACY_SCENARIO}</code> '
           f"<code>{ACCURACY_METRIC}</code></h2>",
           "<p>The original report's experiment in miniature: a segmentation net trained "
           "with the reseed-before-image-and-mask idiom, under each seeding mode.</p>",
           accuracy_svg(report)]
    rows = "".join("<tr><td>" + "</td><td>".join(
        [esc(r["torch"]), esc(r["torchvision"])]
        + [esc(accuracy_value(r, m)) for m in report.modes]) + "</td></tr>"
        for r in report.accuracy.records())
    return out + ["<details><summary>The table</summary><div class=\"scroll\"><table><tr>"
                  "<th>torch</th><th>torchvision</th>"
                  + "".join(f"<th>{esc(m)}</th>" for m in report.modes)
                  + f"</tr>{rows}</table></div></details>"]


def _scenarios(report) -> list[str]:
    return ['<h2 id="scenarios">Scenarios</h2>',
            "<p>Every scenario's values and draws, cell by cell (open one).</p>",
            *scenario_sections(report, anchor, esc)]


def _legend(report) -> list[str]:
    out = ['<h2 id="legend">Seeding modes and legend</h2><ul>']
    out += [f"<li><code>{esc(m)}</code>{' (a fix recipe)' if modes.get(m).recipe else ''}: "
            f"{esc(modes.get(m).summary)}. {prose(mode_lines(m))}</li>" for m in report.modes]
    out.append("</ul><ul>")
    out += [f"<li>{badge(s.name, s.heading)} {esc(s.words)}</li>" for s in sev.SEVERITIES]
    return out + ["</ul>"]


def _failures(report) -> list[str]:
    entries = failures(report)
    if not entries and not report.notes:
        return []
    out = ['<h2 class="bad">Cells that failed</h2><ul>']
    out += [f"<li><code>{esc(cell)}</code>: <b>{esc(what)}</b>: {esc(detail)}</li>"
            for cell, what, detail in entries]
    out += [f'<li class="muted">note: {esc(n)}</li>' for n in report.notes]
    return out + ["</ul>"]
