"""benchmarks/bench.py: the pure parts (no cells, no network)."""
from __future__ import annotations

import json
import os

import pytest

from benchmarks import bench
from harness import compat
from harness.cell import schema

M = bench.MATRIX
OLD_ID = compat.DEFAULT[0].id


def recs(*triples):
    """Records keyed like load_records: (cell, metric, value[, note])."""
    out = {}
    for cell, metric, value, *note in triples:
        out[(cell, metric)] = {"cell": cell, "metric": metric, "value": value,
                               "note": note[0] if note else ""}
    return out


# --- disk accounting


def test_disk_usage_counts_hard_links_once(tmp_path):
    cache, venv = tmp_path / "cache", tmp_path / "venv"
    cache.mkdir()
    venv.mkdir()
    (cache / "lib.so").write_bytes(os.urandom(256 * 1024))
    os.link(cache / "lib.so", venv / "lib.so")
    (venv / "RECORD").write_bytes(os.urandom(64 * 1024))
    alone = bench.disk_usage([cache])
    both = bench.disk_usage([cache, venv])
    assert alone >= 256 * 1024
    # the venv adds its own file and directory, not a second copy of the linked one
    assert 64 * 1024 <= both - alone < 256 * 1024
    assert bench.disk_usage([venv]) >= 256 * 1024 + 64 * 1024  # alone, the link counts


def test_disk_usage_copy_counts_twice_and_symlinks_are_not_followed(tmp_path):
    (tmp_path / "a").write_bytes(os.urandom(128 * 1024))
    (tmp_path / "b").write_bytes((tmp_path / "a").read_bytes())
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "big").write_bytes(os.urandom(512 * 1024))
    (tmp_path / "link").symlink_to(outside)
    total = bench.disk_usage([tmp_path])
    assert 256 * 1024 <= total < 512 * 1024
    assert bench.disk_usage([tmp_path / "missing"]) == 0


# --- timing rows


META = schema.cell_meta(run_id="bench", cell=OLD_ID, python="3.8", torch="1.5.0",
                        torchvision="0.6.0", numpy="1.24.4", pillow="10.4.0",
                        platform="linux", device="cpu")


def timing(scenario, value, kind="timing", metric="seconds"):
    """A row as schema.read_csv returns it (a Row, every field text)."""
    return schema.metric_row(META, scenario, "none", 1, metric, kind, value)


def test_family_seconds_sums_timing_rows_by_family():
    rows = [timing("augment.hflip", "0.5"), timing("augment.crop", "0.25"),
            timing("loader.workers", "2.0"), timing("augment.hflip", "0.5"),
            timing("augment.hflip", "9", kind="number", metric="seconds"),
            timing("augment.hflip", "ok", kind="text", metric="status"),
            timing("train.tiny", "")]
    assert bench.family_seconds(rows) == {"augment": 1.25, "loader": 2.0}


# --- what uv fetched


def test_selected_wheels_keeps_the_last_choice_per_package():
    log = "\n".join([
        "DEBUG Selecting: torch==1.5.0 [compatible] (torch-1.5.0-cp38-cp38-manylinux1_x86_64.whl)",
        "DEBUG Selecting: Pillow==10.4.0 [compatible] (pillow-10.4.0-cp38-cp38-manylinux_2_28_x86_64.whl)",
        "DEBUG Selecting: numpy==1.25.0 [compatible] (numpy-1.25.0-cp38-cp38-manylinux_2_17_x86_64.whl)",
        "DEBUG Selecting: numpy==1.24.4 [compatible] (numpy-1.24.4-cp38-cp38-manylinux_2_17_x86_64.whl)",
        "Would download 3 packages"])
    assert bench.selected_wheels(log) == [
        "numpy-1.24.4-cp38-cp38-manylinux_2_17_x86_64.whl",
        "pillow-10.4.0-cp38-cp38-manylinux_2_28_x86_64.whl",
        "torch-1.5.0-cp38-cp38-manylinux1_x86_64.whl"]


def test_downloaded_wheels_reads_uv_http_pointers(tmp_path):
    pkg = tmp_path / "wheels-v8" / "pypi" / "torch"
    pkg.mkdir(parents=True)
    url = ("https://files.pythonhosted.org/packages/2e/4a/ab/"
           "torch-1.10.0-cp38-cp38-manylinux1_x86_64.whl")
    (pkg / "1.10.0-cp38-cp38-manylinux1_x86_64.http").write_bytes(
        b"\x00\x10vMbO\x00Sha256@ab0c,torch-1.10.0-cp38-cp38-manylinux1_x86_64.whl\x00"
        + url.encode() + b"\x00\x01")
    (pkg / "1.10.2-cp38-cp38-manylinux1_x86_64.msgpack").write_bytes(b"metadata only")
    assert bench.downloaded_wheels(tmp_path) == {
        "torch-1.10.0-cp38-cp38-manylinux1_x86_64.whl": url}


