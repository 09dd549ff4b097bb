"""harness.cellsession: posargs of the matrix sessions (``--shard``)."""
from __future__ import annotations

import argparse

import pytest

from harness import cellsession, compat


class Skipped(Exception):
    pass


class FakeSession:
    """Just enough of nox's Session for run_cell to decide whether to skip."""

    def __init__(self, posargs):
        self.posargs = posargs
        self.notified = []

    def skip(self, reason):
        raise Skipped(reason)

    def notify(self, name, posargs=None):
        self.notified.append(name)

    def log(self, message):
        pass


@pytest.mark.parametrize("text,expected", [("1/1", (1, 1)), ("2/4", (2, 4)), ("4/4", (4, 4))])
def test_parse_shard(text, expected):
    assert cellsession.parse_shard(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "1/2/3", "-1/2", ""])
def test_parse_shard_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError, match="K/N"):
        cellsession.parse_shard(text)


def test_shard_posarg_is_parsed():
    args = cellsession.parse_posargs(["--shard", "2/3"], "r1")
    assert args.shard == (2, 3)
    assert "--shard" not in cellsession.cell_args(args)  # host-side only


@pytest.mark.parametrize("cells", [compat.DEFAULT, compat.EXHAUSTIVE])
@pytest.mark.parametrize("shards", [1, 2, 3, 4, 7])
def test_shards_partition_the_cells(cells, shards):
    """Every cell lands in exactly one shard, and shards differ in size by at most one."""
    by_shard = {k: [] for k in range(1, shards + 1)}
    for cell in cells:
        by_shard[cellsession.shard_of(cell, cells, shards)].append(cell.id)
    assert sorted(sum(by_shard.values(), [])) == sorted(c.id for c in cells)
    sizes = [len(v) for v in by_shard.values()]
    assert max(sizes) - min(sizes) <= 1


def test_shard_is_round_robin_over_the_list():
    cells = compat.DEFAULT
    assert [cellsession.shard_of(c, cells, 4) for c in cells[:6]] == [1, 2, 3, 4, 1, 2]


def test_shard_of_unknown_cell():
    with pytest.raises(ValueError, match="not in this session's cell list"):
        cellsession.shard_of(compat.Cell("3.8", "9.9.9", "0.0.0"), compat.DEFAULT, 2)


def test_run_cell_outside_its_shard_skips_before_doing_anything(tmp_path):
    cells = compat.DEFAULT
    session = FakeSession(["--shard", "2/2", "--run-id", "t", "--results", str(tmp_path)])
    with pytest.raises(Skipped, match=r"py3.8-torch1.5.0-tv0.6.0 is in shard 1/2, not 2/2"):
        cellsession.run_cell(session, cells[0], "unused", cells)
    assert not any(tmp_path.iterdir()) and session.notified == []


# -- user scenarios and --cell-requirements (bring your own scenario) ----------

def test_user_paths_resolve_from_where_nox_was_started(tmp_path):
    args = cellsession.parse_posargs(["--scenarios", "mine.py", "--scenarios", "pkg",
                                      "--cell-requirements", "req.txt"], "r1")
    cellsession.resolve_user_paths(args, tmp_path)
    assert args.scenarios == [str(tmp_path / "mine.py"), str(tmp_path / "pkg")]
    assert args.cell_requirements == [str(tmp_path / "req.txt")]
    out = cellsession.cell_args(args)
    assert out[out.index("--cell-requirements") + 1] == str(tmp_path / "req.txt")
    assert [out[i + 1] for i, a in enumerate(out) if a == "--scenarios"] == args.scenarios


def _user_args(tmp_path, scenarios=(), requirements=()):
    args = cellsession.parse_posargs(
        [a for p in scenarios for a in ("--scenarios", str(p))]
        + [a for p in requirements for a in ("--cell-requirements", str(p))], "r1")
    cellsession.resolve_user_paths(args, tmp_path)
    return args


def test_check_user_code_missing_requirements_file(tmp_path):
    args = _user_args(tmp_path, requirements=["req.txt"])
    assert cellsession.check_user_code(args, compat.DEFAULT[0], None) == \
        f"{tmp_path / 'req.txt'}: no such requirements file (--cell-requirements)"


def test_check_user_code_with_the_cells_python(tmp_path):
    from harness import interpreters
    python = interpreters.find("3.8")
    if python is None:
        pytest.skip(interpreters.missing_hint("3.8"))
    (tmp_path / "ok.py").write_text("x = 1\n")
    (tmp_path / "new.py").write_text("def f(v):\n    match v:\n        case 1:\n            pass\n")
    cell = compat.DEFAULT[0]
    assert cellsession.check_user_code(_user_args(tmp_path, ["ok.py"]), cell, python) is None
    problem = cellsession.check_user_code(_user_args(tmp_path, ["ok.py", "new.py"]), cell, python)
    assert problem.startswith(f"{tmp_path / 'new.py'}:2: SyntaxError: ")
    assert problem.endswith(f"cannot compile it; cell {cell.id})") and "Python 3.8." in problem
    assert cellsession.check_user_code(_user_args(tmp_path, ["gone.py"]), cell, python) == \
        f"{tmp_path / 'gone.py'}: no such file or directory"


def test_run_cell_with_bad_user_code_exits_2_before_doing_anything(tmp_path, capsys):
    session = FakeSession(["--scenarios", str(tmp_path / "gone.py"), "--run-id", "t",
                           "--results", str(tmp_path / "results")])
    with pytest.raises(SystemExit) as info:
        cellsession.run_cell(session, compat.DEFAULT[0], "unused", compat.DEFAULT)
    assert info.value.code == 2
    assert capsys.readouterr().err == f"rngdrift: {tmp_path / 'gone.py'}: no such file or directory\n"
    assert not (tmp_path / "results").exists() and session.notified == []
