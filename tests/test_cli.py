"""harness.cli: the rngdrift command (help, one-line errors, installed from a wheel)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, _uv
from _rngdrift.harness import cli


def test_every_subcommand_has_help_that_says_what_it_does(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    top = capsys.readouterr().out
    for name in cli.COMMANDS:
        module = cli.module(name)
        assert name in top and module.HELP in " ".join(top.split())
        with pytest.raises(SystemExit) as info:
            cli.main([name, "--help"])
        assert info.value.code == 0
        assert f"usage: rngdrift {name}" in capsys.readouterr().out


def test_a_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err == f"rngdrift report: {tmp_path / 'nowhere'}: no such run directory\n"


def test_python_m_harness_is_the_same_command():
    proc = subprocess.run([sys.executable, "-m", "rngdrift", "compare", "--help"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: rngdrift compare")


@pytest.mark.slow
def test_pip_install_gives_a_working_rngdrift(tmp_path):
    """From a fresh venv: install the project, then report and compare a copy of the baseline."""
    uv, venv = _uv(), tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    str(ROOT)], check=True, timeout=600)
    rngdrift = str(venv / "bin" / "rngdrift")
    copy = tmp_path / "results" / "baseline"  # the same relative path as in the checkout:
    shutil.copytree(ROOT / "results" / "baseline", copy)  # the report names it in a command
    elsewhere = dict(cwd=tmp_path, capture_output=True, text=True, timeout=600)
    report = subprocess.run([rngdrift, "report", str(copy)], **elsewhere)
    assert report.returncode == 0, report.stderr
    for name in ("drift.csv", "report.md", "report.html"):
        assert (copy / name).read_bytes() == (ROOT / "results" / "baseline" / name).read_bytes()
    compare = subprocess.run([rngdrift, "compare", str(ROOT / "results" / "baseline"), str(copy),
                              "--out", str(tmp_path / "cmp")], **elsewhere)
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert "No differences" in compare.stdout
