"""Tried as a new user would: the BUILT wheel installed into a clean venv, then, from a
team's repository (tests/scratchproject.py: a segmentation dataset that reseeds
`random` before image and mask, a pinned training loss, its own `scenarios` package,
torch 1.5.0/tv 0.6.0 -> torch 1.6.0/tv 0.7.0 in its last commit):

    rngdrift check --from HEAD~1 --to HEAD --pytest tests/

and the pull-request action around it, replayed against a loopback fake of GitHub's API;
``rngdrift run`` from a repository whose own packages are called scenarios, harness and
rngdrift, in the torch 1.5 cell and the newest. CI passes the wheel `python -m build`
made (RNGDRIFT_WHEEL); here it is built with uv's PEP 517 frontend.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

import actionreplay
import fakegithub
import scratchproject
from conftest import NEW_CELL, OLD_CELL, _uv

ROOT = Path(__file__).resolve().parent.parent
MASK_TEST = "pytest.tests.test_data.test_masks_follow_their_images"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ of a clean venv holding only the built wheel and what it requires."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = os.environ.get("RNGDRIFT_WHEEL")
    if not wheel:
        subprocess.run([_uv(), "build", "--wheel", "--out-dir", str(work / "dist"), str(ROOT)],
                       check=True, capture_output=True, timeout=600)
        (wheel,) = (work / "dist").glob("rngdrift-*.whl")
    venv = work / "venv"
    subprocess.run([_uv(), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run([_uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    str(wheel)], check=True, timeout=900)
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import _rngdrift, sys; "
                            "print(_rngdrift.__path__[0])"], capture_output=True, text=True,
                           cwd=work, check=True)
    assert probe.stdout.strip().startswith(str(venv)), "not the installed wheel"
    return venv / "bin"


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> Path:
    return scratchproject.make(tmp_path_factory.mktemp("team") / "segmentation")


def rngdrift(installed: Path, *args: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed / "rngdrift"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=3600, env={**os.environ, **env})


def findings(run: Path) -> list[dict]:
    with open(run / "findings.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def outcomes(cell_csv: Path) -> dict[tuple[str, str], set[str]]:
    """{(test, seeding): its `passed` values over the repeats ("1" passed, "0" not)}."""
    found: dict = {}
    with open(cell_csv, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["metric"] == "passed":
                found.setdefault((row["scenario"], row["seeding"]), set()).add(row["value"])
    return found


def test_help_speaks_to_users(installed, tmp_path):
    said = rngdrift(installed, "--help", cwd=tmp_path)
    assert said.returncode == 0
    assert "rngdrift check --from HEAD~1 --to HEAD --pytest tests/" in said.stdout
    assert "add_arguments" not in said.stdout and "host side" not in said.stdout


def test_a_torch_bump_breaks_the_mask_test_with_cause_link_and_fix(installed, team):
    done = rngdrift(installed, "check", "--from", "HEAD~1", "--to", "HEAD", "--pytest", "tests/",
                    cwd=team)
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]  # broken: the default --fail-on
    verdict = done.stdout
    assert verdict.startswith("# rngdrift check: `HEAD~1` → `HEAD`")
    assert "torch 1.5.0 → 1.6.0, torchvision 0.6.0 → 0.7.0" in verdict
    assert "**Broken** at torchvision 0.6.0 → 0.7.0" in verdict
    assert f"`{MASK_TEST}` `passed`" in verdict
    assert "tv-0.7-flips-colorjitter-torch-rng" in verdict
    assert "(https://github.com/pytorch/vision/issues/2520)" in verdict
    assert "torch.manual_seed(seed) next to random.seed(seed)" in verdict  # the fix
    # the results are in the team's repository, nowhere near the installed package
    run = (team / "rngdrift-results" / "latest").resolve()
    assert run.parent == team / "rngdrift-results" and (run / "check.md").read_text() == verdict
    assert not list(installed.parent.rglob("rngdrift-results"))
    broken = [f for f in findings(run) if f["severity"] == "broken"]
    assert {(f["scenario"], f["metric"], f["before"], f["after"]) for f in broken
            if f["metric"] != "failure"} == {(MASK_TEST, "passed", "1", "0")}
    # the failure rows ride along: no failure before, the assertion it fails with after
    failures = [f for f in broken if f["metric"] == "failure"]
    assert failures and all(f["scenario"] == MASK_TEST and f["before"] == ""
                            and f["after"].startswith("AssertionError (tests/") for f in failures)
    assert {f["cause_link"] for f in broken} == {"https://github.com/pytorch/vision/issues/2520"}
    old, new = (outcomes(run / "cells" / f"{cell}.csv")
                for cell in ("py3.8-torch1.5.0-tv0.6.0", "py3.8-torch1.6.0-tv0.7.0"))
    for seeding in ("none", "python", "torch", "all", "full"):
        # the team's own `scenarios` package imports as theirs, in both environments
        for test in ("pytest.tests.test_data.test_scenarios_is_our_own_package",
                     "pytest.tests.test_train.test_one_training_step_loss"):
            assert old[(test, seeding)] == new[(test, seeding)] == {"1"}
        assert old[(MASK_TEST, seeding)] == {"1"} and new[(MASK_TEST, seeding)] == {"0"}


def test_the_pull_request_action_with_the_real_check(installed, team, tmp_path):
    """The action's steps with the check for real: one comment, edited on the re-run."""
    rev = lambda ref: subprocess.run(["git", "-C", str(team), "rev-parse", ref], check=True,
                                     capture_output=True, text=True).stdout.strip()
    inputs = {"base": rev("HEAD~1"), "head": rev("HEAD"), "pull-request": "12",
              "github-token": fakegithub.TOKEN,
              "args": "--pytest tests/ --seeding python,all --repeats 1"}
    env = {"PATH": f"{installed}{os.pathsep}{os.environ['PATH']}"}
    with fakegithub.FakeGitHub() as api:
        env.update(GITHUB_API_URL=api.url, GITHUB_REPOSITORY=fakegithub.REPO)
        runs = []
        for attempt in (1, 2):
            temp = tmp_path / f"runner-{attempt}"
            temp.mkdir()
            runs.append(actionreplay.replay(team, inputs, env, temp))
        for done in runs:
            assert done["outputs"]["check"]["verdict"] == "failed", done["logs"]
            assert done["codes"]["Post the verdict on the pull request"] == 0
            assert done["codes"]["Fail on the severities chosen"] == 1
            assert "**Broken** at torchvision 0.6.0 → 0.7.0" in done["summary"]
        (comment,) = api.comments[12]
        assert comment["body"].startswith("<!-- rngdrift-check -->\n# rngdrift check: ")
        assert "tv-0.7-flips-colorjitter-torch-rng" in comment["body"]
        assert [method for method, _ in api.calls if method != "GET"] == ["POST", "PATCH"]


