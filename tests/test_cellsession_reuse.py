"""harness.cellsession with --reuse-from, --plan and other indexes (no cell installed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from _rngdrift.harness.runs import cellsession, resultkey, reuse, runoptions, rundirs
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.results import platforms
from _rngdrift.harness.cell import environment
from _rngdrift.harness.errors import UserError
from resultrows import everywhere, write_freeze, write_run

OLD = compat.find("py3.8-torch1.5.0-tv0.6.0")
TV07 = compat.find("py3.8-torch1.6.0-tv0.7.0")


class Skipped(Exception):
    pass


class Errored(Exception):
    pass


class FakeSession:
    """What run_cell asks of nox's Session; ``run`` records the cell's command instead."""

    def __init__(self, posargs, tmp_path, backend="uv"):
        self.posargs = posargs
        self.invoked_from = str(tmp_path)
        self.venv_backend = backend
        self.virtualenv = type("V", (), {"location": str(tmp_path / "venv")})()
        self.notified, self.logged, self.ran = [], [], []

    def skip(self, reason):
        raise Skipped(reason)

    def error(self, reason):
        raise Errored(reason)

    def notify(self, name, posargs=None):
        self.notified.append((name, posargs))

    def log(self, message):
        self.logged.append(message)

    def run(self, *cmd, env=None):
        self.ran.append(cmd)

    def chdir(self, where):
        import contextlib
        return contextlib.nullcontext()


def previous_run(tmp_path, *posargs) -> Path:
    run = tmp_path / "results" / "night-41"
    write_run(run, everywhere(OLD.id, "pairs.hflip", {"pair_consistency": 1.0},
                              run_id="night-41"))
    args = runoptions.parse(list(posargs), "x")
    key = resultkey.key_for(OLD, args, platforms.this_class())
    write_freeze(run, OLD.id, key.header())
    return run


def posargs(tmp_path, *more):
    return ["--results", str(tmp_path / "results"), "--run-id", "night-42", *more]


def prepare(args, cells, tmp_path):
    return cellsession.prepare(args, "r", cells, tmp_path)


def test_the_plan_is_made_once_only_with_reuse_or_plan(tmp_path):
    assert prepare(["-k", "x", "tests/test_x.py"], [OLD], tmp_path).plan is None
    assert prepare(posargs(tmp_path), [OLD], tmp_path).plan is None
    previous = previous_run(tmp_path)
    made = prepare(posargs(tmp_path, "--reuse-from", str(previous)), [OLD, TV07], tmp_path)
    assert made.plan[OLD.id].reused and not made.plan[TV07.id].reused
    assert not made.needs_venv(OLD.id) and made.needs_venv(TV07.id)
    planned = prepare(posargs(tmp_path, "--reuse-from", str(previous), "--plan"), [OLD, TV07],
                      tmp_path)
    assert not planned.needs_venv(TV07.id)


def test_the_plan_refuses_a_missing_previous_run_or_this_run(tmp_path):
    made = prepare(posargs(tmp_path, "--reuse-from", str(tmp_path / "gone")), [OLD], tmp_path)
    assert "no such run directory" in str(made.problem)
    with pytest.raises(UserError, match="no such run directory"):
        cellsession.run_cell(FakeSession(made.posargs, tmp_path), OLD, made, [OLD])
    previous = previous_run(tmp_path)
    made = prepare(["--results", str(tmp_path / "results"), "--run-id", "night-41",
                    "--reuse-from", str(previous)], [OLD], tmp_path)
    assert "that is this run" in str(made.problem)


def test_a_reused_cell_is_copied_and_nothing_installs(tmp_path):
    previous = previous_run(tmp_path)
    args = posargs(tmp_path, "--reuse-from", str(previous))
    session = FakeSession(args, tmp_path)
    cellsession.run_cell(session, OLD, prepare(args, [OLD], tmp_path), [OLD],
                         interpreter_found=False)
    run = tmp_path / "results" / "night-42"
    assert rundirs.cell_is_complete(rundirs.cell_csv(run, OLD.id), OLD.id)
    assert reuse.plan_of(run)[OLD.id]["action"] == "reuse"
    assert session.ran == [] and session.notified == [("report", [str(run)])]
    assert any("reuse from night-41" in line for line in session.logged)


def test_plan_skips_every_cell_saying_why(tmp_path):
    previous = previous_run(tmp_path)
    args = posargs(tmp_path, "--reuse-from", str(previous), "--plan")
    made = prepare(args, [OLD, TV07], tmp_path)
    with pytest.raises(Skipped, match=r"reuse from night-41 \(key \w+ unchanged\) \(--plan"):
        cellsession.run_cell(FakeSession(args, tmp_path), OLD, made, [OLD, TV07])
    with pytest.raises(Skipped, match="run: new cell: not in night-41"):
        cellsession.run_cell(FakeSession(args, tmp_path), TV07, made, [OLD, TV07])
    assert not (tmp_path / "results" / "night-42").exists()


def test_install_command_passes_the_indexes_before_the_requirements(tmp_path, monkeypatch):
    args = runoptions.parse(["--index-url", "https://download.pytorch.org/whl/cpu",
                             "--extra-index-url", "https://example.org/simple",
                             "--find-links", "wheels"], "r", tmp_path)
    index = runoptions.index_args(args)
    assert index == ["--index-url", "https://download.pytorch.org/whl/cpu",
                     "--extra-index-url", "https://example.org/simple",
                     "--find-links", str(tmp_path / "wheels")]
    pip = cellsession.install_command(FakeSession([], tmp_path, backend="venv"),
                                      ["torch==1.5.0"], index)
    assert pip[-7:] == [*index, "torch==1.5.0"] and pip[1:4] == ["-m", "pip", "install"]
    uv = cellsession.install_command(FakeSession([], tmp_path), ["torch==1.5.0"], index)
    assert uv[1:3] == ["pip", "install"] and uv[-7:] == [*index, "torch==1.5.0"]
    assert runoptions.index_notes(args) == [
        "index-url: https://download.pytorch.org/whl/cpu",
        "extra-index-url: https://example.org/simple", f"find-links: {tmp_path / 'wheels'}"]


def test_one_index_url_at_most():
    with pytest.raises(UserError, match="--index-url: give it once"):
        runoptions.parse(["--index-url", "a", "--index-url", "b"], "r")


def test_a_cell_that_runs_gets_its_key_plan_and_indexes_as_freeze_notes(tmp_path, monkeypatch):
    previous = previous_run(tmp_path)
    args = posargs(tmp_path, "--reuse-from", str(previous), "--repeats", "1",
                   "--find-links", "wheels")
    session = FakeSession(args, tmp_path)
    monkeypatch.setattr(cellsession, "check_user_code", lambda *a: None)
    monkeypatch.setattr(cellsession, "install_command", lambda s, req, index: ["true", *index])
    cellsession.run_cell(session, OLD, prepare(args, [OLD], tmp_path), [OLD])
    (cmd,) = session.ran
    notes = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--freeze-note"]
    assert notes[0].startswith("rngdrift-key: ") and notes[1].startswith("rngdrift-key-parts: ")
    assert notes[2].startswith('rngdrift-plan: {"action": "run"') and "options, indexes changed" in notes[2]
    assert notes[3] == f"find-links: {tmp_path / 'wheels'}"
