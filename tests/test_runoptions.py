"""harness.runs.runoptions: the options after `--`, declared once, parsed once into a
typed RunOptions that the cell session, the result key and the reuse plan share."""
from __future__ import annotations

import argparse
import dataclasses

import pytest

from _rngdrift.harness import paths
from _rngdrift.harness.cell import options
from _rngdrift.harness.errors import UserError
from _rngdrift.harness.runs import runoptions


def parse(posargs, where=None, run_id="r1"):
    return runoptions.parse(posargs, run_id, where)


@pytest.mark.parametrize("text,expected", [("1/1", (1, 1)), ("2/4", (2, 4)), ("4/4", (4, 4))])
def test_parse_shard(text, expected):
    assert runoptions.parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "1/2/3", "-1/2", ""])
def test_parse_shard_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError, match="K/N"):
        runoptions.parse_shard(text)


def test_every_cell_option_is_a_typed_field_and_nothing_else_is():
    """Adding an option to harness.cell.options adds a field here by itself."""
    fields = {f.name: f for f in dataclasses.fields(runoptions.RunOptions)}
    for option in options.selected("both"):
        assert options.dest(option) in fields
    parsed = parse(["--only", "pairs.*", "--repeats", "3", "--user-only"])
    assert parsed.only == ("pairs.*",) and parsed.repeats == 3 and parsed.user_only is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.repeats = 1


def test_shard_is_parsed_and_stays_on_the_host():
    parsed = parse(["--shard", "2/3"])
    assert parsed.shard == (2, 3) and "--shard" not in parsed.cell_argv()


def test_paths_are_made_absolute_where_the_user_started_by_the_option_table(tmp_path):
    """--scenarios and --cell-requirements are declared path=True; the user-code
    options keep their text and the cell reads them from --workdir."""
    parsed = parse(["--scenarios", "mine.py", "--scenarios", "pkg", "--cell-requirements",
                    "req.txt", "--call", "funcs.py:step", "--find-links", "wheels",
                    "--find-links", "https://example.org/w"], tmp_path)
    assert parsed.scenarios == (str(tmp_path / "mine.py"), str(tmp_path / "pkg"))
    assert parsed.cell_requirements == (str(tmp_path / "req.txt"),)
    assert parsed.call == ("funcs.py:step",)
    assert parsed.find_links == (str(tmp_path / "wheels"), "https://example.org/w")
    assert parsed.results == tmp_path / paths.RESULTS_ELSEWHERE and parsed.workdir == tmp_path
    out = parsed.cell_argv()
    assert out[out.index("--cell-requirements") + 1] == str(tmp_path / "req.txt")
    assert out[-2:] == ["--workdir", str(tmp_path)]
    assert [o.flag for o in options.selected("both") if o.path] == [
        "--scenarios", "--cell-requirements"]


def test_to_argv_gives_back_the_same_options(tmp_path):
    line = ["--run-id", "n1", "--shard", "1/2", "--repeats", "1", "--seeding", "all",
            "--pytest", "tests/ -k 'not slow'", "--scenarios", "s.py", "--index-url",
            "https://example.org/simple", "--reuse-from", "prev", "--rerun", "all",
            "--reuse-across-platforms", "--plan", "--timeout", "30"]
    parsed = parse(line, tmp_path)
    assert parse(parsed.to_argv(), tmp_path, run_id="other") == parsed


def test_resume_without_a_run_id_continues_the_latest_run(tmp_path, monkeypatch):
    monkeypatch.delenv("RNGDRIFT_RUN_ID", raising=False)
    (tmp_path / "20260101-000000").mkdir()
    (tmp_path / "latest").symlink_to("20260101-000000")
    parsed = parse(["--resume", "--results", str(tmp_path)], run_id="new-id")
    assert parsed.run_id == "20260101-000000"
    assert "--resume" in parsed.cell_argv()  # the cell resumes from its journal
    assert parse(["--results", str(tmp_path)], run_id="new-id").run_id == "new-id"
    monkeypatch.setenv("RNGDRIFT_RUN_ID", "from-env")
    assert parse(["--resume", "--results", str(tmp_path)], run_id="x").run_id == "from-env"


@pytest.mark.parametrize("line,message", [
    (["--resume"], "--resume: no run to resume"),
    (["--bogus"], "unrecognized arguments: --bogus (see nox -s matrix -- --help)"),
    (["--repeats", "two"], "argument --repeats: invalid int value: 'two'"),
    (["--shard", "3/2"], "--shard wants K/N"),
    (["--run-id", "latest"], "--run-id: run id 'latest' must be"),
    (["--index-url", "a", "--index-url", "b"], "--index-url: give it once"),
])
def test_bad_options_are_one_user_error_not_a_usage_dump(tmp_path, monkeypatch, line, message,
                                                         capsys):
    monkeypatch.delenv("RNGDRIFT_RUN_ID", raising=False)
    with pytest.raises(UserError) as info:
        parse(line + ["--results", str(tmp_path)])
    assert message in str(info.value) and "\n" not in str(info.value)
    assert capsys.readouterr().err == ""


def test_memory_limit_timeout_and_start_reach_the_cell():
    out = parse(["--memory-limit", "6G", "--timeout", "30", "--start", "spawn"]).cell_argv()
    assert out[out.index("--memory-limit") + 1] == "6G"
    assert out[out.index("--timeout") + 1] == "30.0"
    assert out[out.index("--start") + 1] == "spawn"
    assert "--resume" not in out and "--start" not in parse([]).cell_argv()


USER_CODE = ["--call", "funcs.py:step", "--call", "project.steps:step",
             "--script", "python train.py --epochs 1", "--metric", "acc=Accuracy: (\\S+)",
             "--pytest", "tests/test_model.py -k 'not slow'", "--dataset", "data.py:points",
             "--pairs", "data.py:pairs", "--user-only"]


def test_user_code_options_reach_the_cell_as_given_with_where_the_user_started(tmp_path):
    """One quoted word per program or test command line: nothing in it can be taken for
    an option of nox's or rngdrift's; relative paths are read from --workdir."""
    parsed = parse(USER_CODE, tmp_path)
    out = parsed.cell_argv()
    assert out[out.index("--script") + 1] == "python train.py --epochs 1"
    assert out[out.index("--pytest") + 1] == "tests/test_model.py -k 'not slow'"
    assert [out[i + 1] for i, a in enumerate(out) if a == "--call"] == [
        "funcs.py:step", "project.steps:step"]
    assert "--user-only" in out and out[out.index("--workdir") + 1] == str(tmp_path)
    assert runoptions.user_code_files(parsed) == [
        str(tmp_path / "funcs.py"), str(tmp_path / "data.py"), str(tmp_path / "data.py"),
        str(tmp_path / "train.py")]


def test_rngdrift_run_tells_the_sessions_where_it_started(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.STARTED_IN_ENV, str(tmp_path))
    assert parse([]).workdir == tmp_path
    assert parse([]).results == tmp_path / paths.RESULTS_ELSEWHERE
