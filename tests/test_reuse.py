"""harness.reuse: which cells a run reuses from a previous one, and how they are copied."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from _rngdrift.harness.matrix import compat
from _rngdrift.harness.runs import resultkey, reuse, runoptions, rundirs
from _rngdrift.harness.cell import environment, schema
from resultrows import everywhere, install_failure, write_freeze, write_run

ROOT = Path(__file__).resolve().parent.parent
OLD = compat.find("py3.8-torch1.5.0-tv0.6.0")
TV07 = compat.find("py3.8-torch1.6.0-tv0.7.0")
PLATFORM = "x86_64-amd-avx512"


def args(*posargs):
    return runoptions.parse(list(posargs), "r1", Path.cwd())


def key(cell, *posargs, platform=PLATFORM):
    return resultkey.key_for(cell, args(*posargs), platform)


def made(run_dir: Path, cell, *posargs, platform=PLATFORM, rows=None, log="log\n") -> Path:
    """A previous run's cell as the matrix writes it: CSV, freeze file with its key, log."""
    write_run(run_dir, rows or everywhere(cell.id, "pairs.hflip", {"pair_consistency": 1.0},
                                          run_id=run_dir.name))
    notes = key(cell, *posargs, platform=platform).header() + [
        'rngdrift-plan: {"action": "run", "previous": "", "reason": "first"}']
    write_freeze(run_dir, cell.id, notes)
    if log is not None:
        (run_dir / "cells" / f"{cell.id}.log").write_text(log)
    return run_dir


def test_a_cell_whose_key_is_unchanged_is_reused(tmp_path):
    previous = made(tmp_path / "night-41", OLD)
    decision = reuse.decide(OLD, key(OLD), previous)
    assert decision.reused and decision.previous == previous
    assert decision.line() == f"reuse from night-41 (key {key(OLD).digest} unchanged)"


@pytest.mark.parametrize("posargs, reason", [
    (("--repeats", "1"), "options changed"),
    (("--only", "pairs.*"), "options changed"),
    (("--find-links", "/somewhere"), "indexes changed"),
])
def test_a_changed_option_or_index_runs_the_cell(tmp_path, posargs, reason):
    previous = made(tmp_path / "night-41", OLD)
    decision = reuse.decide(OLD, key(OLD, *posargs), previous)
    assert not decision.reused and decision.line() == f"run: {reason}"


def test_why_a_cell_runs(tmp_path):
    previous = made(tmp_path / "night-41", OLD)
    assert reuse.decide(OLD, key(OLD), None).reason == "no previous run given (--reuse-from)"
    assert reuse.decide(OLD, key(OLD), previous, rerun_all=True).reason == "--rerun all"
    assert reuse.decide(TV07, key(TV07), previous).reason == "new cell: not in night-41"
    other_python = compat.Cell("3.9", "1.5.0", "0.6.0")
    assert "another Python or pins" in reuse.decide(other_python, key(other_python),
                                                    previous).reason
    intel = reuse.decide(OLD, key(OLD, platform="x86_64-intel-avx512"), previous)
    assert intel.reason == f"CPU class ({PLATFORM} -> x86_64-intel-avx512) changed"


def test_across_platforms_reuses_a_cell_of_another_cpu_class_and_says_so(tmp_path):
    previous = made(tmp_path / "night-41", OLD)
    intel = key(OLD, platform="x86_64-intel-avx512")
    decision = reuse.decide(OLD, intel, previous, across_platforms=True)
    assert decision.reused and "made on x86_64-amd-avx512" in decision.reason
    # ... but never when anything else changed too
    assert not reuse.decide(OLD, key(OLD, "--repeats", "1", platform="x86_64-intel-avx512"),
                            previous, across_platforms=True).reused


