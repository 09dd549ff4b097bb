"""harness.ci: nox's session list -> a CI job matrix; holes for cells that sent nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _rngdrift.harness.runs import ci
from _rngdrift.harness import cli
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.cell import schema
from _rngdrift.harness.errors import UserError

ROOT = Path(__file__).resolve().parent.parent


def entry(session, name=None, python="3.8"):
    return {"session": session, "name": name or session.split("(")[0], "python": python,
            "tags": [], "call_spec": {}}


def nox_list(*selection: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "nox", "-l", "--json", *selection],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_matrix_include_keeps_cell_sessions_only():
    listing = [entry("matrix(py3.8-torch1.5.0-tv0.6.0)"),
               entry("report", python=None),
               entry("matrix(py3.11-torch2.15.0-tv0.29.2)", python="3.11")]
    assert ci.matrix_include(listing, ["matrix"]) == [
        {"session": "matrix(py3.8-torch1.5.0-tv0.6.0)", "cell": "py3.8-torch1.5.0-tv0.6.0",
         "python": "3.8"},
        {"session": "matrix(py3.11-torch2.15.0-tv0.29.2)", "cell": "py3.11-torch2.15.0-tv0.29.2",
         "python": "3.11"}]


def test_a_cell_in_two_sets_is_one_job():
    listing = [entry("matrix(py3.8-torch1.6.0-tv0.7.0)"),
               entry("exhaustive(py3.8-torch1.6.0-tv0.7.0)")]
    include = ci.matrix_include(listing, ["matrix", "exhaustive"])
    assert [e["session"] for e in include] == ["matrix(py3.8-torch1.6.0-tv0.7.0)"]


def test_python_falls_back_to_the_cell_id():
    include = ci.matrix_include([entry("matrix(py3.10-torch2.11.0-tv0.26.0)", python=None)],
                                ["matrix"])
    assert include[0]["python"] == "3.10"


@pytest.mark.parametrize("listing,message", [
    ([entry("matrix")], "does not name a cell"),
    ([entry("matrix(not-a-cell)")], "does not name a cell"),
    ([entry("report", python=None)], "no sessions named matrix"),
])
def test_matrix_include_bad_listing(listing, message):
    with pytest.raises(UserError, match=message):
        ci.matrix_include(listing, ["matrix"])


@pytest.mark.parametrize("text", ["", "{", '{"session": "x"}', "[1, 2]"])
def test_parse_listing_rejects(text):
    with pytest.raises(UserError, match="nox -l --json"):
        ci.parse_listing(text)


def test_real_nox_listing_becomes_one_job_per_default_cell(capsys, tmp_path):
    listing = tmp_path / "sessions.json"
    listing.write_text(nox_list("-s", "matrix"))
    assert cli.main(["ci", "matrix", str(listing)]) == 0
    include = json.loads(capsys.readouterr().out)["include"]
    assert [e["cell"] for e in include] == [c.id for c in compat.DEFAULT]
    assert [e["python"] for e in include] == [c.python for c in compat.DEFAULT]
    assert all(e["session"] == f"matrix({e['cell']})" for e in include)


def test_nox_keyword_selection_passes_through(capsys, tmp_path):
    listing = tmp_path / "sessions.json"
    listing.write_text(nox_list("-k", "exhaustive and torch1"))
    assert cli.main(["ci", "matrix", str(listing)]) == 0
    cells = [e["cell"] for e in json.loads(capsys.readouterr().out)["include"]]
    assert cells == [c.id for c in compat.EXHAUSTIVE if c.torch.startswith("1.")]


def test_cli_bad_input_is_one_line_and_exit_2(capsys, tmp_path):
    assert cli.main(["ci", "matrix", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.json: cannot read" in err
    assert cli.main(["ci", "matrix", "--sessions", "nightly", str(tmp_path)]) == 2
    assert "unknown session set nightly" in capsys.readouterr().err


def test_holes_fill_only_missing_cells(tmp_path, capsys):
    run = tmp_path / "nightly-42"
    present = run / "cells" / "py3.8-torch1.5.0-tv0.6.0.csv"
    present.parent.mkdir(parents=True)
    present.write_text("untouched")
    matrix = json.dumps({"include": [{"cell": "py3.8-torch1.5.0-tv0.6.0"},
                                     {"cell": "py3.11-torch2.15.0-tv0.29.2"}]})
    assert cli.main(["ci", "holes", str(run), "--matrix", matrix]) == 0
    assert "py3.11-torch2.15.0-tv0.29.2: no CSV came back" in capsys.readouterr().out
    assert present.read_text() == "untouched"
    manifest, row = schema.read_csv(run / "cells" / "py3.11-torch2.15.0-tv0.29.2.csv")
    assert manifest.detail == "rows=1"
    assert (row.run_id, row.cell, row.scenario, row.status, row.torch) == (
        "nightly-42", "py3.11-torch2.15.0-tv0.29.2", ci.MISSING_SCENARIO, "error", "2.15.0")
    assert "CI job" in row.detail


def test_holes_bad_matrix(tmp_path, capsys):
    assert cli.main(["ci", "holes", str(tmp_path / "r1"), "--matrix", "{}"]) == 2
    assert "--matrix: not the JSON" in capsys.readouterr().err
    assert not (tmp_path / "r1").exists()


def test_holes_take_the_plan_too(tmp_path, capsys):
    plan = json.dumps([{"cell": "py3.8-torch1.5.0-tv0.6.0", "action": "reuse", "key": "k"}])
    assert cli.main(["ci", "holes", str(tmp_path / "r1"), "--matrix", plan]) == 0
    assert (tmp_path / "r1" / "cells" / "py3.8-torch1.5.0-tv0.6.0.csv").is_file()


def _listing(*cells):
    return json.dumps([{"name": "matrix", "session": f"matrix({c})", "python": c[2:5]}
                       for c in cells])


def _previous(tmp_path, cell_id, *posargs):
    from _rngdrift.harness.results import platforms
    from _rngdrift.harness.runs import resultkey, runoptions
    from _rngdrift.harness.cell import environment
    from resultrows import everywhere, write_freeze, write_run
    run = write_run(tmp_path / "previous", everywhere(cell_id, "pairs.hflip",
                                                      {"pair_consistency": 1.0},
                                                      run_id="nightly-41"))
    key = resultkey.key_for(compat.find(cell_id), runoptions.parse(list(posargs), "x"),
                            platforms.this_class())
    write_freeze(run, cell_id, key.header())
    return run


OLD, TV07 = "py3.8-torch1.5.0-tv0.6.0", "py3.8-torch1.6.0-tv0.7.0"


def test_plan_gives_jobs_only_to_cells_that_must_run(tmp_path, capsys):
    previous = _previous(tmp_path, OLD, "--repeats", "1")
    listing = tmp_path / "sessions.json"
    listing.write_text(_listing(OLD, TV07))
    assert cli.main(["ci", "plan", str(listing), "--reuse-from", str(previous),
                     "--cell-args", "--repeats 1 --reuse-across-platforms"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert [e["cell"] for e in result["matrix"]["include"]] == [TV07] and result["count"] == 1
    assert [(p["cell"], p["action"]) for p in result["plan"]] == [(OLD, "reuse"), (TV07, "run")]
    assert "1 of 2 cells reused, 1 to run" in out.err
    # other options than last night's: everything runs
    assert cli.main(["ci", "plan", str(listing), "--reuse-from", str(previous)]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2
    # the first night (no cache yet): everything runs, nothing fails
    assert cli.main(["ci", "plan", str(listing), "--reuse-from", str(tmp_path / "none")]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2
    assert cli.main(["ci", "plan", str(listing), "--cell-args=--no-such-option"]) == 2
    assert "--cell-args" in capsys.readouterr().err


def test_reuse_copies_what_the_plan_reuses_and_notes_why_the_rest_ran(tmp_path, capsys):
    from _rngdrift.harness.runs import reuse
    from resultrows import everywhere, write_freeze, write_run
    previous = _previous(tmp_path, OLD)
    listing = tmp_path / "sessions.json"
    listing.write_text(_listing(OLD, TV07))
    assert cli.main(["ci", "plan", str(listing), "--reuse-from", str(previous)]) == 0
    plan = capsys.readouterr().out
    run = write_run(tmp_path / "nightly-42", everywhere(TV07, "pairs.hflip",
                                                        {"pair_consistency": 0.5},
                                                        run_id="nightly-42"))
    (run / "cells" / f"{TV07}.freeze.txt").write_text(
        '# rngdrift-plan: {"action": "run", "previous": "", "reason": "no previous run"}\n')
    assert cli.main(["ci", "reuse", str(run), "--plan", plan]) == 0
    records = reuse.plan_of(run)
    assert records[OLD]["action"] == "reuse" and records[OLD]["previous"] == str(previous)
    assert records[TV07] == {"action": "run", "previous": str(previous),
                             "reason": "new cell: not in previous"}
    # a cache that changed under the plan: not reused, and holes makes it visible
    (run / "cells" / f"{OLD}.csv").unlink()
    (previous / "cells" / f"{OLD}.freeze.txt").write_text("numpy==1.24.4\n")
    assert cli.main(["ci", "reuse", str(run), "--plan", plan]) == 0
    assert "no longer holds key" in capsys.readouterr().err
    assert not (run / "cells" / f"{OLD}.csv").exists()
    assert cli.main(["ci", "reuse", str(run), "--plan", "{}"]) == 2
