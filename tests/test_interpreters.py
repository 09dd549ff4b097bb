import os
import sys
from pathlib import Path

import pytest

from _rngdrift.harness.matrix import interpreters

HERE = "%d.%d" % sys.version_info[:2]


def test_finds_the_running_python_version():
    exe = interpreters.find(HERE)
    assert exe is not None and interpreters._works(exe, HERE)


def test_inactive_pyenv_versions_are_found_when_pyenv_has_them():
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    versions = sorted(p.name for p in root.glob("3.8.*")) if root.is_dir() else []
    if not versions:
        pytest.skip("no pyenv Python 3.8 on this machine")
    exe = interpreters.find("3.8")
    assert exe is not None and "3.8" in str(exe)


def test_expose_links_pythonxy_first_on_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.environ["PATH"])
    found = interpreters.expose([HERE, "3.99"], tmp_path / "shims")
    assert found["3.99"] is None and found[HERE] is not None
    link = tmp_path / "shims" / f"python{HERE}"
    assert link.is_symlink() and interpreters._works(link, HERE)
    assert not (tmp_path / "shims" / "python3.99").exists()
    assert os.environ["PATH"].split(os.pathsep)[0] == str(tmp_path / "shims")
    again = interpreters.expose([HERE], tmp_path / "shims")  # reuses the link
    assert again[HERE] == found[HERE] or Path(again[HERE]).resolve() == Path(found[HERE]).resolve()
    assert os.environ["PATH"].count(str(tmp_path / "shims")) == 1


def test_missing_hint_says_how_to_get_it():
    hint = interpreters.missing_hint("3.8")
    assert "Python 3.8 not found" in hint and "uv python install 3.8" in hint
    assert "\n" not in hint
