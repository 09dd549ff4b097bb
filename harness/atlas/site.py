"""The atlas as a static site: plain files, no server, nothing fetched.

    index.html            the run, a search box, every release step, every API
    steps/<step>.html     one page per release step: its findings with causes, fixes and
                          evidence (every row), the APIs they touch, other CPU classes
    apis/<api>.html       one page per random API: every release that changed it
    search.json           the search index (and search-index.js, the same for file://)
    atlas.js              the search: vanilla JavaScript over that index

Findings are drawn by the report's own ``html_page.finding_item`` and worded by
``words``, so a step page says what report.html says about that step.
"""
from __future__ import annotations

import json

from ..report import html_page
from ..report import severity as sev
from ..report.html_page import badge, esc, prose
from ..report.words import counts, title, transition, verdict
from .search import SCRIPT, entries

CSS = html_page.CSS + """
header.bar{display:flex;gap:14px;flex-wrap:wrap;font-size:14px;margin:2px 0 6px}
#q{font:16px system-ui,sans-serif;padding:6px 10px;width:100%;max-width:640px;
border:1px solid #bbb;border-radius:6px}
#results{padding-left:18px} #results .kind{color:#777;font-size:12px}
table.list td,table.list th{font-size:13px;padding:3px 8px}
h1 code{font-size:inherit} .apis a{margin-right:8px} .note{background:#fff7e0;border-left:4px solid #f2c14e;padding:4px 10px}
"""


def page(title_text: str, body: list[str], depth: int) -> str:
    up = "../" * depth
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title_text)} · rngdrift atlas</title>", f"<style>{CSS}</style></head><body>",
        f'<header class="bar"><a href="{up}index.html">rngdrift atlas</a>'
        f'<a href="{up}index.html#steps">release steps</a>'
        f'<a href="{up}index.html#apis">random APIs</a></header>', *body, "</body></html>"]) + "\n"


def step_href(step) -> str:
    return f"steps/{step.slug}.html"


def api_href(api) -> str:
    return f"apis/{api.slug}.html"


def _torch(atlas, cell: str) -> str:
    return atlas.report.evidence.versions[cell]["torch"]


def _badges(found) -> str:
    n = counts(found)
    shown = "".join(badge(s, f"{n[s]} {sev.get(s).plural}") for s in sev.NAMES if n[s])
    return f'<span class="badges">{shown}</span>' if shown else ""


# -- index ------------------------------------------------------------------------------

def index_page(atlas) -> str:
    report, steps = atlas.report, atlas.steps
    first, last = report.cells[0], report.cells[-1]
    body = ["<h1>rngdrift atlas: what every torch/torchvision release did to random streams</h1>",
            f'<p class="facts">Run <code>{esc(report.run_id)}</code>: {len(report.cells)} cells '
            f"from torch {esc(_torch(atlas, first))} to {esc(_torch(atlas, last))}, "
            f"{len(report.scenarios)} scenarios, seeding {esc(', '.join(report.modes))}, "
            f"{report.repeats} repeats each, on {esc(atlas.platform)}"
            + "".join(f"; also {esc(o.platform)}" for o in atlas.others) + ".</p>",
            '<p><input id="q" type="search" placeholder="Search: torch.multinomial, 2.4, '
            'RandomResizedCrop, dropout, worker…" aria-label="search the atlas" autofocus></p>',
            '<ul id="results" data-count="0"></ul>',
            "<p>Offline, for one upgrade: <code>rngdrift explain --from "
            f"{esc(_torch(atlas, steps[0].before if steps else first))} --to "
            f"{esc(_torch(atlas, last))}</code> (add <code>--api NAME</code> for one API).</p>",
            '<h2 id="steps">Release steps</h2>', '<div class="scroll"><table class="list">'
            "<tr><th>step</th><th>findings</th><th>the first of them</th></tr>"]
    for step in steps:
        top = step.actionable[0] if step.actionable else None
        body.append(f'<tr><td><a href="{step_href(step)}">{esc(step.words)}</a></td>'
                    f"<td>{_badges(step.findings) or 'nothing changed'}</td>"
                    f"<td>{prose(title(top)) if top else ''}</td></tr>")
    body += ["</table></div>", '<h2 id="apis">APIs</h2>',
             '<p class="muted">The random APIs rngdrift traces, and the other APIs a catalogued '
             "change names (a kernel's arithmetic: <code>torch.matmul</code> for MKL's gemm).</p>",
             '<div class="scroll"><table class="list"><tr><th>API</th><th>what</th>'
             "<th>releases that changed it</th></tr>"]
    for api, found in atlas.apis:
        if not found and api.name not in {a.name for a in _vocabulary(atlas)}:
            continue
        releases = ", ".join(dict.fromkeys(_torch(atlas, e.step.after) for e in found))
        body.append(f'<tr><td><a href="{api_href(api)}">{esc(api.name)}</a></td>'
                    f"<td>{esc(api.title)}</td><td>{esc(releases) or 'none in this run'}</td></tr>")
    body += ["</table></div>", '<script src="search-index.js"></script>',
             '<script src="atlas.js"></script>']
    return page("release steps and random APIs", body, 0)


