"""harness.baseline: promoting an accepted run to results/baseline/."""
from __future__ import annotations

from pathlib import Path

import pytest

from _rngdrift.harness.results import baseline
from _rngdrift.harness.runs import cellsession
from _rngdrift.harness import cli
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.cell import schema
from _rngdrift.harness.errors import UserError


def row(cell: compat.Cell, scenario="pairs.hflip", status="ok", run_id="r1"):
    meta = schema.cell_meta(run_id=run_id, cell=cell.id, python=cell.python, torch=cell.torch,
                            torchvision=cell.torchvision, numpy=compat.NUMPY,
                            pillow=compat.PILLOW, platform="linux", device="cpu")
    return schema.status_row(meta, scenario, "all", 1, status)


def make_run(path: Path, rows) -> Path:
    (path / "cells").mkdir(parents=True)
    schema.write_csv(path / "matrix.csv", rows)
    for name in ("drift.csv", "report.md", "report.html", "compare.md", "compare.csv"):
        (path / name).write_text(name)
    (path / "cells" / "c.csv").write_text("cell rows")
    (path / "cells" / "c.log").write_text("log")
    (path / "cells" / "c.freeze.txt").write_text("torch==1.5.0")
    return path


OLD = compat.DEFAULT[0]


def test_promote_copies_report_files_and_freezes_only(tmp_path):
    run = make_run(tmp_path / "r1", [row(OLD)])
    target = tmp_path / "baseline"
    written = baseline.promote(run, target)
    names = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert names == ["cells/c.freeze.txt", "drift.csv", "matrix.csv", "report.html", "report.md"]
    assert sorted(str(p.relative_to(target)) for p in written) == names
    assert (target / "matrix.csv").read_text() == (run / "matrix.csv").read_text()


def test_promote_replaces_the_old_baseline_whole(tmp_path):
    target = tmp_path / "baseline"
    target.mkdir()
    (target / "stale.csv").write_text("from an older baseline")
    baseline.promote(make_run(tmp_path / "r1", [row(OLD)]), target)
    assert not (target / "stale.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_holes_are_refused_unless_allowed(tmp_path):
    hole = cellsession.error_rows(compat.DEFAULT[-1], "r1", "cell.install", "install failed")
    run = make_run(tmp_path / "r1", [row(OLD)] + hole)
    target = tmp_path / "baseline"
    with pytest.raises(UserError, match=compat.DEFAULT[-1].id):
        baseline.promote(run, target)
    assert not target.exists()
    baseline.promote(run, target, allow_holes=True)
    assert (target / "matrix.csv").is_file()


def test_a_failed_scenario_is_not_a_hole(tmp_path):
    run = make_run(tmp_path / "r1", [row(OLD, status="error")])
    baseline.promote(run, tmp_path / "baseline")


@pytest.mark.parametrize("damage,message", [
    (lambda run: (run / "matrix.csv").unlink(), "missing; run `nox -s report"),
    (lambda run: (run / "matrix.csv").write_text("a,b\n1,2\n"), "header is not the schema's columns"),
    (lambda run: (run / "matrix.csv").write_text(""), "empty file"),
])
def test_bad_runs_leave_the_baseline_alone(tmp_path, damage, message, capsys):
    run = make_run(tmp_path / "r1", [row(OLD)])
    damage(run)
    target = tmp_path / "baseline"
    target.mkdir()
    (target / "matrix.csv").write_text("kept")
    assert cli.main(["baseline", str(run), "--to", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert (target / "matrix.csv").read_text() == "kept"


def test_the_baseline_cannot_promote_itself(tmp_path):
    target = make_run(tmp_path / "baseline", [row(OLD)])
    with pytest.raises(UserError, match="already the baseline"):
        baseline.promote(target, target)
