"""Real nox runs: --reuse-from copies an unchanged cell without making its venv, --plan
says what would happen, and --find-links installs a wheel only a local directory has."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from _rngdrift.harness.matrix import compat
from _rngdrift.harness.runs import resultkey, reuse, rundirs, runoptions
from _rngdrift.harness.cell import schema

ROOT = Path(__file__).resolve().parent.parent
OLD = "py3.8-torch1.5.0-tv0.6.0"
TV07 = "py3.8-torch1.6.0-tv0.7.0"
QUICK = ["--only", "pairs.hflip", "--seeding", "python", "--repeats", "1", "--jobs", "1"]

pytestmark = pytest.mark.slow


def nox(envdir: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != rundirs.RUN_ID_ENV}
    proc = subprocess.run([sys.executable, "-m", "nox", "--envdir", str(envdir), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    if ok:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_an_unchanged_cell_is_reused_without_a_venv_and_a_new_one_runs(tmp_path):
    envdir, results = tmp_path / "nox", tmp_path / "results"
    common = ["--results", str(results), *QUICK]
    nox(envdir, "-s", f"matrix({OLD})", "--", "--run-id", "n1", *common)
    first = results / "n1" / "cells"
    key = resultkey.read_key(first / f"{OLD}.freeze.txt")
    assert key is not None

    plan = nox(envdir, "-s", f"matrix({OLD})", f"matrix({TV07})", "--", "--run-id", "n2",
               "--reuse-from", str(results / "n1"), "--plan", *common)
    text = plan.stdout + plan.stderr
    assert f"{OLD}: reuse from n1 (key {key.digest} unchanged)" in text
    assert f"{TV07}: run: new cell: not in n1" in text
    assert not (results / "n2").exists()

    for venv in envdir.iterdir():  # every venv gone: the reused cell must not make one
        if venv.is_dir():
            venv.rename(tmp_path / f"old-{venv.name}")
    nox(envdir, "-s", f"matrix({OLD})", f"matrix({TV07})", "--", "--run-id", "n2",
        "--reuse-from", str(results / "n1"), *common)
    second = results / "n2" / "cells"
    assert (second / f"{OLD}.csv").read_bytes() == (first / f"{OLD}.csv").read_bytes()
    venvs = [p for p in envdir.iterdir() if (p / "pyvenv.cfg").is_file()]
    assert len(venvs) == 1, venvs  # the new cell's; none for the reused one (nor the report)
    records = reuse.plan_of(results / "n2")
    assert records[OLD]["action"] == "reuse" and records[TV07]["action"] == "run"
    assert {r.run_id for r in schema.read_csv(second / f"{TV07}.csv")} == {"n2"}
    report = (results / "n2" / "report.md").read_text()
    assert f"**torch 1.6.0 (new, `{TV07}`) against the previous newest, torch 1.5.0" in report
    assert "Reused, not run again (result key unchanged): 1 cell(s) from `n1`" in report

    # --rerun all: nothing reused
    nox(envdir, "-s", f"matrix({OLD})", "--", "--run-id", "n3", "--reuse-from",
        str(results / "n2"), "--rerun", "all", *common)
    assert reuse.plan_of(results / "n3")[OLD] == {
        "action": "run", "previous": str(results / "n2"), "reason": "--rerun all"}


def tiny_wheel(directory: Path, name="rngdrift_localprobe", version="0.1") -> Path:
    """A pure-Python wheel that exists nowhere but in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "ANSWER = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name.replace('_', '-')}\n"
                            f"Version: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: rngdrift-tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    with zipfile.ZipFile(path, "w") as wheel:
        for arcname, text in files.items():
            wheel.writestr(arcname, text)
        wheel.writestr(f"{info}/RECORD", "".join(f"{a},,\n" for a in files) + f"{info}/RECORD,,\n")
    return path


def test_find_links_installs_a_local_wheel_and_the_freeze_file_records_it(tmp_path):
    wheels = tmp_path / "wheels"
    tiny_wheel(wheels)
    requirements = tmp_path / "req.txt"
    requirements.write_text("rngdrift-localprobe==0.1\n")
    envdir, results = tmp_path / "nox", tmp_path / "results"
    common = ["--results", str(results), *QUICK, "--cell-requirements", str(requirements)]

    # without the directory the package is nowhere: a cell.install row says so
    nox(envdir, "-s", f"matrix({OLD})", "--", "--run-id", "without", *common, ok=False)
    (row,) = schema.read_csv(results / "without" / "cells" / f"{OLD}.csv")[1:]
    assert row.scenario == schema.CELL_INSTALL and "rngdrift-localprobe" in row.detail

    nox(envdir, "-s", f"matrix({OLD})", "--", "--run-id", "with", "--find-links", str(wheels),
        *common)
    freeze = (results / "with" / "cells" / f"{OLD}.freeze.txt").read_text().splitlines()
    assert f"# find-links: {wheels}" in freeze
    assert "rngdrift-localprobe==0.1" in freeze
    key = resultkey.read_key(results / "with" / "cells" / f"{OLD}.freeze.txt")
    from _rngdrift.harness.matrix import compat
    from _rngdrift.harness.runs import runoptions
    plain = resultkey.key_for(compat.find(OLD), runoptions.parse(
        [*QUICK, "--cell-requirements", str(requirements)], "x"), key.platform)
    assert key.changed(plain) == ["index"]