def test_wheel_project_normalizes():
    assert bench.wheel_project("MarkupSafe-2.1.5-cp38-cp38-x.whl") == "markupsafe"
    assert bench.wheel_project("nvidia_cudnn_cu12-9.1-py3-none-x.whl") == "nvidia-cudnn-cu12"


# --- nox logs


NOX_LOG = """\
nox > Running session matrix(py3.8-torch1.5.0-tv0.6.0)
nox > Session matrix(py3.8-torch1.5.0-tv0.6.0) was successful in 10 seconds.
nox > Session matrix(py3.11-torch2.15.0-tv0.29.2) failed in 2 minutes.
nox > Session matrix(py3.8-torch1.6.0-tv0.7.0) was successful in a moment.
nox > Session report was successful in 3 seconds.
nox > Ran multiple sessions:
rc=1 wall=512s
"""


def test_parse_nox_log():
    parsed = bench.parse_nox_log(NOX_LOG)
    assert parsed["rc"] == 1 and parsed["wall"] == 512.0
    assert parsed["sessions"] == [
        ("matrix(py3.8-torch1.5.0-tv0.6.0)", "successful", 10.0),
        ("matrix(py3.11-torch2.15.0-tv0.29.2)", "failed", 120.0),
        ("matrix(py3.8-torch1.6.0-tv0.7.0)", "successful", 0.5),
        ("report", "successful", 3.0)]
    assert bench.session_cell("matrix(py3.8-torch1.5.0-tv0.6.0)") == "py3.8-torch1.5.0-tv0.6.0"
    assert bench.session_cell("report") is None


def test_parse_nox_log_unfinished_run_has_no_wall():
    assert bench.parse_nox_log(NOX_LOG.replace("rc=1 wall=512s\n", ""))["wall"] is None


@pytest.mark.parametrize("text,seconds", [("a second", 1.0), ("59 seconds", 59.0),
                                          ("a minute", 60.0), ("3 minutes", 180.0),
                                          ("an hour", 3600.0), ("soon", None), (None, None)])
def test_natural_seconds(text, seconds):
    assert bench.natural_seconds(text) == seconds


# --- cell selection


def test_representative_cells_span_the_history():
    ids = [c.id for c in bench.select_cells("subset")]
    assert ids[0] == compat.DEFAULT[0].id and ids[-1] == compat.DEFAULT[-1].id
    majors = [compat._version(c.torch)[:2] for c in bench.select_cells("subset")]
    assert any((1, 5) < v < (2, 0) for v in majors) and any((2, 0) <= v <= (2, 2) for v in majors)
    assert len(set(ids)) == len(ids)
    assert len(bench.select_cells("all")) == len(compat.DEFAULT)


def test_select_cells_by_id_and_bad_id():
    assert [c.id for c in bench.select_cells("py3.8-torch1.5.0-tv0.6.0")] == ["py3.8-torch1.5.0-tv0.6.0"]
    with pytest.raises(ValueError, match="not-a-cell"):
        bench.select_cells("py3.8-torch1.5.0-tv0.6.0,not-a-cell")


# --- tables from records

OLD, NEW = compat.DEFAULT[0].id, compat.DEFAULT[-1].id


def test_cell_table_orders_cells_and_derives_download_time():
    records = recs((NEW, "download_bytes", 3.0e9), (NEW, "cold_setup_s", 70.0),
                   (OLD, "download_bytes", 0.75e9), (OLD, "cold_setup_s", 20.0),
                   (OLD, "warm_setup_recreate_s", 1.234), (M, "bandwidth_Bps", 50e6))
    headers, rows = bench.cell_table(records)
    assert [r[0] for r in rows] == [OLD, NEW]
    col = {h: i for i, h in enumerate(headers)}
    assert rows[0][col["download MB"]] == "750"
    assert rows[1][col["download alone s"]] == "~60.0"  # estimated from the bandwidth
    assert rows[0][col["warm re-create s"]] == "1.23"
    assert rows[1][col["warm re-create s"]] == ""
    # a cell's own timed plain download beats the bandwidth estimate
    records.update(recs((NEW, "download_alone_s", 42.0)))
    assert bench.cell_table(records)[1][1][col["download alone s"]] == "42.0"


