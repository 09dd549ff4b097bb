"""What a hostile user's scenario, a full disk or a second run can do, through the real
code paths: a real torch 1.5 cell for what happens on the cell side, the real report,
compare and nox sessions for the rest. Each case checks the behaviour promised in the
fault tables of docs/hardening.md and that nothing measured before it is lost.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import OLD_CELL, ROOT, run_cell
from _rngdrift.harness.runs import cellsession, rundirs
from _rngdrift.harness import cli
from _rngdrift.harness.cell import schema
from _rngdrift.harness.errors import UserError
from resultrows import NEW, OLD, everywhere, write_run

HOSTILE = textwrap.dedent('''
    import os, subprocess, sys, time
    from _rngdrift.harness.cell.registry import scenario

    SPOOL = os.environ["HOSTILE_SPOOL"]

    for evil in ("evil\\rname", "ff\\x0cname", "ls\\u2028name", "cell.evil", "-x.dash",
                 "=HYPERLINK(\\"http://x\\")"):
        scenario(evil)(lambda ctx: {"fine": 1})

    @scenario("hostile.ok_before")
    def ok_before(ctx):
        return {"fine": 1}

    @scenario("hostile.reserved_metric")
    def reserved_metric(ctx):
        return {"status": 1}

    @scenario("hostile.rng_metric")
    def rng_metric(ctx):
        return {"rng.torch": 1}

    @scenario("hostile.empty_metric")
    def empty_metric(ctx):
        return {"": 1}

    @scenario("hostile.none_metric")
    def none_metric(ctx):
        return {None: 1}

    @scenario("hostile.huge_metric")
    def huge_metric(ctx):
        return {"m" * 200000: 1}

    @scenario("hostile.formula_value")
    def formula_value(ctx):
        return {"note": "=cmd|' /C calc'!A0", "minus": -0.5}

    @scenario("hostile.formula_error")
    def formula_error(ctx):
        raise RuntimeError("=1+1 in an error message")

    @scenario("hostile.daemon")
    def daemon(ctx):
        # double fork: the grandchild leaves the child's session and process group
        code = ("import os, subprocess, sys; os.setsid(); "
                "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
                "open(sys.argv[1], 'w').write(str(p.pid))")
        subprocess.check_call([sys.executable, "-c", code, os.path.join(SPOOL, "daemon.pid")])
        return {"fine": 1}

    @scenario("hostile.chdir")
    def chdir(ctx):
        os.chdir("/")
        os.environ["HOSTILE_LEAK"] = "1"
        os.umask(0o077)
        return {"fine": 1}

    @scenario("hostile.after_chdir")
    def after_chdir(ctx):
        with open(os.path.join(SPOOL, "cwd-" + ctx.mode), "w") as handle:
            handle.write("%s|%s" % (os.getcwd(), os.environ.get("HOSTILE_LEAK", "")))
        return {"fine": 1}

    @scenario("hostile.loud")
    def loud(ctx):
        line = "x" * 1023 + "\\n"
        for _ in range(30 * 1024):  # 30 MB
            sys.stdout.write(line)
        sys.stdout.flush()
        return {"fine": 1}

    @scenario("hostile.ok_after")
    def ok_after(ctx):
        return {"fine": 1}
''')


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, cell_python):
    """The hostile scenarios (and pairs.hflip, a canonical one) in the real torch 1.5 cell,
    then the report of that run."""
    base = tmp_path_factory.mktemp("hostile")
    spool = base / "spool"
    spool.mkdir()
    source = base / "hostile.py"
    source.write_text(HOSTILE)
    run = base / "run"
    out = run / "cells" / f"{OLD_CELL}.csv"
    os.environ["HOSTILE_SPOOL"] = str(spool)
    try:
        rows = run_cell(cell_python(OLD_CELL), out, "--scenarios", str(source), "--only",
                        "hostile.*", "--only", "invalid.*", "--only", "pairs.hflip",
                        "--seeding", "python,all", "--repeats", "1", cell=OLD_CELL)
    finally:
        del os.environ["HOSTILE_SPOOL"]
    assert cli.main(["report", str(run)]) == 0
    return rows, run, spool


def _status(rows, scenario, mode="python"):
    (row,) = [r for r in rows if (r.scenario, r.seeding, r.metric) == (scenario, mode, "status")]
    return row.status, row.detail


@pytest.mark.slow
@pytest.mark.parametrize("why", ["'\\r'", "'\\x0c'", "'\\u2028'", "whole-cell rows",
                                 "starts with '-'", "starts with '='"])
def test_a_bad_scenario_name_is_an_error_row_of_that_scenario_only(hostile_run, why):
    rows, _, _ = hostile_run
    invalid = {r.scenario: r.detail for r in rows
               if r.scenario.startswith("invalid.") and r.metric == "status"}
    assert len(invalid) == 6 and all(schema.name_problem(n, "scenario") is None for n in invalid)
    assert any(why in detail and "rename it" in detail for detail in invalid.values())
    for name in ("pairs.hflip", "hostile.ok_before", "hostile.ok_after"):
        assert _status(rows, name)[0] == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("scenario, why", [
    ("hostile.reserved_metric", "'status' is rngdrift's own"),
    ("hostile.rng_metric", "'rng.torch' is rngdrift's own"),
    ("hostile.empty_metric", "empty metric name"),
    ("hostile.none_metric", "must be a string, not NoneType"),
    ("hostile.huge_metric", "of 200000 characters"),
])
def test_a_bad_metric_name_is_an_error_row_of_that_scenario(hostile_run, scenario, why):
    status, detail = _status(hostile_run[0], scenario)
    assert status == "error" and why in detail


@pytest.mark.slow
def test_the_run_stays_reportable_and_comparable(hostile_run, tmp_path):
    _, run, _ = hostile_run
    assert (run / "report.md").exists() and (run / "report.html").exists()
    assert cli.main(["compare", str(run), str(run), "--out", str(tmp_path)]) == 0


@pytest.mark.slow
def test_csvs_for_people_hold_no_formula(hostile_run):
    _, run, _ = hostile_run
    for name in ("drift.csv", "reproducibility.csv", "sources.csv", "minimal_seeding.csv",
                 "accuracy.csv"):
        frame = pd.read_csv(run / name, dtype=str, keep_default_na=False)
        cells = [*frame.columns, *frame.to_numpy().ravel()]
        risky = [c for c in cells if c.startswith(schema.FORMULA_START) and c != "-"
                 and not c.lstrip("-").replace(".", "", 1).isdigit()]
        assert risky == [], name
    matrix = pd.read_csv(run / "matrix.csv", dtype=str, keep_default_na=False)
    assert "=cmd|' /C calc'!A0" in set(matrix["value"])  # exact data stays exact
    repro = pd.read_csv(run / "reproducibility.csv", dtype=str, keep_default_na=False)
    assert (repro["detail"].str.startswith("RuntimeError: =1+1")).any()


@pytest.mark.slow
def test_a_setsid_daemon_does_not_outlive_its_cell(hostile_run):
    pid = int((hostile_run[2] / "daemon.pid").read_text())
    deadline = time.time() + 5
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["python", "all"])
def test_the_next_scenario_runs_where_the_process_started(hostile_run, mode):
    assert (hostile_run[2] / f"cwd-{mode}").read_text() == f"{ROOT}|"


@pytest.mark.slow
def test_a_scenario_printing_30_mb_leaves_a_capped_log(hostile_run):
    _, run, _ = hostile_run
    log = run / "cells" / f"{OLD_CELL}.log"
    assert log.stat().st_size < 2 * 11 << 20  # two jobs, each capped near 10 MB
    assert b"bytes of this child's output were dropped here" in log.read_bytes()
    assert _status(hostile_run[0], "hostile.loud")[0] == "ok"


# -- the host side: report, compare, sessions -------------------------------------------

def _small_run(path: Path) -> Path:
    return write_run(path, everywhere(OLD, "s", {"a": 1.0}) + everywhere(NEW, "s", {"a": 2.0}))


@pytest.fixture
def tiny_fs(tmp_path):
    """A 256 KiB tmpfs: a full disk on demand (needs root; skipped where mount is refused)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)])


