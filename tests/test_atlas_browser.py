"""The atlas as people see it, in headless Chromium from file:// (no server): the search
finds pages, a step page and an API page render, nothing pushes a page sideways.
Skipped with the reason where Chromium is not installed."""
from __future__ import annotations

import csv
import html
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT
from _rngdrift.harness import cli
from _rngdrift.harness.report import browser

pytestmark = pytest.mark.skipif(browser.chromium() is None,
                                reason="Chromium is not installed (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def atlas(tmp_path_factory):
    out = tmp_path_factory.mktemp("atlas") / "site"
    assert cli.main(["atlas", str(ROOT / "results" / "baseline"), "--out", str(out)]) == 0
    return out


def dom(url: str) -> str:
    """The DOM after the page's scripts ran."""
    with tempfile.TemporaryDirectory(prefix="rngdrift-atlas-") as tmp:
        proc = subprocess.run([browser.chromium(), *browser.FLAGS, f"--user-data-dir={tmp}",
                               "--virtual-time-budget=5000", "--dump-dom", url],
                              capture_output=True, text=True, timeout=120)
    return proc.stdout


def results(page: str) -> list[tuple[str, str]]:
    found = re.search(r'<ul id="results" data-count="(\d+)">(.*?)</ul>', page, re.S)
    assert found, "no search results list"
    return [(href, html.unescape(text)) for href, text in
            re.findall(r'<a href="([^"]+)">([^<]*)</a>', found.group(2))]


def test_the_index_searches_without_a_server(atlas):
    hits = results(dom((atlas / "index.html").as_uri() + "#q=torch.multinomial"))
    assert ("apis/torch-multinomial.html", "torch.multinomial: torch.multinomial: sampling "
            "indices from a probability tensor") in hits
    # every word must match: a release and an API together
    hits = results(dom((atlas / "index.html").as_uri() + "#q=RandomResizedCrop%20broken"))
    assert hits and all("broken" in text.lower() or "RandomResizedCrop" in text
                        for _, text in hits)
    assert results(dom((atlas / "index.html").as_uri() + "#q=zzzz-nothing")) == []


def test_a_step_page_renders_its_findings(atlas):
    step = next(p for p in sorted((atlas / "steps").glob("*.html")) if "torch1.6.0-tv0.7.0" in p.name)
    seen = browser.measure(step, 1400)
    text = seen["first_screen"]
    assert "torchvision 0.6.0 → 0.7.0" in text and "Broken" in text
    assert "torch's generator" in text and "Ask offline: rngdrift explain --from 1.5.0 --to 1.6.0" in text
    assert seen["overflowing"] == [] and seen["scroll_width"] <= 1400


def multinomial_changed() -> set[str]:
    """The torch versions where a seeded streams.multinomial row changes (drift.csv)."""
    with open(ROOT / "results" / "baseline" / "drift.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["scenario"] == "streams.multinomial"
                and r["seeding"] in ("torch", "all", "full")]
    return {re.search(r"torch([\d.]+)-", cell).group(1)
            for r in rows for cell in r["changes_at"].split()}


@pytest.mark.parametrize("width", [1400, 400])
def test_the_multinomial_page_lists_every_release_that_changed_it(atlas, width):
    seen = browser.measure(atlas / "apis" / "torch-multinomial.html", width)
    text = seen["first_screen"]
    changed = multinomial_changed()
    assert changed and f"{len(changed)} release steps changed it" in text
    listed = text.split("changed it:", 1)[1].split(".\n", 1)[0]
    assert set(re.findall(r"torch ([\d.]+\d)", listed)) == changed
    assert "torch-1.6-multinomial-fast-path" in text
    assert seen["overflowing"] == [], seen["overflowing"]


def test_no_page_fetches_anything(atlas):
    for page in [atlas / "index.html", *atlas.glob("*/*.html")]:
        text = page.read_text()
        assert not re.search(r'(src|href)="(https?:)?//(?!github\.com|pytorch\.org|docs\.python'
                             r'|numpy\.org)', text), page
        assert not re.search(r'<(script|link|img)[^>]+(src|href)="https?:', text), page
