"""The docs site builds with no warning, and its reference pages come from the parsers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_site_builds_strictly_and_lists_every_command(tmp_path):
    pytest.importorskip("mkdocs", reason="pip install mkdocs (the tests session does)")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    from _rngdrift.harness import cli
    page = (tmp_path / "site" / "reference" / "commands" / "index.html").read_text()
    for name in cli.COMMANDS:
        assert f"rngdrift {name}" in page
    options = (tmp_path / "site" / "reference" / "options" / "index.html").read_text()
    assert "--reuse-from" in options and "--seeding" in options


def test_no_page_shows_a_path_of_the_machine_it_was_written_on():
    offenders = [f"{page.name}: {line.strip()}" for page in sorted((ROOT / "docs").rglob("*.md"))
                 for line in page.read_text().splitlines()
                 if any(p in line for p in ("/root/", "/home/", "/work/", "/Users/"))]
    assert offenders == []
