"""harness.runs.cellsession: one matrix session (shards, user code preflight, rows for
cells that cannot run, the Setup the noxfile makes once)."""
from __future__ import annotations

import re

import pytest

from _rngdrift.harness.errors import UserError
from _rngdrift.harness.runs import cellsession, cellsets, runoptions
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.cell import schema


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


def setup(posargs, where=None, cells=compat.DEFAULT):
    return cellsession.prepare(posargs, "unused", cells, where)


def opts(posargs, where=None):
    return runoptions.parse(posargs, "r1", where)


def test_run_cell_outside_its_shard_skips_before_doing_anything(tmp_path):
    cells = compat.DEFAULT
    posargs = ["--shard", "2/2", "--run-id", "t", "--results", str(tmp_path)]
    session = FakeSession(posargs)
    with pytest.raises(Skipped, match=rf"{re.escape(cells[0].id)} is in shard 1/2, not 2/2"):
        cellsession.run_cell(session, cells[0], setup(posargs), cells)
    assert not any(tmp_path.iterdir()) and session.notified == []


def test_options_are_parsed_once_when_the_noxfile_loads_and_a_bad_line_waits(tmp_path):
    """The options after `--` go to whichever sessions run (`nox -s tests -- -k x`), so
    a line the cell sessions cannot use is kept and raised by the first cell session."""
    made = setup(["-k", "slow"], tmp_path)
    assert made.options is None and "unrecognized arguments: -k slow" in str(made.problem)
    assert not made.needs_venv(compat.DEFAULT[0].id)  # nothing is installed to say so
    with pytest.raises(UserError, match="unrecognized arguments"):
        cellsession.run_cell(FakeSession(["-k", "slow"]), compat.DEFAULT[0], made)
    good = setup(["--repeats", "1"], tmp_path)
    assert good.problem is None and good.options.repeats == 1 and good.plan is None


def test_a_bad_reuse_from_is_kept_for_the_cell_sessions(tmp_path):
    made = setup(["--reuse-from", str(tmp_path / "nowhere")], tmp_path)
    assert str(made.problem).endswith("nowhere: no such run directory")


# -- user scenarios and --cell-requirements (bring your own scenario) ----------

def _user_args(tmp_path, scenarios=(), requirements=()):
    return opts([a for p in scenarios for a in ("--scenarios", str(p))]
                + [a for p in requirements for a in ("--cell-requirements", str(p))], tmp_path)


def test_check_user_code_missing_requirements_file(tmp_path):
    args = _user_args(tmp_path, requirements=["req.txt"])
    assert cellsession.check_user_code(args, compat.DEFAULT[0], None) == \
        f"{tmp_path / 'req.txt'}: no such requirements file (--cell-requirements)"


def test_check_user_code_with_the_cells_python(tmp_path):
    from _rngdrift.harness.matrix import interpreters
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


def test_run_cell_with_bad_user_code_stops_before_doing_anything(tmp_path):
    posargs = ["--scenarios", str(tmp_path / "gone.py"), "--run-id", "t",
               "--results", str(tmp_path / "results")]
    session = FakeSession(posargs)
    with pytest.raises(UserError) as info:  # the noxfile: one line, exit 2 (errors.guarded)
        cellsession.run_cell(session, compat.DEFAULT[0], setup(posargs), compat.DEFAULT)
    assert str(info.value) == f"{tmp_path / 'gone.py'}: no such file or directory"
    assert not (tmp_path / "results").exists() and session.notified == []


# -- fault tolerance: resume, leftovers, cells that cannot run -----------------

def _cell_csv(path, cell_id="c1", scenario="s", status="ok"):
    meta = schema.cell_meta(**dict({c: "" for c in schema.META_COLUMNS if c != "schema_version"}, cell=cell_id))
    schema.write_csv(path, [schema.status_row(meta, scenario, "none", 1, status)])
    return path


def test_cell_is_complete_accepts_a_whole_csv_of_its_cell(tmp_path):
    path = _cell_csv(tmp_path / "c1.csv")
    assert cellsession.cell_is_complete(path, "c1")
    assert not cellsession.cell_is_complete(path, "other")
    assert not cellsession.cell_is_complete(tmp_path / "missing.csv", "c1")


@pytest.mark.parametrize("damage", [
    lambda t: t[:len(t) // 2] + t.splitlines()[1][:10],  # cut mid-row
    lambda t: t.splitlines()[0] + "\n",                   # header only
    lambda t: t.replace("schema_version", "version", 1),  # another schema
    lambda t: t.replace("\n1,", "\n0,", 1),               # another schema version
    lambda t: "",
])
def test_cell_is_complete_rejects_damaged_csvs(tmp_path, damage):
    path = _cell_csv(tmp_path / "c1.csv")
    path.write_text(damage(path.read_text()))
    assert not cellsession.cell_is_complete(path, "c1")


def test_a_cell_that_only_failed_to_install_is_retried_on_resume(tmp_path):
    path = _cell_csv(tmp_path / "c1.csv", scenario="cell.install", status="error")
    assert not cellsession.cell_is_complete(path, "c1")


def test_remove_leftovers_removes_only_this_cells_temporary_files(tmp_path):
    cell = "py3.8-torch1.5.0-tv0.6.0"
    leftovers = [f"{cell}.csv.tmp-k3j_9xq2", f"{cell}.freeze.txt.tmp-9", f"{cell}.journal.tmp-77",
                 f"{cell}.log.full-r2-1.part"]
    kept = [f"{cell}.csv", f"{cell}.log", f"{cell}.journal", f"{cell}.freeze.txt",
            "py3.8-torch1.5.0-tv0.6.0.1.csv.tmp-5", "other.csv.tmp-1", f"{cell}.csv.tmp-a.b"]
    for name in leftovers + kept:
        (tmp_path / name).write_text("x")
    gone = cellsession.remove_leftovers(tmp_path / f"{cell}.csv")
    assert sorted(p.name for p in gone) == sorted(leftovers)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)