def _fill(mount: Path) -> None:
    with contextlib.suppress(OSError), open(mount / "filler", "wb") as handle:
        while True:
            handle.write(b"\0" * 4096)


def test_a_full_disk_during_the_report_is_one_line_and_nothing_half_written(tiny_fs, capsys):
    run = _small_run(tiny_fs / "run")
    before = sorted(p.name for p in run.rglob("*"))
    _fill(tiny_fs)
    assert cli.main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert sorted(p.name for p in run.rglob("*")) == before  # no .tmp leftovers, no partial set


def test_a_full_disk_during_compare_exits_2_not_1(tiny_fs, tmp_path, capsys):
    base, cand = _small_run(tmp_path / "base"), _small_run(tmp_path / "cand")
    _fill(tiny_fs)
    assert cli.main(["compare", str(base), str(cand), "--out", str(tiny_fs)]) == 2
    assert "No space left on device" in capsys.readouterr().err


def test_a_read_only_run_directory_is_one_line(tiny_fs, capsys):
    run = _small_run(tiny_fs / "run")
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], check=True)
    assert cli.main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Read-only file system" in err


def test_a_fifo_among_the_cells_is_skipped_not_read(tmp_path, capsys):
    run = _small_run(tmp_path / "run")
    os.mkfifo(run / "cells" / "x.csv")
    assert cli.main(["report", str(run)]) == 0  # would hang reading the FIFO
    assert "x.csv: not a regular file" in capsys.readouterr().err


def test_a_csv_cut_at_a_line_end_is_named(tmp_path, capsys):
    run = _small_run(tmp_path / "run")
    path = run / "cells" / f"{OLD}.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))
    assert cli.main(["report", str(run)]) == 2
    assert f"{path}: truncated or hand-edited: its manifest says" in capsys.readouterr().err


