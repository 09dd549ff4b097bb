"""benchmarks/cells.py: which cells, and where nox keeps their venvs."""
from __future__ import annotations

import pytest

from benchmarks import cells
from _rngdrift.harness.matrix import compat


def test_representative_cells_span_the_history():
    ids = [c.id for c in cells.select_cells("subset")]
    assert ids[0] == compat.DEFAULT[0].id and ids[-1] == compat.DEFAULT[-1].id
    majors = [compat._version(c.torch)[:2] for c in cells.select_cells("subset")]
    assert any((1, 5) < v < (2, 0) for v in majors) and any((2, 0) <= v <= (2, 2) for v in majors)
    assert len(set(ids)) == len(ids)
    assert len(cells.select_cells("all")) == len(compat.DEFAULT)


def test_select_cells_by_id_and_bad_id():
    assert [c.id for c in cells.select_cells("py3.8-torch1.5.0-tv0.6.0")] == ["py3.8-torch1.5.0-tv0.6.0"]
    with pytest.raises(ValueError, match="not-a-cell"):
        cells.select_cells("py3.8-torch1.5.0-tv0.6.0,not-a-cell")


# --- where nox keeps a cell's venv


def test_nox_venv_names_a_matrix_session_like_nox():
    assert (cells.nox_venv("matrix(py3.8-torch1.5.0-tv0.6.0)")
            == ".nox/matrix-py3-8-torch1-5-0-tv0-6-0")
    assert cells.nox_venv("tests", "/tmp/envs") == "/tmp/envs/tests"


@pytest.mark.parametrize("envdir", [".nox", "/some/checkout/.nox", "/" + "deep/" * 14 + ".nox",
                                    "/" + "x" * 95])
@pytest.mark.parametrize("session", ["matrix(py3.8-torch1.5.0-tv0.6.0)",
                                     "matrix(py3.11-torch2.15.0-tv0.29.2)", "tests",
                                     "exhaustive(py3.9-torch2.6.0-tv0.21.0)", "Ünïcode -- name",
                                     "()", "a" * 90])
def test_nox_venv_mirrors_the_nox_installed(session, envdir):
    """cells.nox_venv copies nox's private naming rule; this fails when nox changes it."""
    sessions = pytest.importorskip("nox.sessions")
    normalize_path = getattr(sessions, "_normalize_path", None)
    if normalize_path is None:
        pytest.fail("nox no longer has sessions._normalize_path: read how this nox names "
                    "venvs and update benchmarks.cells.nox_venv")
    assert cells.nox_venv(session, envdir) == normalize_path(envdir, session)
