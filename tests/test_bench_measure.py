"""benchmarks/measure.py: disk accounting (no cells, no network)."""
from __future__ import annotations

import os

from benchmarks import measure


def test_disk_usage_counts_hard_links_once(tmp_path):
    cache, venv = tmp_path / "cache", tmp_path / "venv"
    cache.mkdir()
    venv.mkdir()
    (cache / "lib.so").write_bytes(os.urandom(256 * 1024))
    os.link(cache / "lib.so", venv / "lib.so")
    (venv / "RECORD").write_bytes(os.urandom(64 * 1024))
    alone = measure.disk_usage([cache])
    both = measure.disk_usage([cache, venv])
    assert alone >= 256 * 1024
    # the venv adds its own file and directory, not a second copy of the linked one
    assert 64 * 1024 <= both - alone < 256 * 1024
    assert measure.disk_usage([venv]) >= 256 * 1024 + 64 * 1024  # alone, the link counts


def test_disk_usage_copy_counts_twice_and_symlinks_are_not_followed(tmp_path):
    (tmp_path / "a").write_bytes(os.urandom(128 * 1024))
    (tmp_path / "b").write_bytes((tmp_path / "a").read_bytes())
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "big").write_bytes(os.urandom(512 * 1024))
    (tmp_path / "link").symlink_to(outside)
    total = measure.disk_usage([tmp_path])
    assert 256 * 1024 <= total < 512 * 1024
    assert measure.disk_usage([tmp_path / "missing"]) == 0