def _vocabulary(atlas):
    return [api for api, _ in atlas.apis if api.scenarios]


# -- a release step ---------------------------------------------------------------------

def step_page(atlas, step) -> str:
    report = atlas.report
    v = report.evidence.versions
    prev_ = atlas.steps[step.index - 2] if step.index > 1 else None
    next_ = atlas.steps[step.index] if step.index < len(atlas.steps) else None
    nav = " · ".join(filter(None, [
        f'<a href="{prev_.slug}.html">← {esc(prev_.words)}</a>' if prev_ else "",
        f'<a href="{next_.slug}.html">{esc(next_.words)} →</a>' if next_ else ""]))
    body = [f'<nav class="toc">{nav}</nav>', f"<h1>{esc(step.words)}</h1>",
            f'<p class="facts">From <code>{esc(step.before)}</code> to <code>{esc(step.after)}'
            f"</code> (Python {esc(v[step.before].get('python'))} → "
            f"{esc(v[step.after].get('python'))}); run <code>{esc(report.run_id)}</code> on "
            f"{esc(atlas.platform)}.</p>",
            f"<p>{_badges(step.findings)}</p>",
            f'<p class="verdict"><b>{esc(verdict(list(step.findings), 1))}</b></p>',
            f"<p>Ask offline: <code>rngdrift explain --from {esc(v[step.before]['torch'])} "
            f"--to {esc(v[step.after]['torch'])}</code></p>"]
    if step.actionable:
        body.append('<ol class="findings">')
        body += [_finding(atlas, f, n) for n, f in enumerate(step.actionable, 1)]
        body.append("</ol>")
    else:
        body.append("<p>Nothing broke, lost reproducibility or drifted at this step.</p>")
    if step.folded:
        rows = "".join(f"<tr><td>{badge(t.severity, sev.get(t.severity).heading)}</td>"
                       f"<td>{prose(transition(t))}</td></tr>"
                       for f in step.folded for t in f.transitions)
        body.append(f"<details><summary>Folded: {sum(len(f.transitions) for f in step.folded)} "
                    "rows of unseeded noise, availability or harness recipe changes</summary>"
                    f'<div class="scroll"><table>{rows}</table></div></details>')
    body += _other_classes(atlas, step)
    return page(step.words, body, 1)


def _finding(atlas, finding, number: int) -> str:
    item = html_page.finding_item(atlas.report, finding)
    extra = []
    apis = atlas.finding_apis.get(id(finding), [])
    if apis:
        extra.append('<p class="apis"><span class="label">APIs</span> ' + "".join(
            f'<a href="../{api_href(api)}"><code>{esc(api.name)}</code></a>' for api in apis)
            + "</p>")
    platform = atlas.platform_rows(finding)
    if platform:
        extra.append(f'<p class="note">{len(platform)} of these rows are known to differ '
                     f"between CPU classes at the same pins (platform_dependence.csv); measured "
                     f"here on {esc(atlas.platform)}"
                     + ("" if atlas.others else ": other classes may see another step") + ".</p>")
    rows = "".join(f"<tr><td>{badge(t.severity, sev.get(t.severity).heading)}</td>"
                   f"<td>{prose(transition(t))}</td></tr>" for t in finding.transitions)
    extra.append(f"<details><summary>Evidence: {len(finding.transitions)} rows</summary>"
                 f'<div class="scroll"><table>{rows}</table></div></details>')
    item = item.replace("<li ", f'<li id="f-{number}" ', 1)
    return item[:-len("</li>")] + "\n".join(extra) + "</li>"


