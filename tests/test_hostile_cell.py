"""Hostile input, round three, on the cell side: each fault of issue 25 through a real
torch 1.5 cell (``python -m _rngdrift.harness.cell``), checked against the promise in
docs/hardening.md: an error row of that scenario only (with its own output), nothing
measured lost, no process or temporary file left when the cell ends.
"""
from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

from conftest import OLD_CELL, ROOT, data_rows, run_cell
from _rngdrift.harness.cell import forked, metrics, schema

pytestmark = pytest.mark.slow

SCENARIOS = textwrap.dedent('''
    import os, signal, sys
    from _rngdrift.harness.cell.registry import scenario

    @scenario("h3.first")
    def first(ctx):
        print("output of h3.first")
        return {"fine": 1}

    @scenario("h3.surrogate_raise")
    def surrogate_raise(ctx):
        raise ValueError("bad \\udcff name")

    @scenario("h3.surrogate_values")
    def surrogate_values(ctx):
        name = os.fsdecode(b"img-\\xff.png")
        return {"file": name, name: 1.0}

    @scenario("h3.exit_after_output")
    def exit_after_output(ctx):
        print("output of h3.exit_after_output")
        sys.stdout.flush()
        os._exit(3)

    @scenario("h3.sys_exit")
    def sys_exit(ctx):
        sys.exit(0)

    @scenario("h3.kills_runner")
    def kills_runner(ctx):
        print("output of h3.kills_runner")
        sys.stdout.flush()
        if ctx.mode == "python":
            os.kill(os.getppid(), signal.SIGKILL)
        return {"fine": 1}

    @scenario("h3.last")
    def last(ctx):
        return {"fine": 1}
''')

CALLS = textwrap.dedent('''
    import os, sys
    import rngdrift

    def prints_then_returns():
        print("output of prints_then_returns")
        return 1.0

    def exits_zero():
        sys.exit(0)

    def records_surrogate():
        rngdrift.record(os.fsdecode(b"rec-\\xff"), os.fsdecode(b"val-\\xff"))
        return os.fsdecode(b"ret-\\xff") * 50

    def many_keys():
        return {str(i): i for i in range(300000)}
''')


def _status(rows, scenario, mode="python"):
    (row,) = [r for r in rows if (r.scenario, r.seeding, r.metric) == (scenario, mode, "status")]
    return row.status, row.detail


def _values(rows, scenario, mode="python"):
    return {r.metric: r.value for r in rows if (r.scenario, r.seeding) == (scenario, mode)
            and r.metric != "status" and not r.metric.startswith("rng.")}


@pytest.fixture(scope="module")
def round3(tmp_path_factory, cell_python):
    """Every cell-side fault in one real torch 1.5 cell: two seeding modes, two jobs."""
    base = tmp_path_factory.mktemp("round3")
    (base / "h3.py").write_text(SCENARIOS)
    (base / "calls.py").write_text(CALLS)
    (base / "exits.py").write_text("import sys\nprint('bye from exits.py')\nsys.exit(-11)\n")
    out = base / "run" / "cells" / f"{OLD_CELL}.csv"
    started = time.time()
    rows = run_cell(cell_python(OLD_CELL), out, "--scenarios", str(base / "h3.py"),
                    "--workdir", str(base), "--call", "calls.py:prints_then_returns",
                    "--call", "calls.py:exits_zero", "--call", "calls.py:records_surrogate",
                    "--call", "calls.py:many_keys", "--script", "python exits.py",
                    "--only", "h3.*", "--only", "call.*", "--only", "script.*",
                    "--seeding", "python,none", "--repeats", "1", "--jobs", "2", cell=OLD_CELL)
    return rows, out, time.time() - started


def test_a_lone_surrogate_is_kept_as_its_escape_and_the_cell_is_written(round3):
    rows, out, _ = round3
    assert _status(rows, "h3.surrogate_raise") == (
        "error", "ValueError: bad \\udcff name (at h3.py:12 in surrogate_raise)")
    assert _values(rows, "h3.surrogate_values")["file"] == "img-\\udcff.png"
    assert _values(rows, "h3.surrogate_values")["img-\\udcff.png"] == "1.0"
    recorded = _values(rows, "call.calls.records_surrogate")
    assert recorded["rec-\\udcff"] == "val-\\udcff" and len(recorded["value"]) == 16  # long text
    out.read_bytes().decode("utf-8")  # strict UTF-8 all through
    assert _status(rows, "h3.first") == ("ok", "") and _status(rows, "h3.last") == ("ok", "")


