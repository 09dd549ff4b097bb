"""report.html as people see it: headless Chromium at a desktop (1400 px) and a phone
(400 px) width. Skipped with the reason where Chromium is not installed (.ci/run
installs Debian's chromium)."""
from __future__ import annotations

import pytest

from conftest import ROOT
from _rngdrift.harness.report import browser
from _rngdrift.harness import cli
from resultrows import NEW, OLD, TV07, everywhere, write_run

pytestmark = pytest.mark.skipif(browser.chromium() is None,
                                reason="Chromium is not installed (apt-get install -y chromium)")
BASELINE = ROOT / "results" / "baseline" / "report.html"


@pytest.fixture(scope="module")
def evil_report(tmp_path_factory):
    """A small run with long, hostile names: nothing may push the page sideways."""
    run = tmp_path_factory.mktemp("browser") / "run"
    long = "augment." + "very_long_scenario_name_" * 6
    rows = []
    for cell, value in ((OLD, 1.0), (TV07, 0.5), (NEW, 0.5)):
        rows += everywhere(cell, "pairs.hflip", {"pair_consistency": value}, seedings=("python",))
        rows += everywhere(cell, long, {"output": f"fp{value}", "x" * 90: value},
                           seedings=("python", "all"))
    write_run(run, rows)
    assert cli.main(["report", str(run)]) == 0
    return run / "report.html"


@pytest.mark.parametrize("width", [1400, 400])
def test_the_verdict_is_on_the_first_screen(width):
    seen = browser.measure(BASELINE, width)
    assert seen["verdict_top"] is not None and seen["verdict_top"] < seen["height"] / 2
    first = seen["first_screen"]
    assert "Broken" in first and "torchvision 0.7" in first
    assert "torch's generator" in first and "seed torch" in first.lower()


@pytest.mark.parametrize("width", [1400, 400])
@pytest.mark.parametrize("page", ["baseline", "evil"])
def test_nothing_overflows_sideways_outside_the_scroll_boxes(width, page, evil_report):
    seen = browser.measure(BASELINE if page == "baseline" else evil_report, width)
    assert seen["overflowing"] == [], seen["overflowing"]
    assert seen["scroll_width"] <= width


def test_a_screenshot_is_a_png_of_the_asked_width(tmp_path):
    out = browser.screenshot(BASELINE, 400, tmp_path / "shot.png")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == 400


def test_the_heatmap_scrolls_in_its_own_box_with_the_newest_column_in_view():
    """Issue 22: at 1400 px the newest cell's column is visible without scrolling
    sideways, the box scrolls its 200-odd rows itself, and while it does the header row
    and the name columns stay where they are."""
    heat = browser.measure(BASELINE, 1400)["heatmap"]
    assert heat["rows"] > 100 and heat["scrolls_down"]
    assert heat["newest_visible"]
    assert heat["box_bottom"] - heat["box_top"] < 900  # a box, not the whole page
    assert heat["header_sticks"] and heat["names_stick"]


def test_on_a_phone_the_heatmap_names_stay_while_it_scrolls_sideways():
    heat = browser.measure(BASELINE, 400)["heatmap"]
    assert heat["header_sticks"] and heat["names_stick"]