def test_a_side_that_cannot_be_resolved_is_one_line(installed, team):
    done = rngdrift(installed, "check", "--from", "torch==1.5.0 torchvision==0.7.0", "--to",
                    "HEAD", "--pytest", "tests/", cwd=team)
    assert done.returncode == 2
    line, = done.stderr.strip().splitlines()[-1:]
    assert line.startswith('rngdrift check: --from torch==1.5.0 torchvision==0.7.0 (pins ')
    assert "torchvision==0.7.0 depends on torch==1.6.0 and you require torch==1.5.0" in line


def test_a_teams_2021_scipy_resolves_with_its_own_numpy(tmp_path):
    """The cells hold NumPy 1.24.4; a team's scipy==1.7.0 needs NumPy < 1.23, and its
    check resolves it so (rngdrift's held pins are the matrix's, not the team's)."""
    from _rngdrift.harness.envs import build, pythons
    from _rngdrift.harness.envs.declared import Declared
    (python,) = pythons.installed(["3.8"]) or pytest.skip("Python 3.8 is not installed")
    got = build.resolve(Declared(("torch==1.5.0", "torchvision==0.6.0", "scipy==1.7.0")), [],
                        python, [], tmp_path)
    assert not isinstance(got, str), got
    assert got.version("scipy") == "1.7.0" and got.version("torch") == "1.5.0"
    assert tuple(map(int, got.version("numpy").split(".")[:2])) < (1, 23)


def test_run_from_a_team_repository_keeps_its_packages_its_own(installed, tmp_path):
    """`rngdrift run` from a repository with its own scenarios, harness and rngdrift
    packages: each imports as the team's in the torch 1.5 cell and the newest, and
    rngdrift_record still records (through rngdrift's private plugin)."""
    repo = tmp_path / "team"
    for package, mark in (("scenarios", 101), ("harness", 102), ("rngdrift", 103)):
        (repo / package).mkdir(parents=True)
        (repo / package / "__init__.py").write_text(f"MARK = {mark}\n")
    (repo / "probe.py").write_text("import harness\nimport rngdrift\nimport scenarios\n\n\n"
                                   "def which():\n    return {'scenarios': scenarios.MARK, "
                                   "'harness': harness.MARK, 'rngdrift': rngdrift.MARK}\n")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_probe.py").write_text(
        "import rngdrift\nimport scenarios\n\n\ndef test_ours(rngdrift_record):\n"
        "    rngdrift_record('marks', scenarios.MARK + rngdrift.MARK)\n"
        "    assert rngdrift.MARK == 103\n")
    (repo / "conftest.py").write_text("")
    done = rngdrift(installed, "run", "--cells", f"{OLD_CELL},{NEW_CELL}", "--call",
                    "probe.py:which", "--pytest", "tests/", "--user-only", "--seeding", "all",
                    "--repeats", "1", cwd=repo)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = (repo / "rngdrift-results" / "latest").resolve()
    assert (repo / ".rngdrift" / "run").is_dir() and (run / "report.md").is_file()
    for cell in (OLD_CELL, NEW_CELL):
        with open(run / "cells" / f"{cell}.csv", newline="", encoding="utf-8") as handle:
            values = {(r["scenario"], r["metric"]): r["value"] for r in csv.DictReader(handle)}
        assert values[("call.probe.which", "scenarios")] == "101", cell
        assert values[("call.probe.which", "harness")] == "102", cell
        assert values[("call.probe.which", "rngdrift")] == "103", cell
        assert values[("pytest.tests.test_probe.test_ours", "passed")] == "1", cell
        assert values[("pytest.tests.test_probe.test_ours", "marks")] == "204", cell