def test_targets_table_verdicts():
    records = recs((OLD, "warm_setup_recreate_s", 1.5), (NEW, "warm_setup_recreate_s", 6.0),
                   (OLD, "cell_wall_fork_s", 20.0), (NEW, "cell_wall_fork_s", 45.0),
                   (M, "matrix_seq_warm_s", 700.0),
                   (NEW, "download_bytes", 3.0e9), (NEW, "cold_setup_s", 72.0),
                   (M, "bandwidth_Bps", 50e6))
    _, rows = bench.targets_table(records)
    verdicts = {row[0].split(" <=")[0]: (row[1], row[2]) for row in rows}
    assert verdicts["warm set-up per cell"] == (f"max 6.00 s ({NEW})", "missed")
    assert verdicts["one cell's scenarios"] == (f"max 45.0 s ({NEW})", "met")
    assert verdicts["full default matrix, warm"] == ("700 s sequential", "missed")
    assert verdicts["cold set-up"] == (f"max 1.20 x ({NEW})", "met")


def test_baseline_table_ratios():
    records = recs((OLD, "pip_cold_setup_s", 60.0), (OLD, "cold_setup_s", 20.0),
                   (OLD, "pip_warm_setup_s", 30.0), (OLD, "warm_setup_new_s", 1.5),
                   (NEW, "cold_setup_s", 70.0))
    _, rows = bench.baseline_table(records)
    assert rows == [[OLD, "60.0", "20.0", "3.0x", "30.0", "1.50", "20x"]]


def test_matrix_estimates_extrapolate_and_say_so():
    records = recs((M, "matrix_seq_warm_s", 500.0), (M, "parallel_seq_s", 100.0),
                   (M, "parallel_two_s", 80.0, "4 cells"), (M, "bandwidth_Bps", 100e6))
    for cell in compat.DEFAULT:
        records.update(recs((cell.id, "download_bytes", 1e9)))
    assert "matrix_download_bytes" not in bench.matrix_estimates(records)  # no file lists yet
    records.update(recs((OLD, "cold_setup_s", 14.0), (OLD, "warm_setup_recreate_s", 2.0)))
    est = bench.matrix_estimates(records)
    assert est["matrix_par_warm_s"][0] == pytest.approx(400.0)
    assert "extrapolated" in est["matrix_par_warm_s"][1] and "4 cells" in est["matrix_par_warm_s"][1]
    n = len(compat.DEFAULT)
    assert est["matrix_download_alone_s"][0] == pytest.approx(n * 10.0)
    # 12 s of cold overhead per GB measured on one cell, over n GB
    assert est["matrix_cold_s"][0] == pytest.approx(500.0 + n * 12.0)
    _, rows = bench.matrix_table(records)
    assert ["full default matrix, warm, two cells at once", "400 s"] == rows[[r[0] for r in rows].index(
        "full default matrix, warm, two cells at once")][:2]


def test_matrix_cold_needs_every_cells_download():
    records = recs((M, "matrix_seq_warm_s", 500.0), (M, "bandwidth_Bps", 100e6),
                   (OLD, "download_bytes", 1e9), (OLD, "cold_setup_s", 14.0))
    assert "matrix_cold_s" not in bench.matrix_estimates(records)


def test_records_round_trip_and_later_runs_win(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    bench.record(first, OLD, "import_s", 2.0)
    bench.record(first, OLD, "cold_setup_s", 20.0)
    bench.record(second, OLD, "import_s", 1.5, "again")
    records = bench.load_records([first, second])
    assert records[(OLD, "import_s")]["value"] == 1.5
    assert records[(OLD, "cold_setup_s")]["value"] == 20.0
    text = bench.write_tables(records, second)
    assert "| " + OLD in text and (second / "cells.csv").is_file()
    assert (second / "bench.md").read_text() == text


def test_load_records_bad_input_names_file_and_line(tmp_path):
    (tmp_path / "measurements.jsonl").write_text(json.dumps({"cell": "x", "metric": "m", "value": 1})
                                                 + "\nnot json\n")
    with pytest.raises(ValueError, match=r"measurements.jsonl:2: not a measurement record"):
        bench.load_records([tmp_path])
    with pytest.raises(FileNotFoundError, match="not a bench output folder"):
        bench.load_records([tmp_path / "nothing"])


def test_markdown_right_aligns_number_columns_only():
    assert bench.markdown(["a", "b", "c"], [["x", "1.5 s", "how"], ["y", "", "why"]]) == (
        "| a | b | c |\n|---|---:|---|\n| x | 1.5 s | how |\n| y |  | why |")


def test_cell_table_drops_columns_nobody_measured():
    headers, rows = bench.cell_table(recs((OLD, "import_s", 2.0)))
    assert headers == ["cell", "import torch+tv s"] and rows == [[OLD, "2.00"]]


def test_unique_download_bytes_counts_a_shared_wheel_once():
    cells = compat.DEFAULT[:2]
    records = recs((cells[0].id, "wheels", "torch-a.whl=100 numpy-x.whl=10"),
                   (cells[1].id, "wheels", "torch-b.whl=200 numpy-x.whl=10"))
    assert bench.unique_download_bytes(records, cells) == 310
    assert bench.unique_download_bytes(records, compat.DEFAULT[:3]) is None
