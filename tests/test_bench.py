"""benchmarks/bench.py: the command (options, dispatch, tables from earlier runs)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench, records
from _rngdrift.harness.matrix import compat

ROOT = Path(__file__).resolve().parent.parent
OLD = compat.DEFAULT[0].id


def test_parse_args_selects_cells_and_stages(tmp_path):
    args = bench.parse_args(["--cells", OLD, "--stages", "import,run", "--out", str(tmp_path)])
    assert [c.id for c in args.cells] == [OLD] and args.stages == ("import", "run")
    assert args.out == tmp_path
    assert bench.parse_args([]).out.parent == bench.OUT  # benchmarks/out/<time>


@pytest.mark.parametrize("argv,message", [(["--stages", "import,fast"], "--stages: unknown fast"),
                                          (["--cells", "py3.8-nope"], "not a cell id"),
                                          (["--baseline-cells", "nope"], "not a cell id")])
def test_parse_args_rejects_bad_options(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.parse_args(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_tables_from_earlier_runs(tmp_path, capsys):
    first, second, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    first.mkdir()
    second.mkdir()
    records.record(first, OLD, "import_s", 2.0)
    records.record(second, OLD, "import_s", 1.5)
    records.record(second, OLD, "family_s:pairs", 3.0)
    assert bench.main(["--tables", str(first), str(second), "--out", str(out)]) == 0
    assert (out / "cells.csv").read_text() == f"cell,import torch+tv s\n{OLD},1.50\n"
    assert (out / "families.csv").is_file() and "### Per cell" in (out / "bench.md").read_text()
    assert bench.main(["--tables", str(tmp_path / "none"), "--out", str(out)]) == 2
    assert "not a bench output folder" in capsys.readouterr().err


def test_runs_as_a_module_and_says_so_when_run_as_a_script():
    help_ = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--help"], cwd=ROOT,
                           capture_output=True, text=True)
    assert help_.returncode == 0 and "--venv-root" in help_.stdout
    script = subprocess.run([sys.executable, "benchmarks/bench.py", "--help"], cwd=ROOT,
                            capture_output=True, text=True)
    assert script.returncode == 1 and "python -m benchmarks.bench" in script.stderr
