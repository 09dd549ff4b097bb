"""Shared fixtures: real cell venvs (built once, reused) and a cell runner.

``cell_python(cell_id)`` returns the interpreter of a venv holding exactly that
cell's pins, built with uv under .nox/_testcells (hard-linked from uv's cache,
so a warm rebuild takes seconds). ``run_cell(python, ...)`` runs
``python -m _rngdrift.harness.cell`` there and returns the CSV rows.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _rngdrift.harness.matrix import compat, interpreters
from _rngdrift.harness.cell import schema

ROOT = Path(__file__).resolve().parent.parent

OLD_CELL = "py3.8-torch1.5.0-tv0.6.0"
NEW_CELL = compat.DEFAULT[-1].id
TESTCELLS = ROOT / ".nox" / "_testcells"


def _uv() -> str:
    uv = shutil.which("uv")
    if uv:
        return uv
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except ImportError:
        pytest.skip("uv is needed to build test cells (pip install 'nox[uv]')")


def build_cell(cell_id: str, pytest: bool = False) -> Path:
    """``pytest``: a venv of its own (``<cell-id>+pytest``) with the pytest ``--pytest``
    installs into that cell, so the plain cells keep exactly their pins."""
    cell = compat.find(cell_id) or compat.parse_id(cell_id)
    assert cell is not None, f"unknown cell {cell_id}"
    requirements = list(cell.requirements)
    if pytest:
        from _rngdrift.harness.runs.cellsession import pytest_requirement
        requirements.append(pytest_requirement(cell.python))
    venv = TESTCELLS / (cell.id + ("+pytest" if pytest else ""))
    python = venv / "bin" / "python"
    stamp = venv / ".rngdrift-pins"
    pins = "\n".join(requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == pins:
        return python
    interpreter = interpreters.find(cell.python)
    if interpreter is None:
        pytest.fail(interpreters.missing_hint(cell.python))
    uv = _uv()
    subprocess.run([uv, "venv", "-q", "--clear", "-p", str(interpreter), str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *requirements],
                   check=True)
    stamp.write_text(pins)
    return python


@pytest.fixture(scope="session")
def cell_python():
    """Factory: cell id -> interpreter of a venv with that cell's exact pins."""
    return build_cell


def data_rows(path: Path) -> list[schema.Row]:
    """A cell CSV's rows after its manifest (checked: first, and counting the rest)."""
    manifest, *rows = schema.read_csv(path)
    assert manifest.scenario == schema.CELL_MANIFEST, manifest
    assert manifest.detail == schema.MANIFEST_DETAIL % len(rows), manifest
    return rows


def run_cell(python: Path, out: Path, *args: str, cell: str = "test-cell",
             timeout: float = 900) -> list[schema.Row]:
    """Run ``python -m _rngdrift.harness.cell`` and return the rows it wrote (after the manifest)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [str(python), "-m", "_rngdrift.harness.cell", "--out", str(out), "--cell", cell,
         "--run-id", "pytest", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return data_rows(out)


@pytest.fixture
def run_in_cell(tmp_path):
    """Factory: (python, *args) -> rows of a harness.cell run into tmp_path."""
    def run(python, *args, **kwargs):
        return run_cell(python, tmp_path / "cell.csv", *args, **kwargs)
    return run


def value(rows, scenario, seeding, metric, repeat="1"):
    for row in rows:
        if (row.scenario, row.seeding, row.metric, row.repeat) == (
                scenario, seeding, metric, repeat):
            return row.value
    raise KeyError((scenario, seeding, metric, repeat))


# -- one full run per cell, shared by the scenario-family tests ------------------------
_FULL_RUNS: dict = {}
_LISTED: dict = {}
FULL_MODES = schema.DEFAULT_MODES  # what a cell runs by default (harness.cell.modes)
FULL_REPEATS = 2


def full_run(cell_id: str, tmp_dir: Path) -> list[dict]:
    """Every canonical scenario in ``cell_id`` (all modes, 2 repeats), run once per session.

    Family tests filter these rows instead of starting the cell again for each
    family: the whole torch 1.5 cell takes ~10 s, the newest ~40 s.
    """
    if cell_id not in _FULL_RUNS:
        _FULL_RUNS[cell_id] = run_cell(build_cell(cell_id), tmp_dir / f"{cell_id}.csv",
                                       "--repeats", str(FULL_REPEATS), cell=cell_id)
    return _FULL_RUNS[cell_id]


def listed(cell_id: str) -> list[str]:
    """Every canonical scenario the cell registers (``--list``), once per session."""
    if cell_id not in _LISTED:
        proc = subprocess.run([str(build_cell(cell_id)), "-m", "_rngdrift.harness.cell", "--list"],
                              cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        _LISTED[cell_id] = proc.stdout.split()
    return _LISTED[cell_id]


def family_subset(cell_id: str, tmp_dir: Path, globs, modes, repeats):
    """(rows, registered names) of the scenarios matching ``globs`` from the shared run."""
    import fnmatch
    assert set(modes) <= set(FULL_MODES) and repeats <= FULL_REPEATS
    names = [n for n in listed(cell_id) if any(fnmatch.fnmatchcase(n, g) for g in globs)]
    wanted = set(names)
    rows = [r for r in full_run(cell_id, tmp_dir) if r.scenario in wanted
            and r.seeding in modes and int(r.repeat) <= repeats]
    return rows, names


def family_cells(tmp_path_factory, globs, modes, repeats) -> dict:
    """{cell: (rows, registered names)} for the oldest and the newest cell."""
    return {cell: family_subset(cell, tmp_path_factory.getbasetemp(), globs, modes, repeats)
            for cell in (OLD_CELL, NEW_CELL)}


@pytest.fixture
def fresh_registry(monkeypatch):
    """Each test registers into an empty table and leaves sys.path/sys.modules as found."""
    from _rngdrift.harness.cell import registry
    monkeypatch.setattr(registry, "SCENARIOS", {})
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
