"""harness.resultkey: what a cell's result key covers, and how it is recorded."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from _rngdrift.harness.matrix import compat
from _rngdrift.harness.runs import resultkey, runoptions
from _rngdrift.harness.cell import environment

ROOT = Path(__file__).resolve().parent.parent
OLD = compat.Cell("3.8", "1.5.0", "0.6.0")
NEXT = compat.Cell("3.8", "1.6.0", "0.7.0")


def args(*posargs, base=None):
    return runoptions.parse(list(posargs), "r1", base or Path.cwd())


def key(cell=OLD, *posargs, platform="x86_64-amd-avx512", root=ROOT, base=None):
    return resultkey.key_for(cell, args(*posargs, base=base), platform, root)


def test_the_key_is_stable_and_names_its_platform():
    first, again = key(), key()
    assert first == again and first.digest == again.digest
    assert len(first.digest) == resultkey.DIGITS
    assert str(first) == f"{first.digest}@x86_64-amd-avx512"
    assert set(first.parts) == set(resultkey.PARTS)


@pytest.mark.parametrize("posargs, part", [
    (("--repeats", "1"), "options"),
    (("--seeding", "python"), "options"),
    (("--only", "pairs.*"), "options"),
    (("--skip", "train.*"), "options"),
    (("--timeout", "30"), "options"),
    (("--start", "spawn"), "options"),
    (("--index-url", "https://download.pytorch.org/whl/cpu"), "index"),
    (("--extra-index-url", "https://example.org/simple"), "index"),
    (("--find-links", "/nonexistent/wheels"), "index"),
])
def test_each_option_that_shapes_results_changes_its_part(posargs, part):
    assert key(OLD, *posargs).changed(key()) == [part]


def test_how_fast_a_cell_runs_is_not_in_the_key():
    assert key(OLD, "--jobs", "1") == key()
    assert key(OLD, "--resume", "--run-id", "r1") == key()  # (a fresh clone has no run to resume)
    assert key(OLD, "--run-id", "other", "--shard", "1/2") == key()


def test_a_default_given_explicitly_is_the_same_key():
    assert key(OLD, "--repeats", "2", "--timeout", "120") == key()


def test_pins_and_platform_change_their_parts():
    assert key(NEXT).changed(key()) == ["pins"]
    assert key(platform="x86_64-intel-avx512").changed(key()) == ["platform"]
    same_pins = compat.Cell("3.8", "1.5.0", "0.6.0", numpy="1.23.5")
    assert key(same_pins).changed(key()) == ["pins"]


def test_user_files_count_by_content_not_path(tmp_path):
    one, two = tmp_path / "a", tmp_path / "b"
    for folder in (one, two):
        folder.mkdir()
        (folder / "checks.py").write_text("X = 1\n")
        (folder / "req.txt").write_text("tqdm==4.66.0\n")
    first = key(OLD, "--scenarios", str(one / "checks.py"), "--cell-requirements",
                str(one / "req.txt"))
    moved = key(OLD, "--scenarios", str(two / "checks.py"), "--cell-requirements",
                str(two / "req.txt"))
    assert moved == first and first.changed(key()) == ["user"]
    (two / "checks.py").write_text("X = 2\n")
    edited = key(OLD, "--scenarios", str(two / "checks.py"), "--cell-requirements",
                 str(two / "req.txt"))
    assert edited.changed(first) == ["user"]


def test_a_new_wheel_in_a_find_links_directory_changes_the_key(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    before = key(OLD, "--find-links", str(wheels))
    (wheels / "probe-0.1-py3-none-any.whl").write_bytes(b"zip")
    assert key(OLD, "--find-links", str(wheels)).changed(before) == ["index"]


def test_a_changed_scenario_or_cell_file_changes_the_code_part(tmp_path):
    for folder in resultkey.CODE_DIRS:
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = key(root=tmp_path)
    assert copy == key()  # same files, another checkout: the same key
    (tmp_path / "scenarios" / "pairs.py").write_text(
        (tmp_path / "scenarios" / "pairs.py").read_text() + "\n# a comment\n")
    resultkey.code_digest.cache_clear()
    assert key(root=tmp_path).changed(copy) == ["code"]
    (tmp_path / "harness" / "cell" / "new_helper.py").write_text("")
    resultkey.code_digest.cache_clear()
    assert key(root=tmp_path).parts["code"] not in (copy.parts["code"], key().parts["code"])


def test_the_freeze_header_round_trips(tmp_path):
    k = key(OLD, "--repeats", "1")
    freeze = tmp_path / "c.freeze.txt"
    freeze.write_text(environment.freeze_text(notes=k.header()))
    assert freeze.read_text().startswith("# rngdrift-key: ")
    assert resultkey.read_key(freeze) == k


def test_a_hand_edited_or_missing_header_is_no_key(tmp_path):
    k = key()
    freeze = tmp_path / "c.freeze.txt"
    lines = [f"# {line}" for line in k.header()]
    freeze.write_text("\n".join(lines).replace("repeats", "x").replace(
        k.parts["pins"], "0" * 16) + "\nnumpy==1.24.4\n")
    assert resultkey.read_key(freeze) is None  # its parts no longer add up to its digest
    freeze.write_text("numpy==1.24.4\n")
    assert resultkey.read_key(freeze) is None
    assert resultkey.read_key(tmp_path / "absent.freeze.txt") is None