def test_extra_cells(monkeypatch):
    monkeypatch.setenv(cellsets.EXTRA_CELLS_ENV, "py3.8-torch9.9.9-tv0.6.0, py3.99-torch1.5.0-tv0.6.0")
    assert [c.id for c in cellsets.extra_cells()] == [
        "py3.8-torch9.9.9-tv0.6.0", "py3.99-torch1.5.0-tv0.6.0"]
    assert cellsets.cells("matrix")[-2:] == cellsets.extra_cells()
    monkeypatch.setenv(cellsets.EXTRA_CELLS_ENV, "torch9")
    with pytest.raises(UserError, match="'torch9' is not a cell id"):
        cellsets.extra_cells()
    monkeypatch.delenv(cellsets.EXTRA_CELLS_ENV)
    assert cellsets.extra_cells() == []


def test_the_cell_sets_are_named_once():
    assert cellsets.NAMES == ("matrix", "exhaustive", "patches")
    assert cellsets.cells("exhaustive") == compat.EXHAUSTIVE
    with pytest.raises(UserError, match="unknown cell set 'nightly'"):
        cellsets.cells("nightly")


def test_record_missing_interpreter(tmp_path, capsys):
    cells = [compat.Cell("3.99", "1.5.0", "0.6.0"), compat.Cell("3.8", "1.6.0", "0.7.0")]
    posargs = ["--run-id", "r", "--results", str(tmp_path)]
    out = cellsession.record_missing_interpreter(cells[0], opts(posargs), cells)
    assert out == tmp_path / "r" / "cells" / f"{cells[0].id}.csv"
    manifest, row = schema.read_csv(out)
    assert manifest.scenario == schema.CELL_MANIFEST
    assert (row.scenario, row.status, row.python) == ("cell.interpreter", "error", "3.99")
    assert "Python 3.99 not found" in row.detail
    assert capsys.readouterr().err.startswith(f"rngdrift: {cells[0].id}: Python 3.99 not found")
    # Not in this shard: nothing written. Resumed with a complete CSV: kept as it is.
    assert cellsession.record_missing_interpreter(cells[0], opts(posargs + ["--shard", "2/2"]),
                                                  cells) is None
    _cell_csv(out, cell_id=cells[0].id)
    assert cellsession.record_missing_interpreter(cells[0], opts(posargs + ["--resume"]),
                                                  cells) is None
    assert cellsession.cell_is_complete(out, cells[0].id)


class Failed(Exception):
    pass


@pytest.mark.parametrize("ci, outcome", [("", Skipped), ("true", Failed)])
def test_a_cell_whose_python_is_missing_leaves_its_row_then_skips(tmp_path, monkeypatch, ci,
                                                                   outcome):
    """Skipped locally, failed on CI (as nox does with missing interpreters); the row
    is written either way, so the hole shows in the report."""
    monkeypatch.setenv("CI", ci)
    cell = compat.Cell("3.99", "1.5.0", "0.6.0")
    session = FakeSession(["--run-id", "r", "--results", str(tmp_path)])

    def error(reason):
        raise Failed(reason)
    session.error = error
    with pytest.raises(outcome, match="Python 3.99 not found"):
        cellsession.skip_missing_interpreter(session, cell, opts(session.posargs), [cell])
    _, row = schema.read_csv(tmp_path / "r" / "cells" / f"{cell.id}.csv")
    assert (row.scenario, row.status) == (schema.CELL_INTERPRETER, "error")


def test_check_user_code_names_a_missing_script_before_installing(tmp_path):
    args = opts(["--script", "python -u nothere.py --x 1"], tmp_path)
    assert cellsession.check_user_code(args, compat.DEFAULT[0], None) == \
        f"{tmp_path / 'nothere.py'}: no such file"


def test_check_user_code_names_a_missing_pytest_path_before_installing(tmp_path):
    (tmp_path / "tests").mkdir()
    ok = opts(["--pytest", "tests/ -k 'not slow'"], tmp_path)
    assert cellsession.check_user_code(ok, compat.DEFAULT[0], None) is None
    missing = opts(["--pytest", "tests/nope/::test_x -k x"], tmp_path)
    assert cellsession.check_user_code(missing, compat.DEFAULT[0], None) == \
        f"--pytest 'tests/nope/::test_x -k x': {tmp_path / 'tests' / 'nope'}: no such file or folder"


@pytest.mark.parametrize("python,wanted", [("3.7", "pytest>=7.4,<7.5"),
                                           ("3.8", "pytest>=8.3,<8.4"),
                                           ("3.11", "pytest>=8.3")])
def test_pytest_goes_into_a_cell_at_a_version_its_python_supports(python, wanted):
    assert cellsession.pytest_requirement(python) == wanted


def test_loader_and_goal_reach_the_cell_and_a_bad_goal_stops_before_any_cell(tmp_path):
    opts = runoptions.parse(["--loader", "data.py:train_loader", "--script", "python train.py",
                             "--goal", "accuracy=up"], "r1", tmp_path)
    out = opts.cell_argv()
    assert out[out.index("--loader") + 1] == "data.py:train_loader"
    assert out[out.index("--goal") + 1] == "accuracy=up"
    assert runoptions.user_code_files(opts) == [str(tmp_path / "data.py"),
                                                str(tmp_path / "train.py")]
    with pytest.raises(UserError, match="--goal 'accuracy=higher': expected NAME=up or NAME=down"):
        runoptions.parse(["--script", "python train.py", "--goal", "accuracy=higher"], "r1",
                         tmp_path)
