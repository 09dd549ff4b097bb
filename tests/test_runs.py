import pytest

from _rngdrift.harness.runs import rundirs
from _rngdrift.harness.errors import UserError


@pytest.mark.parametrize("run_id", ["20261122-170000", "nightly-42", "a.b_c"])
def test_valid_run_ids(run_id):
    assert rundirs.check_run_id(run_id) == run_id


@pytest.mark.parametrize("run_id", ["", "latest", "baseline", "../x", "a/b", "-x", "a b"])
def test_run_ids_that_could_escape_or_clobber_are_refused(run_id):
    with pytest.raises(UserError, match="run id"):
        rundirs.check_run_id(run_id)


def test_latest_points_at_the_newest_run_relatively(tmp_path):
    first, second = tmp_path / "r1", tmp_path / "r2"
    first.mkdir(), second.mkdir()
    rundirs.point_latest(first)
    rundirs.point_latest(second)
    latest = tmp_path / "latest"
    assert latest.is_symlink() and str(latest.readlink()) == "r2"
    assert latest.resolve() == second.resolve()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest", "r1", "r2"]


def test_cell_csv_layout(tmp_path):
    assert rundirs.cell_csv(tmp_path, "py3.8-torch1.5.0-tv0.6.0") == \
        tmp_path / "cells" / "py3.8-torch1.5.0-tv0.6.0.csv"
