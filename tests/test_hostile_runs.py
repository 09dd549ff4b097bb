"""Hostile input, round three, on the host side: tampered runs (names and ids edited by
hand, a previous run's files that are FIFOs, links or edited), through the real report,
compare, `rngdrift plan` and `nox -s matrix -- --reuse-from`. The nox runs that install
a cell (a second run of a cell, bad options, reuse of unchanged user code) are slow.
"""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _rngdrift.harness import cli
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.results import platforms
from _rngdrift.harness.runs import resultkey, reuse, runoptions, rundirs
from _rngdrift.harness.cell import environment
from resultrows import NEW, OLD, Text, everywhere, write_freeze, write_run

ROOT = Path(__file__).resolve().parent.parent


def _run(path: Path) -> Path:
    return write_run(path, everywhere(OLD, "s", {"a": 1.0, "t": Text("fine")})
                     + everywhere(NEW, "s", {"a": 2.0, "t": Text("fine")}))


def _edit(path: Path, column: str, value: str, line: int | None = 3) -> None:
    """Set ``column`` of CSV line ``line`` (every data line when None) to ``value``."""
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    at = table[0].index(column)
    for number, row in enumerate(table[1:], start=2):
        if line is None or number == line:
            row[at] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    path.write_text(out.getvalue(), encoding="utf-8")


# -- names and ids read back from a CSV ----------------------------------------------------

