"""benchmarks/tables.py: every table, from records alone."""
from __future__ import annotations

import pytest

from benchmarks import tables
from benchmarks.records import MATRIX as M
from _rngdrift.harness.matrix import compat


def recs(*triples):
    """Records keyed like load_records: (cell, metric, value[, note])."""
    out = {}
    for cell, metric, value, *note in triples:
        out[(cell, metric)] = {"cell": cell, "metric": metric, "value": value,
                               "note": note[0] if note else ""}
    return out


OLD, NEW = compat.DEFAULT[0].id, compat.DEFAULT[-1].id


def test_cell_table_orders_cells_and_derives_download_time():
    records = recs((NEW, "download_bytes", 3.0e9), (NEW, "cold_setup_s", 70.0),
                   (OLD, "download_bytes", 0.75e9), (OLD, "cold_setup_s", 20.0),
                   (OLD, "warm_setup_recreate_s", 1.234), (M, "bandwidth_Bps", 50e6))
    headers, rows = tables.cell_table(records)
    assert [r[0] for r in rows] == [OLD, NEW]
    col = {h: i for i, h in enumerate(headers)}
    assert rows[0][col["download MB"]] == "750"
    assert rows[1][col["download alone s"]] == "~60.0"  # estimated from the bandwidth
    assert rows[0][col["warm re-create s"]] == "1.23"
    assert rows[1][col["warm re-create s"]] == ""
    # a cell's own timed plain download beats the bandwidth estimate
    records.update(recs((NEW, "download_alone_s", 42.0)))
    assert tables.cell_table(records)[1][1][col["download alone s"]] == "42.0"


def test_targets_table_verdicts():
    records = recs((OLD, "warm_setup_recreate_s", 1.5), (NEW, "warm_setup_recreate_s", 6.0),
                   (OLD, "cell_wall_fork_s", 20.0), (NEW, "cell_wall_fork_s", 45.0),
                   (M, "matrix_seq_warm_s", 700.0),
                   (NEW, "download_bytes", 3.0e9), (NEW, "cold_setup_s", 72.0),
                   (M, "bandwidth_Bps", 50e6))
    _, rows = tables.targets_table(records)
    verdicts = {row[0].split(" <=")[0]: (row[1], row[2]) for row in rows}
    assert verdicts["warm set-up per cell"] == (f"max 6.00 s ({NEW})", "missed")
    assert verdicts["one cell's scenarios"] == (f"max 45.0 s ({NEW})", "met")
    assert verdicts["full default matrix, warm"] == ("700 s sequential", "missed")
    assert verdicts["cold set-up"] == (f"max 1.20 x ({NEW})", "met")


def test_baseline_table_ratios():
    records = recs((OLD, "pip_cold_setup_s", 60.0), (OLD, "cold_setup_s", 20.0),
                   (OLD, "pip_warm_setup_s", 30.0), (OLD, "warm_setup_new_s", 1.5),
                   (NEW, "cold_setup_s", 70.0))
    _, rows = tables.baseline_table(records)
    assert rows == [[OLD, "60.0", "20.0", "3.0x", "30.0", "1.50", "20x"]]


def test_matrix_estimates_extrapolate_and_say_so():
    records = recs((M, "matrix_seq_warm_s", 500.0), (M, "parallel_seq_s", 100.0),
                   (M, "parallel_two_s", 80.0, "4 cells"), (M, "bandwidth_Bps", 100e6))
    for cell in compat.DEFAULT:
        records.update(recs((cell.id, "download_bytes", 1e9)))
    assert "matrix_download_bytes" not in tables.matrix_estimates(records)  # no file lists yet
    records.update(recs((OLD, "cold_setup_s", 14.0), (OLD, "warm_setup_recreate_s", 2.0)))
    est = tables.matrix_estimates(records)
    assert est["matrix_par_warm_s"][0] == pytest.approx(400.0)
    assert "extrapolated" in est["matrix_par_warm_s"][1] and "4 cells" in est["matrix_par_warm_s"][1]
    n = len(compat.DEFAULT)
    assert est["matrix_download_alone_s"][0] == pytest.approx(n * 10.0)
    # 12 s of cold overhead per GB measured on one cell, over n GB
    assert est["matrix_cold_s"][0] == pytest.approx(500.0 + n * 12.0)
    _, rows = tables.matrix_table(records)
    assert ["full default matrix, warm, two cells at once", "400 s"] == rows[[r[0] for r in rows].index(
        "full default matrix, warm, two cells at once")][:2]


def test_matrix_cold_needs_every_cells_download():
    records = recs((M, "matrix_seq_warm_s", 500.0), (M, "bandwidth_Bps", 100e6),
                   (OLD, "download_bytes", 1e9), (OLD, "cold_setup_s", 14.0))
    assert "matrix_cold_s" not in tables.matrix_estimates(records)


def test_markdown_right_aligns_number_columns_only():
    assert tables.markdown(["a", "b", "c"], [["x", "1.5 s", "how"], ["y", "", "why"]]) == (
        "| a | b | c |\n|---|---:|---|\n| x | 1.5 s | how |\n| y |  | why |")


def test_cell_table_drops_columns_nobody_measured():
    headers, rows = tables.cell_table(recs((OLD, "import_s", 2.0)))
    assert headers == ["cell", "import torch+tv s"] and rows == [[OLD, "2.00"]]


def test_unique_download_bytes_counts_a_shared_wheel_once():
    cells = compat.DEFAULT[:2]
    records = recs((cells[0].id, "wheels", "torch-a.whl=100 numpy-x.whl=10"),
                   (cells[1].id, "wheels", "torch-b.whl=200 numpy-x.whl=10"))
    assert tables.unique_download_bytes(records, cells) == 310
    assert tables.unique_download_bytes(records, compat.DEFAULT[:3]) is None


def test_usercode_table_shows_cpu_times_and_the_overhead():
    records = recs((OLD, "call_small_plain_cpu_s", 0.0038), (OLD, "call_small_harness_cpu_s", 0.0056),
                   (OLD, "call_small_overhead_cpu_pct", 47.4), (OLD, "script_fresh_s", 0.785),
                   (NEW, "import_s", 9.0))
    headers, rows = tables.usercode_table(records)
    assert [r[0] for r in rows] == [OLD]  # a cell without usercode numbers has no row
    assert rows[0][1:4] == ["3.8", "5.6", "47"]
    assert rows[0][headers.index("2 epochs, new interpreter, wall ms")] == "785"
    assert "usercode" in [name for name, *_ in tables.TABLES]
