"""The cause catalog (harness/report/causes.csv) is well-formed data the report can match on.

Checked against the project itself: scenario globs must name scenarios the committed
baseline ran, draw names must be ones tracing.py counts, and the baseline's headline
change (pairs.hflip at tv 0.7) must be explained by a catalog row.
"""
from __future__ import annotations

import csv
import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAUSES = ROOT / "harness" / "report" / "causes.csv"
HEADER = ["id", "package", "version", "apis", "draws_before", "draws_after", "scenarios",
          "platform", "what", "fix", "link"]


def _rows() -> list[dict]:
    with CAUSES.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADER
        return list(reader)


def _baseline_scenarios() -> set[str]:
    with (ROOT / "results" / "baseline" / "drift.csv").open(newline="") as handle:
        return {row["scenario"] for row in csv.DictReader(handle)}


def _canonical_scenarios() -> set[str]:
    """Every scenario the canonical modules register (those the baseline cannot run
    too: the stack around torch needs albumentations or Lightning installed)."""
    found = set()
    for path in (ROOT / "scenarios").glob("*.py"):
        found |= set(re.findall(r'@scenario\(\s*"([^"]+)"', path.read_text()))
    return found


def _traced_names() -> set[str]:
    """Every API name tracing.py counts."""
    pytest.importorskip("torch")
    from _rngdrift.harness.cell import tracing
    return set(tracing.api_names())


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


USER_FAMILIES = {"call", "script", "pytest", "dataset", "datapairs"}


def test_rows_are_well_formed():
    rows = _rows()
    assert rows
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    scenarios, traced = _baseline_scenarios() | _canonical_scenarios(), _traced_names()
    for row in rows:
        assert re.fullmatch(r"[a-z0-9.\-]+", row["id"]), row["id"]
        # torch, torchvision, numpy, python, pillow, or any distribution as PEP 503 spells it
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row["package"]), row["id"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", row["version"]), row["id"]
        assert row["platform"] in {"", "cpu-vendor", "cuda"}, row["id"]
        assert row["link"].startswith("https://github.com/"), row["id"]
        assert row["apis"].strip() and row["what"].strip() and row["fix"].strip(), row["id"]
        for text in (row["what"], row["fix"]):
            assert "\n" not in text, row["id"]
        for name in (row["draws_before"] + " " + row["draws_after"]).split():
            assert name in traced, (row["id"], name)
        for glob in row["scenarios"].split():
            # a canonical scenario, or the families rngdrift makes of a user's code
            assert glob.split(".")[0] in USER_FAMILIES or \
                any(fnmatch.fnmatch(name, glob) for name in scenarios), (row["id"], glob)


def test_headline_change_is_explained():
    """pairs.hflip under python seeding breaks at tv 0.7: a row must match that step and
    say the draws moved from random.random to torch.rand."""
    matches = [row for row in _rows()
               if row["package"] == "torchvision"
               and _version("0.6.0") < _version(row["version"]) <= _version("0.7.0")
               and any(fnmatch.fnmatch("pairs.hflip", g) for g in row["scenarios"].split())]
    assert len(matches) == 1
    assert "random.random" in matches[0]["draws_before"].split()
    assert "torch.rand" in matches[0]["draws_after"].split()