def test_a_scenario_that_kills_the_runner_is_its_own_error_row(round3):
    rows, _, _ = round3
    status, detail = _status(rows, "h3.kills_runner")
    assert status == "error"
    assert detail.startswith("the rngdrift runner (this scenario's parent process) was killed "
                             "by SIGKILL while this scenario ran"), detail
    assert detail.endswith("log: output of h3.kills_runner"), detail
    assert _status(rows, "h3.kills_runner", "none") == ("ok", "")
    for name in ("h3.first", "h3.last", "h3.surrogate_values", "call.calls.prints_then_returns"):
        for mode in ("python", "none"):
            assert _status(rows, name, mode) == ("ok", ""), (name, mode)
    keys = [(r.scenario, r.seeding, r.metric) for r in rows]
    assert len(keys) == len(set(keys))  # no scenario twice


def test_an_exit_quotes_only_the_output_of_the_scenario_that_exited(round3):
    rows, _, _ = round3
    status, detail = _status(rows, "h3.exit_after_output")
    assert status == "error" and detail == ("child process exited with code 3 while running "
                                            "this scenario; log: output of h3.exit_after_output")
    status, detail = _status(rows, "h3.sys_exit")
    assert status == "error" and detail.startswith("the scenario called sys.exit(0) (at h3.py:")
    status, detail = _status(rows, "call.calls.exits_zero")
    assert status == "error" and detail.startswith("the scenario called sys.exit(0) (at calls.py:")
    assert "output of" not in detail


def test_a_script_exit_status_is_what_a_real_interpreter_exits_with(round3):
    rows, _, _ = round3
    status, detail = _status(rows, "script.exits")
    assert status == "error"
    assert detail == "script exited with code 245; output: bye from exits.py", detail


def test_a_dict_of_300k_keys_is_fingerprinted_whole(round3):
    rows, _, seconds = round3
    assert _values(rows, "call.calls.many_keys") .keys() >= {"value", "value.len"}
    assert _values(rows, "call.calls.many_keys")["value.len"] == "300000"
    assert len([r for r in rows if r.scenario == "call.calls.many_keys"]) < 60
    assert metrics.MAX_KEYS < 300000


def test_a_resume_from_a_journal_holding_a_lone_surrogate_writes_the_csv(tmp_path, cell_python):
    """A journal from before the escaping (a surrogate in JSON) resumes into a CSV."""
    (tmp_path / "s.py").write_text(SCENARIOS)
    out = tmp_path / "cells" / "c.csv"
    args = ["--scenarios", str(tmp_path / "s.py"), "--only", "h3.first", "--only", "h3.last",
            "--seeding", "none", "--repeats", "1"]
    run_cell(cell_python(OLD_CELL), out, *args, cell=OLD_CELL)
    proc = subprocess.run(  # the same cell, stopped after its journal is written
        [str(cell_python(OLD_CELL)), "-m", "_rngdrift.harness.cell", "--out", str(out),
         "--cell", OLD_CELL, "--run-id", "pytest", "--list", *args], cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert proc.returncode == 0
    from _rngdrift.harness.cell.journal import Journal
    from _rngdrift.harness.cell.supervisor import Job
    from _rngdrift.harness.cell import protocol
    meta = schema.read_csv(out)[1]
    header = dict(zip(schema.META_COLUMNS, meta[:len(schema.META_COLUMNS)]),
                  names=["h3.first", "h3.last"])
    job = Job("none", 1, [])
    job.results = [protocol.Result("h3.first", "error", "bad \udcff", []),
                   protocol.Result("h3.last", "ok", "", [("note", "text", "x\udcff")])]
    journal = Journal(str(out.with_suffix(".journal")), header)
    journal.start([job])
    out.unlink()
    rows = run_cell(cell_python(OLD_CELL), out, *args, "--resume", cell=OLD_CELL)
    assert ("h3.first", "error", "bad \\udcff") in [(r.scenario, r.status, r.detail) for r in rows]
    assert ("note", "x\\udcff") in [(r.metric, r.value) for r in rows]


# -- what outlives a cell ------------------------------------------------------------------

DAEMON = textwrap.dedent('''
    import os, subprocess, sys
    # A double fork and setsid at import time: the daemon keeps the cell's stdout.
    subprocess.check_call([sys.executable, "-c", "import os, subprocess, sys; os.setsid(); "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        "open(sys.argv[1], 'w').write(str(p.pid))",
        os.path.join(os.environ["DAEMON_DIR"], "%s-%d" % (__name__, os.getpid()))])
''')


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _daemon_run(python: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess,
                                                                     list[int]]:
    daemons = tmp_path / "daemons"
    daemons.mkdir()
    out = tmp_path / "cells" / "c.csv"
    proc = subprocess.Popen(
        [str(python), "-m", "_rngdrift.harness.cell", "--out", str(out), "--cell", OLD_CELL,
         "--workdir", str(tmp_path), "--seeding", "none", "--repeats", "1", *args],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), DAEMON_DIR=str(daemons)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:  # a daemon holding the pipe would keep this waiting (nox ... | tail hung)
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the cell's output never ended: something holds it")
    pids = [int(p.read_text()) for p in daemons.iterdir() if p.read_text()]
    assert proc.returncode == 0, stdout + stderr
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), pids


