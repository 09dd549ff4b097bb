"""harness.envs: a team's declarations (working tree, git ref, file, pins), the Python
both sides share, uv's messages in one line, the two cells' names."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from _rngdrift.harness.envs import build, checkrun, declared, pythons, specs, uvtool
from _rngdrift.harness.envs.declared import Declared, Tree
from _rngdrift.harness.errors import UserError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def git(where: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(where), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


# -- reading declarations ----------------------------------------------------------------

def test_a_requirements_file_is_read_as_pip_reads_it(tmp_path):
    write(tmp_path / "requirements.txt",
          "# pinned\ntorch==1.5.0  # the model\ntorchvision==0.6.0 \\\n    ; python_version < '3.9'\n"
          "--extra-index-url https://download.pytorch.org/whl/cpu\n-r requirements/base.txt\n"
          "-c constraints.txt\n-e .\n./vendor/pkg\n")
    write(tmp_path / "requirements" / "base.txt", "numpy==1.19.5\nPillow>=8\n")
    write(tmp_path / "constraints.txt", "scipy<1.8\n")
    found = declared.read(Tree.working(tmp_path))
    assert found.requirements == (
        "torch==1.5.0", "torchvision==0.6.0 ; python_version < '3.9'",
        "--extra-index-url https://download.pytorch.org/whl/cpu", "numpy==1.19.5", "Pillow>=8",
        f"-e {tmp_path}", str(tmp_path / "vendor" / "pkg"))
    assert found.constraints == ("scipy<1.8",)
    assert found.files == ("requirements.txt",)
    assert found.names() == {"torch", "torchvision", "numpy", "pillow"}


def test_a_lock_wins_over_requirements_and_pyproject(tmp_path):
    write(tmp_path / "requirements.txt", "torch==1.5.0\n")
    write(tmp_path / "pyproject.toml", '[project]\nname = "x"\nversion = "1"\n'
                                       'dependencies = ["torch==2.0.0"]\n')
    write(tmp_path / "pylock.toml", 'lock-version = "1.0"\n[[packages]]\nname = "torch"\n'
                                    'version = "2.4.1"\n[[packages]]\nname = "numpy"\n'
                                    'version = "1.26.4"\nmarker = "python_version >= \'3.9\'"\n')
    found = declared.read(Tree.working(tmp_path))
    assert found.requirements == ("torch==2.4.1", "numpy==1.26.4 ; python_version >= '3.9'")
    assert found.files == ("pylock.toml",)
    (tmp_path / "pylock.toml").unlink()
    assert declared.read(Tree.working(tmp_path)).requirements == ("torch==1.5.0",)
    (tmp_path / "requirements.txt").unlink()
    assert declared.read(Tree.working(tmp_path)).requirements == ("torch==2.0.0",)


def test_pyproject_brings_its_dependencies_and_test_groups(tmp_path):
    write(tmp_path / "pyproject.toml", """[project]
