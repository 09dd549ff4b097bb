"""benchmarks/records.py: measurement records, appended and read back."""
from __future__ import annotations

import json

import pytest

from benchmarks import records, tables
from _rngdrift.harness.matrix import compat

OLD = compat.DEFAULT[0].id


def test_records_round_trip_and_later_runs_win(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    assert records.measured(first) == set()
    records.record(first, OLD, "import_s", 2.0)
    records.record(first, OLD, "cold_setup_s", 20.0)
    records.record(second, OLD, "import_s", 1.5, "again")
    latest = records.load_records([first, second])
    assert latest[(OLD, "import_s")]["value"] == 1.5
    assert latest[(OLD, "cold_setup_s")]["value"] == 20.0
    assert records.latest(latest, OLD, "import_s") == 1.5
    assert records.latest(latest, OLD, "download_bytes") is None
    assert records.measured(first) == {(OLD, "import_s"), (OLD, "cold_setup_s")}
    # the tables come from the records alone
    text = tables.write_tables(latest, second)
    assert "| " + OLD in text and (second / "cells.csv").is_file()
    assert (second / "bench.md").read_text() == text


def test_record_prints_unless_quiet(tmp_path, capsys):
    records.record(tmp_path, OLD, "import_s", 1.23456, "median of 3")
    records.record(tmp_path, OLD, "wheels", "torch-a.whl=1", quiet=True)
    assert capsys.readouterr().out == f"bench: {OLD} import_s = 1.235  (median of 3)\n"
    assert len((tmp_path / "measurements.jsonl").read_text().splitlines()) == 2


def test_load_records_bad_input_names_file_and_line(tmp_path):
    (tmp_path / "measurements.jsonl").write_text(json.dumps({"cell": "x", "metric": "m", "value": 1})
                                                 + "\nnot json\n")
    with pytest.raises(ValueError, match=r"measurements.jsonl:2: not a measurement record"):
        records.load_records([tmp_path])
    with pytest.raises(FileNotFoundError, match="not a bench output folder"):
        records.load_records([tmp_path / "nothing"])
