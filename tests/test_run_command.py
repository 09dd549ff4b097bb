"""harness.commands.run: `rngdrift run` picks nox sessions, keeps venvs and results where
the user started, and hands its parsed options to the shipped noxfile whole."""
from __future__ import annotations

import pytest

from _rngdrift.harness import cli, paths
from _rngdrift.harness.commands import run
from _rngdrift.harness.errors import UserError
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.runs import cellsets, runoptions

OLD = "py3.8-torch1.5.0-tv0.6.0"


def test_a_set_is_its_session_and_ids_or_globs_are_one_session_each():
    assert run.sessions("exhaustive") == ["exhaustive"]
    assert run.sessions(f"{OLD}, {compat.DEFAULT[-1].id}") == [
        f"matrix({OLD})", f"matrix({compat.DEFAULT[-1].id})"]
    in_patches_only = next(c for c in compat.PATCHES
                           if c.id not in {d.id for d in cellsets.cells("matrix")}
                           and c.id not in {e.id for e in compat.EXHAUSTIVE})
    assert run.sessions(in_patches_only.id) == [f"patches({in_patches_only.id})"]
    torch15 = run.sessions("*-torch1.5.*")
    assert f"matrix({OLD})" in torch15 and all("torch1.5." in s for s in torch15)


def test_a_selection_that_names_no_cell_is_one_line():
    with pytest.raises(UserError, match=r"--cells py3.8-torch9.9.9-tv0.6.0: no cell of the lock"):
        run.sessions("py3.8-torch9.9.9-tv0.6.0")


def test_nox_gets_the_shipped_noxfile_an_envdir_and_the_options_whole(tmp_path):
    opts = runoptions.parse(["--pytest", "tests/", "--repeats", "1"], "r7", tmp_path)
    command = run.nox_command(opts, [f"matrix({OLD})"], tmp_path / ".rngdrift" / "run")
    assert command[1:5] == ["-m", "nox", "--noxfile", str(paths.NOXFILE)]
    assert command[command.index("--envdir") + 1] == str(tmp_path / ".rngdrift" / "run")
    passed = command[command.index("--") + 1:]
    assert runoptions.parse(passed, "other", tmp_path) == opts


def test_the_state_folder_ignores_itself(tmp_path):
    state = run.state_dir(tmp_path)
    assert state == tmp_path / ".rngdrift" and (state / ".gitignore").read_text().endswith("*\n")


def test_list_prints_the_cells_and_runs_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--cells", "exhaustive", "--list"]) == 0
    assert capsys.readouterr().out.split() == [c.id for c in compat.EXHAUSTIVE]
    assert not (tmp_path / ".rngdrift").exists() and not (tmp_path / "rngdrift-results").exists()
    assert cli.main(["run", "--cells", "nothing-like-it"]) == 2
    assert capsys.readouterr().err.startswith("rngdrift run: --cells nothing-like-it: ")