@pytest.mark.parametrize("column, value, problem", [
    ("run_id", 'x<img src=x onerror="alert(1)">', "is not a run id"),
    ("run_id", "javascript:alert(1)", "is not a run id"),
    ("cell", "py3.8-torch1.²-tv0.6.0", "is not a cell id like py3.8-torch1.5.0-tv0.6.0"),
    ("scenario", '=HYPERLINK("http://x","y")', "starts with '='"),
    ("scenario", "s\u2028hidden", "holds the control character '\\u2028'"),
    ("metric", "a\x0cb", "holds the control character '\\x0c'"),
    ("metric", "\u202eevil", "holds the control character '\\u202e'"),
    ("torch", "1.5.0<script>", "torch '1.5.0<script>' is not a version"),
])
def test_a_hand_edited_name_or_id_is_one_line_exit_2(tmp_path, capsys, column, value, problem):
    run = _run(tmp_path / "run")
    path = run / "cells" / f"{OLD}.csv"
    _edit(path, column, value, None if column in ("run_id", "cell", "torch") else 3)
    for command in (["report", str(run)], ["compare", str(run), str(_run(tmp_path / "b")),
                                           "--out", str(tmp_path / "cmp")]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and problem in err and f"{path}:" in err, err
        assert "\x0c" not in err and "\u2028" not in err and "\u202e" not in err
    assert not (run / "report.md").exists() and not (run / "matrix.csv").exists()


def test_control_characters_in_text_values_reach_no_report_raw(tmp_path, capsys):
    """A NUL, an escape sequence, a line separator and a bidi override in a value and a
    detail: the run still reports, and every file shows them as escapes."""
    run = _run(tmp_path / "run")
    path = run / "cells" / f"{OLD}.csv"
    table = path.read_text(encoding="utf-8").splitlines()
    assert ",t,text,fine," in table[4]
    table[4] = table[4].replace(",t,text,fine,", ',t,text,"a\x00b\x1b[2Jc\u2028d\u202ee",')
    path.write_text("\n".join(table) + "\n", encoding="utf-8")
    assert cli.main(["report", str(run)]) == 0
    for name in ("report.md", "report.html", "matrix.csv", "findings.csv"):
        text = (run / name).read_text(encoding="utf-8")
        for raw in ("\x00", "\x1b", "\u2028", "\u202e"):
            assert raw not in text, (name, raw)
    assert "a\\x00b\\x1b[2Jc\\u2028d\\u202ee" in (run / "matrix.csv").read_text()


# -- --reuse-from a tampered previous run ---------------------------------------------------

COMMON = ["--only", "pairs.hflip", "--seeding", "python", "--repeats", "1"]


def _previous(tmp_path: Path) -> Path:
    """A previous run of the torch 1.5 cell as the matrix writes it: rows, a freeze file
    with the key of COMMON and the CSV's checksum, a log."""
    run = write_run(tmp_path / "results" / "night-41",
                    everywhere(OLD, "pairs.hflip", {"pair_consistency": 1.0},
                               run_id="night-41"))
    key = resultkey.key_for(compat.find(OLD), runoptions.parse(COMMON, "x"),
                            platforms.this_class())
    write_freeze(run, OLD, key.header())
    (run / "cells" / f"{OLD}.log").write_text("the log\n")
    return run


def _plan(tmp_path: Path, previous: Path) -> str:
    """`rngdrift plan` in a process of its own (a FIFO would hang it: the timeout says so)."""
    proc = subprocess.run(
        [sys.executable, "-m", "rngdrift", "plan", "--reuse-from", str(previous),
         "--results", str(tmp_path / "results"), *COMMON], cwd=ROOT,
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (line,) = [l for l in proc.stdout.splitlines() if l.startswith(OLD)]
    return line


def test_an_untouched_previous_cell_is_reused(tmp_path):
    assert "reuse from night-41" in _plan(tmp_path, _previous(tmp_path))


@pytest.mark.parametrize("file, attack, reason", [
    ("freeze.txt", "fifo", "is not a regular file (a FIFO, device or directory)"),
    ("freeze.txt", "/dev/zero", "is a link"),
    ("csv", "fifo", "is not a regular file"),
    ("log", "/proc/self/environ", "is a link"),
    ("log", "sparse", "is larger than 256 MiB"),
])
def test_a_previous_cell_file_that_is_not_a_small_regular_file_is_not_reused(
        tmp_path, file, attack, reason):
    previous = _previous(tmp_path)
    path = previous / "cells" / f"{OLD}.{file}"
    path.unlink()
    if attack == "fifo":
        os.mkfifo(path)
    elif attack == "sparse":
        with open(path, "wb") as handle:
            handle.truncate(1 << 30)  # 1 GiB, no block on disk
    else:
        path.symlink_to(attack)
    line = _plan(tmp_path, previous)
    assert "run: " in line and reason in line and "not copied" in line, line


@pytest.mark.parametrize("edit, reason", [
    ({"value": "999"}, "its CSV is not the one its run wrote"),
    ({"torch": "9.9.9"}, "its CSV is not the one its run wrote"),
])
def test_a_hand_edited_previous_csv_is_not_reused(tmp_path, edit, reason):
    previous = _previous(tmp_path)
    path = previous / "cells" / f"{OLD}.csv"
    for column, value in edit.items():
        _edit(path, column, value, 3)
    assert reason in _plan(tmp_path, previous)


def test_a_previous_csv_edited_with_its_checksum_is_caught_by_its_pins(tmp_path):
    previous = _previous(tmp_path)
    path = previous / "cells" / f"{OLD}.csv"
    _edit(path, "torch", "9.9.9", None)
    freeze = previous / "cells" / f"{OLD}.freeze.txt"
    kept = [l for l in freeze.read_text().splitlines()
            if not l.startswith(environment.CSV_SHA_LINE)]
    freeze.write_text(environment.sealed_freeze_text("\n".join(kept) + "\n", path.read_text()))
    assert "line 2 of its CSV says torch '9.9.9', not '1.5.0'" in _plan(tmp_path, previous)


def test_adopt_copies_nothing_of_a_cell_changed_after_the_plan(tmp_path):
    previous = _previous(tmp_path)
    args = runoptions.parse([*COMMON, "--reuse-from", str(previous)], "night-42")
    (decision,) = reuse.plan([compat.find(OLD)], args)
    assert decision.reused
    _edit(previous / "cells" / f"{OLD}.csv", "value", "999", 3)
    target = tmp_path / "results" / "night-42"
    with pytest.raises(Exception, match="not reused from night-41: its CSV is not the one"):
        reuse.adopt(decision, target)
    assert not (target / "cells" / f"{OLD}.csv").exists()


def test_nox_l_with_a_fifo_in_the_previous_run_does_not_hang(tmp_path):
    previous = _previous(tmp_path)
    freeze = previous / "cells" / f"{OLD}.freeze.txt"
    freeze.unlink()
    os.mkfifo(freeze)
    proc = subprocess.run([sys.executable, "-m", "nox", "-l", "--", "--reuse-from", str(previous),
                           "--results", str(tmp_path / "results"), *COMMON],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"matrix({OLD})" in proc.stdout


# -- real nox runs of the torch 1.5 cell ----------------------------------------------------

CALLS = "def fn():\n    print('hi')\n    return 1.5\n"
SLOW = textwrap.dedent('''
    import time
    from _rngdrift.harness.cell.registry import scenario

    @scenario("slow.sleeps")
    def sleeps(ctx):
        time.sleep(25)
        return {"fine": 1}
''')


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A user's project outside the checkout (nox is run there with -f), and one nox
    envdir for every run of this module."""
    base = tmp_path_factory.mktemp("project")
    proj = base / "proj"
    (proj / "tests").mkdir(parents=True)
    (proj / "calls.py").write_text(CALLS)
    (proj / "slow.py").write_text(SLOW)
    (proj / "tests" / "test_small.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    return proj, base / "nox", base / "results"


def _nox(project, *args: str, wait: bool = True):
    proj, envdir, results = project
    cmd = [sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "--envdir", str(envdir),
           "-s", f"matrix({OLD})", "--", "--results", str(results), "--seeding", "python",
           "--repeats", "1", *args]
    env = {k: v for k, v in os.environ.items() if k != rundirs.RUN_ID_ENV}
    if not wait:
        return subprocess.Popen(cmd, cwd=proj, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=proj, env=env, capture_output=True, text=True, timeout=1200)


def _venv(project) -> Path:
    return project[1] / "matrix-py3-8-torch1-5-0-tv0-6-0"


@pytest.mark.slow
def test_unchanged_user_code_is_reused_and_changed_code_runs(project):
    """--call and --pytest from a project outside the checkout: the second run reuses the
    cell (only the key's user part differed: the plan resolved the user's paths against
    the noxfile's folder), and an edit of the called file runs it again."""
    user = ["--call", "calls.py:fn", "--pytest", "tests/", "--user-only"]
    first = _nox(project, "--run-id", "u1", *user)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    results = project[2]
    second = _nox(project, "--run-id", "u2", "--reuse-from", str(results / "u1"), *user)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert f"{OLD}: reuse from u1 (key " in output, output[-3000:]
    assert (results / "u2" / "cells" / f"{OLD}.csv").read_bytes() == \
        (results / "u1" / "cells" / f"{OLD}.csv").read_bytes()
    (project[0] / "calls.py").write_text(CALLS.replace("1.5", "2.5"))
    try:
        third = _nox(project, "--run-id", "u3", "--reuse-from", str(results / "u2"), *user,
                     "--plan")
    finally:
        (project[0] / "calls.py").write_text(CALLS)
    assert f"{OLD}: run: your scenario or requirement files changed" in \
        third.stdout + third.stderr


@pytest.mark.slow
def test_a_second_run_of_a_cell_leaves_the_first_and_its_venv_alone(project):
    results = project[2]
    first = _nox(project, "--run-id", "busy", "--scenarios", "slow.py", "--only", "slow.*",
                 "--only", "pairs.hflip", wait=False)
    try:
        deadline = time.time() + 900
        cells = results / "busy" / "cells"
        while not list(cells.glob(f"{OLD}.log.*.part")):  # its cell is running
            assert first.poll() is None, first.stdout.read()[-3000:]
            assert time.time() < deadline
            time.sleep(0.5)
        stamp = (_venv(project) / "pyvenv.cfg").stat().st_ino
        second = _nox(project, "--run-id", "other", "--only", "pairs.hflip")
        output = second.stdout + second.stderr
        assert second.returncode != 0
        assert f"{OLD}: another nox run is using this cell's venv" in output, output[-2000:]
        assert (_venv(project) / "pyvenv.cfg").stat().st_ino == stamp
        out, _ = first.communicate(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out[-3000:]
    rows = list(csv.DictReader((results / "busy" / "cells" / f"{OLD}.csv").open()))
    statuses = {(r["scenario"], r["status"]) for r in rows if r["metric"] == "status"
                and not r["scenario"].startswith("cell.")}
    assert statuses == {("slow.sleeps", "ok"), ("pairs.hflip", "ok")}
    assert "ModuleNotFoundError" not in out


@pytest.mark.slow
@pytest.mark.parametrize("bad, line", [
    (["--call", "calls.py:nofunc"], "--call 'calls.py:nofunc': calls has no 'nofunc'"),
    (["--script", "python -c 'x'"], "interpreter option -c is not supported"),
    (["--script", "python 'unterminated"], "No closing quotation"),
    (["--script", "python calls.py", "--metric", "x=("], "--metric 'x=(': missing ), "
                                                         "unterminated subpattern"),
    (["--metric", "x=1"], "--metric reads the output of --script; no --script given"),
    (["--pytest", "missing/"], "--pytest 'missing/': "),
    (["--dataset", "calls.py:make"], "--dataset 'calls.py:make': calls has no 'make'"),
])
def test_bad_user_options_are_one_line_exit_2_before_anything_installs(project, bad, line):
    if not _venv(project).exists():  # a venv from an earlier run, to see it left alone
        assert _nox(project, "--run-id", "seed", "--only", "pairs.hflip").returncode == 0
    stamp = (_venv(project) / "pyvenv.cfg").stat().st_ino
    proc = _nox(project, "--run-id", "bad", *bad)
    said = [l for l in proc.stderr.splitlines() if l.startswith("rngdrift:")]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(said) == 1 and line in said[0], said
    assert "install:" not in proc.stdout + proc.stderr and "no cell CSVs" not in proc.stderr
    assert (_venv(project) / "pyvenv.cfg").stat().st_ino == stamp
    assert list((_venv(project) / "lib").glob("python3.8/site-packages/torch/__init__.py"))
