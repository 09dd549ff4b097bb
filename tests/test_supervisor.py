"""harness.cell.supervisor: the cell runner's fault handling, with a torch-free stand-in child (tests/fake_child.py).

Every test checks the rows the runner makes of a fault and that nothing it
started is left running.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _rngdrift.harness.cell import supervisor
from _rngdrift.harness.cell.launcher import Launcher
from _rngdrift.harness.cell.supervisor import Plan, Runner

FAKE = Path(__file__).with_name("fake_child.py")
ROOT = Path(__file__).resolve().parent.parent


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def wait_dead(pid_list, seconds=5.0):
    deadline = time.time() + seconds
    while time.time() < deadline and any(alive(p) for p in pid_list):
        time.sleep(0.05)
    return [p for p in pid_list if alive(p)]


def stand_in(log, child_env=None):
    """A launcher that spawns the stand-in child."""
    return Launcher(str(log), child_cmd=[sys.executable, str(FAKE)],
                    child_env=child_env or (lambda mode: dict(os.environ)))


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Factory: run the stand-in child over ``names``; returns (jobs, results by name)."""
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("FAKE_PIDS", str(pid_file))

    def run(names, modes=("none",), repeats=1, jobs=1, timeout=2.0, startup=5.0, env=None,
            done=(), progress=None):
        child_env = lambda mode: dict(os.environ, **(env or {}))  # noqa: E731
        work = Runner(Plan(names, list(modes), repeats, {}), stand_in(tmp_path / "cell.log",
                                                                      child_env),
                      parallel=jobs, default_timeout=timeout, startup_timeout=startup, done=done)
        finished = work.run(progress=progress)
        assert wait_dead(pids(pid_file)) == [], "processes left running"
        assert not list(tmp_path.glob("*.part")), "a child log was not merged"
        by_name = {}
        for job in finished:
            for result in job.results:
                by_name.setdefault(result.scenario, []).append(
                    (result.status, result.detail, result.rows))
        return finished, by_name
    run.pid_file = pid_file
    run.log = tmp_path / "cell.log"
    return run


def only(by_name, name):
    (result,) = by_name[name]
    return result


def test_ok_scenarios_give_their_rows(fake):
    jobs, by = fake(["ok.a", "ok.bb"], modes=("none", "full"), repeats=2, jobs=2)
    assert len(jobs) == 4
    assert by["ok.bb"] == [("ok", "", [("value", "count", "5")])] * 4


def test_a_hang_is_a_timeout_and_the_next_scenario_runs_in_a_new_child(fake):
    start = time.time()
    _, by = fake(["ok.before", "hang", "ok.after"], timeout=1.0)
    status, detail, rows = only(by, "hang")
    assert status == "timeout" and rows == []
    assert "no result after 1s; process group killed" in detail
    assert "fake_child.py" in detail and "in forever" in detail  # where it hung
    assert only(by, "ok.before")[0] == only(by, "ok.after")[0] == "ok"
    assert time.time() - start < 10


def test_a_timeout_kills_the_whole_process_group(fake):
    _, by = fake(["hang_group", "ok.after"], timeout=1.0)
    assert only(by, "hang_group")[0] == "timeout"
    assert len(pids(fake.pid_file)) == 3  # child, grandchild, the next child; all dead


@pytest.mark.parametrize("name, expected", [
    ("exit3", "child process exited with code 3 while running this scenario"),
    ("segv", "child process killed by SIGSEGV while running this scenario"),
])
def test_a_crash_is_an_error_naming_the_exit_and_the_rest_still_runs(fake, name, expected):
    _, by = fake(["ok.a", name, "ok.b"])
    status, detail, _ = only(by, name)
    assert status == "error" and detail.startswith(expected)
    assert [only(by, n)[0] for n in ("ok.a", "ok.b")] == ["ok", "ok"]


def test_a_grandchild_holding_the_pipe_neither_stalls_the_runner_nor_survives(fake):
    start = time.time()
    _, by = fake(["orphan_exit", "ok.b"], timeout=30.0)
    assert time.time() - start < 10  # did not wait for the pipe to close or the timeout
    assert only(by, "orphan_exit")[0] == "error"
    assert only(by, "ok.b")[0] == "ok"


def test_junk_on_every_channel_never_reaches_the_results(fake):
    _, by = fake(["junk", "ok.b"])
    assert only(by, "junk") == ("ok", "", [("value", "count", "4")])
    assert only(by, "ok.b")[0] == "ok"
    assert b"ignored a malformed results line: not json at all" in fake.log.read_bytes()


def test_a_child_that_cannot_start_fails_every_scenario_of_its_job_once(fake):
    _, by = fake(["ok.a", "ok.b"], env={"FAKE_STARTUP": "crash"})
    for name in ("ok.a", "ok.b"):
        status, detail = only(by, name)[:2]
        assert status == "error"
        assert detail.startswith("child process exited with code 1 before running any scenario")
        assert "ImportError: no module named torch_fake" in detail
    assert len(pids(fake.pid_file)) == 1  # not respawned in a loop


