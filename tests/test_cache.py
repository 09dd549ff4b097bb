"""harness.runs.cache and cacheplan: a run that keeps uv's cache under --max-cache.

Pure parts (the pylock reading, the wheel a Python installs, the order, what is
evicted when) on small made-up plans; the hook around a cell with a fake session and
the real uv on an empty scratch cache; one real cell run under a budget (slow)."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from _rngdrift.harness.errors import UserError
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.runs import cache, cacheplan, runoptions
from _rngdrift.harness.runs.cacheplan import Needs, Wheel

PYLOCK = '''lock-version = "1.0"
created-by = "uv"

[[packages]]
name = "Pillow"
version = "10.4.0"
sdist = { url = "https://files.example/pillow-10.4.0.tar.gz", size = 46000000, hashes = {} }
wheels = [
    { url = "https://files.example/pillow-10.4.0-cp38-cp38-macosx_11_0_arm64.whl", size = 3300000 },
    { url = "https://files.example/pillow-10.4.0-cp38-cp38-manylinux_2_28_x86_64.whl", size = 4500000 },
    { url = "https://files.example/pillow-10.4.0-cp39-cp39-manylinux_2_28_x86_64.whl", size = 4400000 },
]

[[packages]]
name = "nvidia_cublas-cu12"
version = "12.1.3.1"
wheels = [{ url = "https://files.example/nvidia_cublas_cu12-12.1.3.1-py3-none-manylinux1_x86_64.whl", size = 410000000 }]

[[packages]]
name = "charset-normalizer"
version = "3.5.3"
wheels = [
    { url = "https://files.example/charset_normalizer-3.5.3-cp37-abi3-manylinux_2_28_x86_64.whl", size = 234407 },
    { url = "https://files.example/charset_normalizer-3.5.3-py3-none-any.whl", size = 68878 },
]
'''


def test_a_pylock_gives_each_distribution_the_wheel_its_python_installs():
    needs = cacheplan.needs_from_pylock("cell", PYLOCK, "3.8")
    by_name = {w.name: w for w in needs.wheels}
    assert set(by_name) == {"pillow", "nvidia-cublas-cu12", "charset-normalizer"}
    assert by_name["pillow"].file == "pillow-10.4.0-cp38-cp38-manylinux_2_28_x86_64.whl"
    assert by_name["pillow"].size == 4500000
    assert by_name["nvidia-cublas-cu12"].size == 410000000
    # a cp37-abi3 wheel beats the pure-Python one
    assert by_name["charset-normalizer"].file.endswith("cp37-abi3-manylinux_2_28_x86_64.whl")
    assert needs.download() == 4500000 + 410000000 + 234407


def test_the_regex_reading_agrees_with_tomllib():
    tomllib = pytest.importorskip("tomllib")
    parsed = tomllib.loads(PYLOCK)["packages"]
    ours = cacheplan.parse_pylock(PYLOCK)
    assert [(p["name"], p["version"]) for p in parsed] == [(n, v) for n, v, _, _ in ours]
    for package, (_, _, wheels, _) in zip(parsed, ours):
        assert [(w["url"].rsplit("/", 1)[1], w["size"]) for w in package["wheels"]] == wheels


def test_no_wheel_for_another_platform_or_python():
    files = [("x-1-cp39-cp39-manylinux_2_28_x86_64.whl", 1), ("x-1-cp38-cp38-win_amd64.whl", 2),
             ("x-1-cp38-cp38-manylinux_2_28_aarch64.whl", 3)]
    assert cacheplan.pick_wheel(files, "3.8", "x86_64") is None


def w(name, version, size=100):
    return Wheel(name, version, f"{name}-{version}.whl", size)


def needs(cell, *wheels):
    return Needs(cell, tuple(wheels))


def test_order_puts_cells_that_share_big_wheels_together():
    a1 = needs("a1", w("torch", "1"), w("cuda", "11", 1000))
    b1 = needs("b1", w("torch", "2"), w("cuda", "12", 1000))
    a2 = needs("a2", w("torch", "3"), w("cuda", "11", 1000))
    b2 = needs("b2", w("torch", "4"), w("cuda", "12", 1000))
    assert [n.cell for n in cacheplan.order([a1, b1, a2, b2])] == ["a1", "a2", "b1", "b2"]
    # nothing shared: the given (version) order stays
    assert [n.cell for n in cacheplan.order([b2, a1])] == ["b2", "a1"]


def test_what_no_later_cell_needs_is_evicted_and_what_one_needs_is_kept():
    held = {"torch": {"torch-1.whl"}, "cuda": {"cuda-11.whl"}, "numpy": {"numpy-1.whl"}}
    this = needs("b", w("torch", "2"), w("numpy", "1"))
    later = [needs("c", w("torch", "3"), w("cuda", "11"))]
    unneeded, over, _ = cacheplan.evictions(held, this, later, {}, budget=10**12)
    assert unneeded == ["torch"] and over == []


def test_a_package_holding_a_stale_wheel_is_evicted_unless_this_cell_uses_it():
    # uv cleans whole packages: torch 1 is stale, torch 5 is wanted much later
    held = {"torch": {"torch-1.whl", "torch-5.whl"}, "numpy": {"numpy-1.whl", "numpy-9.whl"}}
    this = needs("b", w("torch", "2"), w("numpy", "1"))
    later = [needs("z", w("torch", "5"))]
    unneeded, _, _ = cacheplan.evictions(held, this, later, {}, budget=10**12)
    assert unneeded == ["torch"]   # numpy is kept: this cell installs numpy-1 from it


def test_over_budget_the_package_used_farthest_ahead_goes_first():
    held = {"near": {"near-1.whl"}, "far": {"far-1.whl"}, "used": {"used-1.whl"}}
    sizes = {"near": 400, "far": 400, "used": 400}
    this = needs("a", w("used", "1"), w("new", "1", size=100))
    later = [needs("b", w("near", "1")), needs("c", w("x", "1")), needs("d", w("far", "1"))]
    unneeded, over, estimate = cacheplan.evictions(held, this, later, sizes, budget=1000,
                                                   ratio=2.0)
    assert unneeded == [] and over == ["far"]
    assert estimate == 400 + 400 + 200   # near, used, and the new wheel unpacked (x2.0)
    # a budget nothing fits evicts all but what this cell uses, never that
    _, over, _ = cacheplan.evictions(held, this, later, sizes, budget=1, ratio=2.0)
    assert set(over) == {"near", "far"}


def test_a_cell_bigger_than_the_budget_is_refused_with_what_it_needs():
    big = needs("py3.10-torch2.9.0-tv0.24.0", w("torch", "2.9", 2 * 10**9))
    with pytest.raises(UserError, match=r"--max-cache 3 cannot hold this cell: it needs about "
                                        r"5\.6 GB unpacked \(2\.0 GB of wheels\); give at least 6"):
        cacheplan.check_budget([big], 3)


def test_max_cache_is_an_option_after_the_double_dash():
    args = runoptions.parse(["--max-cache", "12", "--cache-dir", "/tmp/x"], "run")
    assert args.max_cache == 12.0 and args.cache_dir == "/tmp/x"
    with pytest.raises(UserError, match=r"--max-cache wants a size in GB above 0, got '0'"):
        runoptions.parse(["--max-cache", "0"], "run")


def test_without_max_cache_the_order_is_the_sessions_own():
    assert cache.ordered(compat.PATCHES, runoptions.parse(["--only", "x"], "run")) \
        is compat.PATCHES
    assert cache.ordered(compat.PATCHES, None) is compat.PATCHES   # options unusable


class FakeSession:
    def __init__(self, venv: Path):
        self.virtualenv = argparse.Namespace(location=str(venv))
        self.errors = []

    def error(self, message):
        self.errors.append(message)
        raise SystemExit(message)


def _memo(folder: Path, cell, text: str) -> None:
    """A plan kept from an earlier resolution, so the hook needs no network."""
    import hashlib
    key = hashlib.sha256(json.dumps([cell.python, cell.requirements, []]).encode())
    path = folder / "plans" / f"{cell.id}-{key.hexdigest()[:12]}.pylock.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _lock(name, version, size):
    return (f'[[packages]]\nname = "{name}"\nversion = "{version}"\nwheels = [{{ url = '
            f'"https://x/{name}-{version}-py3-none-any.whl", size = {size} }}]\n\n')


def test_the_hook_evicts_records_and_drops_the_venv(tmp_path):
    folder = tmp_path / "cache"
    cells = compat.PATCHES[:3]
    for i, cell in enumerate(cells):
        _memo(folder, cell, _lock("torch", f"1.{i}", 1000) + _lock("shared", "1", 50))
    args = runoptions.parse(["--max-cache", "1", "--cache-dir", str(folder)], "r")
    run = tmp_path / "run"
    for cell in cells:
        venv = tmp_path / f"venv-{cell.id}"
        (venv / "bin").mkdir(parents=True)
        with cache.bounded(FakeSession(venv), cell, args, run, cells):
            assert os.environ["UV_CACHE_DIR"] == str(folder / "uv")
        assert not venv.exists()
        assert os.environ.get("UV_CACHE_DIR") != str(folder / "uv")
    log = cache.read_log(run)
    assert [line["cell"] for line in log] == [c.id for c in cells]
    assert log[0]["evicted_unneeded"] == []
    assert log[1]["evicted_unneeded"] == ["torch"] and log[2]["evicted_unneeded"] == ["torch"]
    assert log[1]["fetched_files"] == ["torch-1.1-py3-none-any.whl"]   # shared came from cache
    held = json.loads((folder / "held.json").read_text())["held"]
    assert held == {"shared": ["shared-1-py3-none-any.whl"], "torch": ["torch-1.2-py3-none-any.whl"]}


def test_the_hook_refuses_a_cell_the_budget_cannot_hold(tmp_path):
    folder = tmp_path / "cache"
    cell = compat.PATCHES[0]
    _memo(folder, cell, _lock("torch", "1", 10**9))
    args = runoptions.parse(["--max-cache", "1", "--cache-dir", str(folder)], "r")
    session = FakeSession(tmp_path / "venv")
    recorded = []
    with pytest.raises(SystemExit):
        with cache.bounded(session, cell, args, tmp_path / "run", [cell], recorded.append):
            pytest.fail("the cell must not be installed")
    assert "cannot hold this cell" in session.errors[0]
    assert recorded == ["not installed: --max-cache 1 cannot hold this cell: it needs about "
                        "2.8 GB unpacked (1.0 GB of wheels); give at least 3"]


@pytest.mark.slow
def test_a_real_cell_runs_under_max_cache(tmp_path):
    """torch 1.5 installed into an empty private cache, its venv gone afterwards, the
    cache under the budget, a cache.jsonl line for it."""
    cell = "py3.8-torch1.5.0-tv0.6.0"
    proc = subprocess.run(
        [sys.executable, "-m", "nox", "-s", f"matrix({cell})", "--", "--max-cache", "4",
         "--cache-dir", str(tmp_path / "cache"), "--run-id", "cachetest", "--results",
         str(tmp_path / "results"), "--only", "streams.rand", "--repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = cache.read_log(tmp_path / "results" / "cachetest")
    assert line["cell"] == cell and line["fetched"] >= 4
    assert 0.5e9 < line["cache_after"] < 4e9
    # the venv is gone (its lock file beside it, venvguard's, may stay: it holds no wheels)
    assert not [p for p in (ROOT / ".nox").glob("matrix-*torch1-5-0*") if p.is_dir()]
    assert (tmp_path / "results" / "cachetest" / "cells" / f"{cell}.csv").is_file()