def test_daemons_started_at_import_by_scenarios_and_calls_do_not_outlive_the_cell(
        tmp_path, cell_python):
    (tmp_path / "daemon_scenarios.py").write_text(DAEMON + textwrap.dedent('''
        from _rngdrift.harness.cell.registry import scenario
        scenario("daemon.scenario")(lambda ctx: {"fine": 1})
    '''))
    (tmp_path / "daemon_call.py").write_text(DAEMON + "def fine():\n    return 1\n")
    _, pids = _daemon_run(cell_python(OLD_CELL), tmp_path,
                          "--scenarios", str(tmp_path / "daemon_scenarios.py"),
                          "--call", "daemon_call.py:fine", "--only", "daemon.*",
                          "--only", "call.*")
    assert len(pids) >= 4  # the runner and the zygote imported each file
    assert [p for p in pids if _alive(p)] == []


def test_daemons_started_by_a_collected_conftest_do_not_outlive_the_cell(tmp_path, cell_python):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(DAEMON)
    (tests / "test_small.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    _, pids = _daemon_run(cell_python(OLD_CELL, pytest=True), tmp_path, "--pytest", "tests/",
                          "--user-only")
    assert pids and [p for p in pids if _alive(p)] == []


LOUD = "import sys\nline = 'x' * 1023 + '\\n'\nwhile True:\n    sys.stdout.write(line)\n"
LEFTOVERS = textwrap.dedent('''
    import multiprocessing.util, time
    from _rngdrift.harness.cell.registry import scenario

    @scenario("tmp.pymp_hangs")
    def pymp_hangs(ctx):
        multiprocessing.util.get_temp_dir()  # $TMPDIR/pymp-*, as a Manager or a Pool makes
        time.sleep(600)
''')


def test_a_cell_leaves_no_temporary_file_and_caps_a_programs_output(tmp_path, cell_python):
    """A script printing without end until its timeout, and a scenario killed while its
    pymp-* folder and the attribution spool (rngdrift-spool-*) exist: the program's
    output stays capped while it runs, and $TMPDIR is empty when the cell ends."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    (tmp_path / "loud.py").write_text(LOUD)
    (tmp_path / "leftovers.py").write_text(LEFTOVERS)
    biggest, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            total = 0
            for path in tmp.rglob("*"):
                try:
                    total += path.stat().st_size if path.is_file() else 0
                except OSError:
                    pass
            biggest[0] = max(biggest[0], total)
            time.sleep(0.05)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        proc = subprocess.run(
            [str(cell_python(OLD_CELL)), "-m", "_rngdrift.harness.cell", "--out",
             str(tmp_path / "cells" / "c.csv"), "--cell", OLD_CELL, "--workdir", str(tmp_path),
             "--script", "python loud.py", "--scenarios", str(tmp_path / "leftovers.py"),
             "--only", "script.*", "--only", "tmp.*", "--seeding", "none", "--repeats", "1",
             "--timeout", "8"],
            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp)),
            capture_output=True, text=True, timeout=600)
    finally:
        stop.set()
        watcher.join()
    assert proc.returncode == 0, proc.stderr
    rows = data_rows(tmp_path / "cells" / "c.csv")
    assert _status(rows, "script.loud", "none")[0] == "timeout"
    assert _status(rows, "tmp.pymp_hangs", "none")[0] == "timeout"
    assert sorted(p.name for p in tmp.iterdir()) == []
    print(f"largest $TMPDIR during the run: {biggest[0] / 2**20:.1f} MiB")
    assert biggest[0] < forked.OUTPUT_LIMIT + (32 << 20)