def _other_classes(atlas, step) -> list[str]:
    from .model import signature
    out = []
    for other in atlas.others:
        if step.after not in other.report.cells or step.before not in other.report.cells:
            out.append(f"<h2>On {esc(other.platform)}</h2><p>That run has no such step.</p>")
            continue
        theirs = [f for f in other.by_step.get(step.after, [])
                  if not sev.get(f.severity).folded]
        ours = {signature(f) for f in step.actionable}
        differ = [f for f in theirs if signature(f) not in ours]
        missing = len(ours - {signature(f) for f in theirs})
        out.append(f"<h2>On {esc(other.platform)}</h2>")
        if not differ and not missing:
            out.append("<p>The same findings at this step.</p>")
            continue
        out.append(f"<p>{len(differ)} findings only there, {missing} of the above not there.</p>")
        out += ['<ol class="findings">', *[html_page.finding_item(other.report, f)
                                           for f in differ], "</ol>"]
    return out


# -- a random API -----------------------------------------------------------------------

HOW_WORDS = {"scenario": "measured by its scenario", "draws": "its draws moved",
             "cause": "named by the cause"}


def api_page(atlas, api, found) -> str:
    body = [f"<h1><code>{esc(api.name)}</code></h1>", f"<p>{esc(api.title)}.</p>"]
    if api.scenarios:
        body.append(f'<p class="facts">Measured by scenarios {esc(" ".join(api.scenarios))}; '
                    f"also listed where a finding's draws moved through "
                    f"{esc(', '.join(api.aliases) or api.name)}.</p>")
    releases = list(dict.fromkeys(e.step for e in found))
    if not releases:
        body.append("<p>No release in this run changed it.</p>")
        return page(api.name, body, 1)
    body.append(f'<p class="verdict"><b>{len(releases)} release steps changed it</b>: '
                + ", ".join(f'<a href="../{step_href(s)}">torch '
                            f"{esc(_torch(atlas, s.after))}</a>" for s in releases) + ".</p>")
    body.append('<div class="scroll"><table class="list"><tr><th>release step</th>'
                "<th>severity</th><th>what changed</th><th>how it touches this API</th>"
                "<th>cause</th></tr>")
    for entry in found:
        f = entry.finding
        number = entry.step.actionable.index(f) + 1 if f in entry.step.actionable else 0
        cause = (f'<a href="{esc(f.cause.link)}"><code>{esc(f.cause.id)}</code></a>'
                 if f.cause else "unexplained")
        body.append(f'<tr><td><a href="../{step_href(entry.step)}#f-{number}">'
                    f"{esc(entry.step.words)}</a></td><td>{badge(f.severity, sev.get(f.severity).heading)}"
                    f"</td><td>{prose(title(f))}{_platform_mark(atlas, f)}</td>"
                    f"<td>{esc(', '.join(HOW_WORDS[h] for h in sorted(entry.how)))}</td>"
                    f"<td>{cause}</td></tr>")
    body.append("</table></div>")
    return page(api.name, body, 1)


def _platform_mark(atlas, finding) -> str:
    rows = atlas.platform_rows(finding)
    return (f' <span class="muted">(measured on {esc(atlas.platform)}; {len(rows)} of its rows '
            "differ between CPU classes)</span>" if rows else "")


def render(atlas) -> dict[str, str]:
    """{relative path: text} of every file of the site."""
    files = {"index.html": index_page(atlas)}
    for step in atlas.steps:
        files[step_href(step)] = step_page(atlas, step)
    for api, found in atlas.apis:
        files[api_href(api)] = api_page(atlas, api, found)
    index = entries(atlas, step_href, api_href)
    files["search.json"] = json.dumps(index, ensure_ascii=False, separators=(",", ":")) + "\n"
    files["search-index.js"] = "window.ATLAS_INDEX = " + files["search.json"].strip() + ";\n"
    files["atlas.js"] = SCRIPT
    return files