name = "seg"
version = "1"
dependencies = ["torch==2.4.1", "torchvision==0.19.1"]
[project.optional-dependencies]
test = ["pytest>=8"]
docs = ["sphinx"]
[dependency-groups]
lint = ["ruff"]
dev = ["scipy==1.11.4", {include-group = "lint"}]
""")
    assert declared.read(Tree.working(tmp_path)).requirements == (
        "torch==2.4.1", "torchvision==0.19.1", "pytest>=8", "scipy==1.11.4", "ruff")


def test_declarations_at_a_git_ref_are_read_with_git_show(tmp_path):
    write(tmp_path / "requirements.txt", "-r deps/main.txt\n")
    write(tmp_path / "deps" / "main.txt", "torch==1.5.0\ntorchvision==0.6.0\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "old")
    write(tmp_path / "deps" / "main.txt", "torch==1.6.0\ntorchvision==0.7.0\n")
    git(tmp_path, "commit", "-qam", "bump")
    write(tmp_path / "deps" / "main.txt", "torch==9.9.9\n")  # not committed: not at either ref
    old = Tree.at_ref(tmp_path, "HEAD~1")
    assert str(old).startswith("HEAD~1 (") and old.names() == ["deps", "requirements.txt"]
    assert declared.read(old).requirements == ("torch==1.5.0", "torchvision==0.6.0")
    assert declared.read(Tree.at_ref(tmp_path, "HEAD")).requirements == (
        "torch==1.6.0", "torchvision==0.7.0")
    assert Tree.at_ref(tmp_path, "no-such-branch") is None
    assert Tree.at_ref(tmp_path.parent / "not-a-repo-here", "HEAD") is None


def test_pins_stand_in_for_the_lines_naming_the_same_projects():
    base = Declared(("torch==2.4.1", "torchvision==0.19.1", "scipy==1.7.0"), ("numpy<2",))
    moved = base.replacing(["torch==2.6.0", "torchvision==0.21.0", "numpy==1.26.4"])
    assert moved.requirements == ("scipy==1.7.0", "torch==2.6.0", "torchvision==0.21.0",
                                  "numpy==1.26.4")
    assert moved.constraints == ()


# -- SPECs ---------------------------------------------------------------------------------

def test_a_spec_is_a_file_pins_or_a_git_ref(tmp_path):
    write(tmp_path / "requirements.txt", "torch==1.5.0\ntorchvision==0.6.0\nscipy==1.7.0\n")
    write(tmp_path / "new.txt", "torch==1.6.0\ntorchvision==0.7.0\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    as_file = specs.read("new.txt", "--to", tmp_path)
    assert as_file.what == "new.txt" and as_file.declared.requirements[0] == "torch==1.6.0"
    as_pins = specs.read("torch==1.6.0 torchvision==0.7.0", "--to", tmp_path)
    assert as_pins.declared.requirements == ("scipy==1.7.0", "torch==1.6.0", "torchvision==0.7.0")
    assert as_pins.what == "pins torch==1.6.0 torchvision==0.7.0 over requirements.txt"
    as_ref = specs.read("HEAD", "--from", tmp_path)
    assert as_ref.what.startswith("requirements.txt at HEAD (")
    assert str(as_ref) == "--from HEAD"
    # a matrix cell: its exact pins (the lock's NumPy and Pillow for its Python, and any pin
    # its id names) stand in as pins do
    as_cell = specs.read("py3.8-torch1.5.0-tv0.6.0-pillow7.0.0", "--from", tmp_path)
    assert as_cell.declared.requirements == ("scipy==1.7.0", "torch==1.5.0", "torchvision==0.6.0",
                                             "numpy==1.24.4", "pillow==7.0.0")
    assert as_cell.what.startswith("matrix cell py3.8-torch1.5.0-tv0.6.0-pillow7.0.0 (torch==1.5.0")


@pytest.mark.parametrize("spec,message", [
    ("", "--from: empty"),
    ("nowhere", "--from nowhere: not a file, not pins"),
    ("numpy==1.26.4", "does not declare torch"),
])
def test_a_spec_that_names_nothing_usable_is_one_line(tmp_path, spec, message):
    with pytest.raises(UserError, match=message):
        specs.read(spec, "--from", tmp_path)


def test_words_that_are_not_all_pins_are_not_pins():
    assert specs.is_pins("torch==2.4.1 torchvision==0.19.1")
    assert specs.is_pins("torch>=2.4,<2.5")
    assert not specs.is_pins("HEAD~1") and not specs.is_pins("torch==2.4.1 main")


# -- the Python both sides share -----------------------------------------------------------

LOCK = {"torch": [{"version": "1.5.0", "pythons": ["3.5", "3.6", "3.7", "3.8"]},
                  {"version": "1.6.0", "pythons": ["3.6", "3.7", "3.8"]},
                  {"version": "2.4.1", "pythons": ["3.8", "3.9", "3.10", "3.11", "3.12"]},
                  {"version": "2.6.0", "pythons": ["3.9", "3.10", "3.11", "3.12", "3.13"]}],
        "torchvision": [{"version": "0.7.0", "pythons": ["3.6", "3.7", "3.8"]}]}


@pytest.mark.parametrize("sides,wanted", [
    ([["torch==1.5.0"], ["torch==1.6.0", "torchvision==0.7.0"]], ["3.8", "3.7"]),
    ([["torch==2.4.1"], ["torch==2.6.0"]], ["3.12", "3.11", "3.10", "3.9"]),
    ([["torch==2.4.1+cpu"], ["torch>=2.5"]], ["3.12", "3.11", "3.10", "3.9"]),
    ([["torch==1.6.0"], ["torch==2.6.0"]], []),                    # no Python has both
    ([["torch==9.9.9"], ["torch @ https://x/torch.whl"]], list(pythons.FALLBACK)),  # not narrowed
])
def test_candidates_are_the_pythons_both_sides_have_wheels_for(sides, wanted):
    assert pythons.candidates(sides, LOCK) == wanted


def test_the_real_lock_gives_torch_1_5_and_1_6_python_3_8_first():
    assert pythons.candidates([["torch==1.5.0", "torchvision==0.6.0"],
                               ["torch==1.6.0", "torchvision==0.7.0"]])[0] == "3.8"


# -- uv's messages, the cells' names -------------------------------------------------------

@pytest.mark.parametrize("said,line", [
    ("error: No solution found when resolving dependencies\n  cause: Because torchvision==0.7.0 "
     "depends on torch==1.6.0 and you require torch==1.5.0, we can conclude that your "
     "requirements and torchvision==0.7.0 are incompatible.\n         And because you require "
     "torchvision==0.7.0, we can conclude that your requirements are unsatisfiable.\n",
     "torchvision==0.7.0 depends on torch==1.6.0 and you require torch==1.5.0"),
    ("  × No solution found when resolving dependencies:\n  ╰─▶ Because scipy==1.7.0 depends on "
     "numpy>=1.16.5,<1.23.0 and you require numpy==1.24.4, we can conclude that your "
     "requirements are unsatisfiable.\n",
     "scipy==1.7.0 depends on numpy>=1.16.5,<1.23.0 and you require numpy==1.24.4"),
    ("error: Failed to fetch: `https://x/simple/torch/`\n  Caused by: connection refused\n",
     "Failed to fetch: `https://x/simple/torch/`"),
])
def test_uv_messages_become_one_line(said, line):
    assert uvtool.one_line(said) == line


def resolved(python="3.8", **pins):
    return build.Resolved(python, "/usr/bin/python" + python,
                          tuple(f"{n}=={v}" for n, v in pins.items()))


def test_the_two_cells_are_named_by_python_torch_and_torchvision():
    old = resolved(torch="1.5.0", torchvision="0.6.0", numpy="1.24.4", pillow="10.4.0")
    new = resolved(torch="1.6.0", torchvision="0.7.0", numpy="1.24.4", pillow="10.4.0")
    assert checkrun.cell_ids([old, new]) == ["py3.8-torch1.5.0-tv0.6.0", "py3.8-torch1.6.0-tv0.7.0"]
    assert checkrun.pin_changes([old, new]) == (
        ["torch 1.5.0 → 1.6.0", "torchvision 0.6.0 → 0.7.0"], ["numpy 1.24.4", "pillow 10.4.0"])
    numpy_bump = resolved(torch="1.5.0", torchvision="0.6.0", numpy="1.26.4", scipy="1.11.4")
    assert checkrun.cell_ids([old, numpy_bump]) == [
        "py3.8-torch1.5.0-tv0.6.0", "py3.8-torch1.5.0-tv0.6.0+numpy1.26.4"]
    assert checkrun.pin_changes([old, numpy_bump])[0] == [
        "numpy 1.24.4 → 1.26.4", "pillow 10.4.0 (removed)", "scipy 1.11.4 (added)"]


def test_a_side_without_torchvision_is_refused_in_one_line(monkeypatch, tmp_path):
    sides = [specs.Side("--from", "a", "pins a", Declared(("torch==2.4.1",))),
             specs.Side("--to", "b", "pins b", Declared(("torch==2.6.0",)))]
    monkeypatch.setattr(pythons, "installed", lambda wanted: [("3.11", "/usr/bin/python3.11")])
    monkeypatch.setattr(build, "resolve", lambda declared, extra, **kw: resolved(
        "3.11", torch=declared.requirements[0].split("==")[1]))
    with pytest.raises(UserError, match=r"--from a \(pins a\) has no torchvision"):
        checkrun.resolve_both(sides, lambda xy, side: [], [], tmp_path)
