"""The atlas's search, without a server: an index of every step, API and finding (a small
JSON list, also wrapped as a script so it loads from file://) and twenty lines of vanilla
JavaScript that filter it as one types. ``index.html#q=WORDS`` opens with a search done.

Each entry: ``t`` the title shown, ``u`` the page (and anchor), ``k`` what it is
(release step, API, finding), ``s`` the lower-case text every word must be found in.
"""
from __future__ import annotations

from ..report import severity as sev
from ..report.words import title


def entries(atlas, step_href, api_href) -> list[dict]:
    versions = atlas.report.evidence.versions
    out = []
    for step in atlas.steps:
        before, after = versions[step.before], versions[step.after]
        words = [step.words, step.before, step.after,
                 f"torch {after['torch']}", f"torchvision {after['torchvision']}",
                 f"{before['torch']} {after['torch']}"]
        out.append({"t": step.words, "u": step_href(step), "k": "release step",
                    "s": " ".join(words).lower()})
        for number, finding in enumerate(step.actionable, 1):
            names = [api.name for api in atlas.finding_apis.get(id(finding), [])]
            text = [title(finding), sev.get(finding.severity).heading, step.words, *names,
                    *finding.scenarios, finding.cause.id if finding.cause else "unexplained"]
            out.append({"t": f"{sev.get(finding.severity).heading} at torch {after['torch']}: "
                             f"{title(finding).replace('`', '')}"[:160],
                        "u": f"{step_href(step)}#f-{number}", "k": "finding",
                        "s": " ".join(text).lower()})
    for api, found in atlas.apis:
        if not found and not api.scenarios:
            continue
        releases = sorted({versions[e.step.after]["torch"] for e in found})
        out.append({"t": f"{api.name}: {api.title}", "u": api_href(api), "k": "API",
                    "s": " ".join([api.name, api.title, *api.aliases, *api.scenarios,
                                   *releases]).lower()})
    return out


SCRIPT = """// rngdrift atlas search: every word typed must occur in an entry (window.ATLAS_INDEX).
(function () {
  var box = document.getElementById('q'), out = document.getElementById('results');
  var index = window.ATLAS_INDEX || [];
  function run() {
    var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    out.textContent = '';
    var hits = !words.length ? [] : index.filter(function (e) {
      return words.every(function (w) { return e.s.indexOf(w) >= 0; });
    });
    hits.slice(0, 80).forEach(function (e) {
      var li = document.createElement('li'), a = document.createElement('a');
      a.href = e.u; a.textContent = e.t; li.appendChild(a);
      var kind = document.createElement('span'); kind.className = 'kind';
      kind.textContent = ' ' + e.k; li.appendChild(kind); out.appendChild(li);
    });
    out.setAttribute('data-count', String(hits.length));
  }
  box.addEventListener('input', run);
  if (location.hash.indexOf('#q=') === 0) box.value = decodeURIComponent(location.hash.slice(3));
  run();
})();
"""