def test_a_child_hung_in_its_imports_times_out_every_scenario(fake):
    _, by = fake(["ok.a", "ok.b"], env={"FAKE_STARTUP": "hang"}, startup=1.0)
    for name in ("ok.a", "ok.b"):
        status, detail = only(by, name)[:2]
        assert status == "timeout"
        assert detail.startswith("child process hung for 1s before running any scenario")


def test_a_child_that_skips_scenarios_is_not_respawned_forever(fake):
    _, by = fake(["ok.a", "silent_done", "ok.c"])
    assert only(by, "ok.a")[0] == "ok"
    assert only(by, "silent_done")[0] == only(by, "ok.c")[0] == "error"


def test_scenario_timeout_overrides_the_default(fake, tmp_path):
    work = Runner(Plan(["hang"], ["none"], 1, {"hang": 0.5}), stand_in(tmp_path / "l.log"),
                  parallel=1, default_timeout=60)
    start = time.time()
    (job,) = work.run()
    assert job.results[0].status == "timeout" and time.time() - start < 10


def test_jobs_from_a_journal_are_not_run_again(fake):
    earlier = supervisor.Job("none", 1, [])
    earlier.record("ok.a", "ok", "", [("value", "count", "99")])
    jobs, by = fake(["ok.a"], repeats=2, done=[earlier])
    assert sorted(by["ok.a"]) == [("ok", "", [("value", "count", "4")]),
                                  ("ok", "", [("value", "count", "99")])]
    assert len(pids(fake.pid_file)) == 1


# -- interrupts ---------------------------------------------------------------------
DRIVER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from _rngdrift.harness.cell.launcher import Launcher
    from _rngdrift.harness.cell.supervisor import Interrupted, Plan, Runner

    def stop(signum, frame):
        raise Interrupted("stopped")
    signal.signal(signal.SIGTERM, stop)
    # A shell's background job inherits SIGINT ignored; a user's terminal does not.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    launcher = Launcher({log!r}, child_cmd=[sys.executable, {fake!r}],
                        child_env=lambda mode: dict(os.environ))
    work = Runner(Plan(["ok.a", "hang_group", "ok.b"], ["none", "full"], 1, {{}}), launcher,
                  parallel=2, default_timeout=600)
    try:
        work.run()
    except (KeyboardInterrupt, Interrupted):
        sys.exit(42)
""")


def start_driver(tmp_path, intermediate=False):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(root=str(ROOT), log=str(tmp_path / "cell.log"),
                                    fake=str(FAKE)))
    cmd = [sys.executable, str(script)]
    if intermediate:  # a parent that we can kill -9, as CI kills nox
        cmd = [sys.executable, "-c",
               "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(3600)",
               *cmd]
    env = dict(os.environ, FAKE_PIDS=str(tmp_path / "pids"))
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.time() + 20
    while len(pids(tmp_path / "pids")) < 3 and time.time() < deadline:  # 2 children, 1 grandchild
        time.sleep(0.1)
    assert len(pids(tmp_path / "pids")) >= 3
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_kills_every_child_and_grandchild(tmp_path, sig):
    proc = start_driver(tmp_path)
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 42  # generous: a busy CI machine is slow, not wrong
    assert wait_dead(pids(tmp_path / "pids"), 2) == []
    assert not list(tmp_path.glob("*.part"))  # child logs merged on the way out


def test_the_runner_stops_when_its_parent_is_killed(tmp_path):
    proc = start_driver(tmp_path, intermediate=True)
    proc.kill()
    proc.wait()
    assert wait_dead(pids(tmp_path / "pids"), 5) == []


def test_a_result_still_in_the_pipe_when_the_child_exits_goes_to_its_own_scenario(tmp_path):
    """The child says 'start ok.a', 'result ok.a', 'start exit3' and exits 3 before the
    runner reads past the first line: ok.a keeps its one ok row, exit3 gets the error,
    ok.c runs in a new child (before, ok.a got a second, error row and the duplicate
    key made the report refuse the run)."""
    from _rngdrift.harness.cell import protocol
    from _rngdrift.harness.cell.processes import has_exited
    names = ["ok.a", "exit3", "ok.c"]
    work = Runner(Plan(names, ["none"], 1, {}), stand_in(tmp_path / "cell.log"),
                  default_timeout=5.0, startup_timeout=10.0)
    job = supervisor.Job("none", 1, names)
    work._launch(job)
    first = protocol._encode(protocol.started("ok.a"))
    deadline = time.time() + 20
    while not has_exited(job.child.proc):  # a busy runner: it has not looked yet
        assert time.time() < deadline
        time.sleep(0.05)
    os.set_blocking(job.child.fd, True)
    assert os.read(job.child.fd, len(first)) == first  # all it had read was the first line
    os.set_blocking(job.child.fd, False)
    work._handle(job, {"event": "start", "scenario": "ok.a"})
    work._supervise(job, time.time())
    while job.child is not None:
        for key, _ in work.selector.select(timeout=0.1):
            work._read(key.data)
        work._supervise(job, time.time())
        assert time.time() < deadline
    results = [(r.scenario, r.status, r.detail) for r in job.results]
    assert results == [("ok.a", "ok", ""),
                       ("exit3", "error", "child process exited with code 3 while running "
                                          "this scenario"),
                       ("ok.c", "ok", "")]