def test_an_old_csv_without_a_manifest_loads_with_a_note(tmp_path, capsys):
    run = _small_run(tmp_path / "run")
    path = run / "cells" / f"{OLD}.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "".join(lines[2:]))
    assert cli.main(["report", str(run)]) == 0
    assert "older rngdrift without a row count" in capsys.readouterr().err


@pytest.mark.parametrize("field, value, problem", [
    ("repeat", "99999999999999999999999", "repeat"),
    ("cell", "py3.8-torch1.5.0-tv0.6.0²", "is not a cell id like"),
    ("value", "1e999999", None),
])
def test_hand_edited_numbers_and_ids_are_one_line(tmp_path, capsys, field, value, problem):
    run = _small_run(tmp_path / "run")
    path = run / "cells" / f"{OLD}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[2, field] = value
    if field == "cell":
        frame[field] = value
    path.write_text(frame.to_csv(index=False, lineterminator="\n"))
    code = cli.main(["report", str(run)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") <= 2
    if problem:
        assert code == 2 and problem in err
    else:
        assert code == 0


@pytest.mark.parametrize("run_id", ["../../x", "a b", "x/y", "latest"])
def test_bad_run_ids_are_one_line(run_id, capsys):
    from _rngdrift.harness.runs import runoptions
    with pytest.raises(UserError) as info:
        runoptions.parse(["--run-id", run_id], "unused")
    assert str(info.value).startswith("--run-id: run id") and "\n" not in str(info.value)


def test_compare_never_writes_inside_the_baseline(tmp_path, capsys):
    base, cand = _small_run(tmp_path / "base"), _small_run(tmp_path / "cand")
    assert cli.main(["compare", str(base), str(cand), "--out", str(base / "cells")]) == 2
    assert "inside the baseline's directory" in capsys.readouterr().err
    assert not (base / "cells" / "compare.csv").exists()


def test_a_planted_symlink_is_not_followed_by_atomic_writes(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    out = tmp_path / "c.csv"
    for guess in range(os.getpid() - 5, os.getpid() + 50):  # the old predictable names
        (tmp_path / f"c.csv.tmp-{guess}").symlink_to(target)
    schema.write_atomic(str(out), "new\n")
    assert target.read_text() == "keep me" and out.read_text() == "new\n"
    assert stat.S_ISREG(os.lstat(out).st_mode)


def test_a_second_run_of_the_same_cell_refuses_and_deletes_nothing(tmp_path):
    """Two `nox -s matrix(<cell>)` with one run id: the second stops with one line while
    the first holds the cell's lock, and the first's in-flight files stay."""
    run = rundirs.run_dir("same", tmp_path)
    (run / "cells").mkdir(parents=True)
    part = run / "cells" / f"{OLD_CELL}.log.none-r1-1.part"
    part.write_text("the first run's child log")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from _rngdrift.harness.runs import cellsession
        with cellsession.cell_lock(Path({str(run)!r}), {OLD_CELL!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"{OLD_CELL}: another run of this cell is writing"):
            with cellsession.cell_lock(run, OLD_CELL):
                pass
        assert part.read_text() == "the first run's child log"
    finally:
        holder.kill()
        holder.wait()
    with cellsession.cell_lock(run, OLD_CELL):  # free again once the first run is gone
        pass


def test_a_run_with_journals_but_no_csv_names_resume(tmp_path, capsys):
    cells = tmp_path / "r1" / "cells"
    cells.mkdir(parents=True)
    (cells / f"{OLD}.journal").write_text("{}\n")
    assert cli.main(["report", str(tmp_path / "r1")]) == 2
    err = capsys.readouterr().err
    assert "no cell CSV yet; 1 cell(s) were interrupted" in err and "--resume" in err


@pytest.mark.slow
def test_a_cell_whose_folder_vanishes_mid_run_still_writes_its_csv(tmp_path, cell_python):
    source = tmp_path / "vanish.py"
    source.write_text(textwrap.dedent("""
        import os, shutil
        from _rngdrift.harness.cell.registry import scenario

        @scenario("vanish.cells")
        def cells(ctx):
            shutil.rmtree(os.environ["VANISH_DIR"], ignore_errors=True)
            return {"fine": 1}
    """))
    out = tmp_path / "run" / "cells" / f"{OLD_CELL}.csv"
    env = dict(os.environ, PYTHONPATH=str(ROOT), VANISH_DIR=str(out.parent))
    proc = subprocess.run(
        [str(cell_python(OLD_CELL)), "-m", "_rngdrift.harness.cell", "--out", str(out), "--cell", OLD_CELL,
         "--scenarios", str(source), "--only", "vanish.*", "--only", "pairs.hflip",
         "--seeding", "python", "--repeats", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert {r.scenario for r in schema.read_csv(out)} >= {"vanish.cells", "pairs.hflip"}
    shutil.rmtree(tmp_path / "run")