def test_failed_cut_or_keyless_cells_are_never_reused(tmp_path):
    failed = tmp_path / "failed"
    made(failed, OLD, rows=install_failure(OLD.id, run_id="failed"))
    assert "no whole result" in reuse.decide(OLD, key(OLD), failed).reason
    cut = made(tmp_path / "cut", OLD)
    csv = rundirs.cell_csv(cut, OLD.id)
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-1]))
    assert "no whole result" in reuse.decide(OLD, key(OLD), cut).reason
    keyless = made(tmp_path / "keyless", OLD)
    (keyless / "cells" / f"{OLD.id}.freeze.txt").write_text("numpy==1.24.4\n")
    assert "recorded no result key" in reuse.decide(OLD, key(OLD), keyless).reason


def test_adopt_copies_the_cell_and_records_where_it_came_from(tmp_path):
    previous = made(tmp_path / "night-41", OLD)
    decision = reuse.decide(OLD, key(OLD), previous)
    run = tmp_path / "night-42"
    csv = reuse.adopt(decision, run)
    assert csv.read_bytes() == rundirs.cell_csv(previous, OLD.id).read_bytes()
    assert {r.run_id for r in schema.read_csv(csv)} == {"night-41"}  # who measured it
    assert (run / "cells" / f"{OLD.id}.log").read_text() == "log\n"
    freeze = (run / "cells" / f"{OLD.id}.freeze.txt").read_text().splitlines()
    assert freeze[0].startswith(environment.CSV_SHA_LINE)  # the CSV's checksum, kept
    assert freeze[1:3] == [f"# {line}" for line in key(OLD).header()]
    assert [line for line in freeze if line.startswith(reuse.PLAN_LINE)] == ["# " + decision.note()]
    assert resultkey.read_key(run / "cells" / f"{OLD.id}.freeze.txt") == key(OLD)
    assert reuse.plan_of(run) == {OLD.id: {"action": "reuse", "previous": str(previous),
                                           "reason": decision.reason}}
    assert reuse.previous_run(run) == previous
    assert reuse.describe(run) == ["Reused, not run again (result key unchanged): 1 cell(s) "
                                   "from `night-41`. Nothing ran."]
    # reused again the next night: still one plan line, naming the newer source
    again = reuse.decide(OLD, key(OLD), run)
    reuse.adopt(again, tmp_path / "night-43")
    assert reuse.plan_of(tmp_path / "night-43")[OLD.id]["previous"] == str(run)


def test_plan_decides_every_cell_and_prints_one_line_each(tmp_path):
    previous = made(tmp_path / "night-41", OLD)
    decisions = reuse.plan([OLD, TV07], args("--reuse-from", str(previous)), PLATFORM)
    assert [d.action for d in decisions] == ["reuse", "run"]
    text = reuse.table(decisions)
    assert f"{OLD.id}  reuse from night-41" in text
    assert f"{TV07.id}  run: new cell: not in night-41" in text
    assert text.endswith("1 of 2 cells reused, 1 to run")
    assert [d.action for d in reuse.plan([OLD], args("--reuse-from", str(previous),
                                                     "--rerun", "all"), PLATFORM)] == ["run"]


def test_rngdrift_plan_prints_the_plan_of_the_default_matrix(tmp_path):
    previous = made(tmp_path / "night-41", OLD,
                    platform=resultkey.platforms.this_class())
    proc = subprocess.run([sys.executable, "-m", "rngdrift", "plan", "--reuse-from",
                           str(previous), "--json"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    plan = {d["cell"]: d for d in json.loads(proc.stdout)}
    assert list(plan) == [c.id for c in compat.DEFAULT]
    assert plan[OLD.id]["action"] == "reuse"
    assert all(d["action"] == "run" and d["reason"].startswith("new cell")
               for cell, d in plan.items() if cell != OLD.id)
    bad = subprocess.run([sys.executable, "-m", "rngdrift", "plan", "--reuse-from",
                          str(tmp_path / "nothing")], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "no such run directory" in bad.stderr
