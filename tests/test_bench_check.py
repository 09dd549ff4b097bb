"""benchmarks/check.py: the check stage's table, from its records alone."""
from __future__ import annotations

from benchmarks import check, tables
from benchmarks.records import MATRIX


def rec(value, note=""):
    return {"value": value, "note": note}


def test_the_check_table_shows_what_was_measured_and_how():
    records = {(MATRIX, "check_first_s"): rec(85.0, "new clone"),
               (MATRIX, "check_warm_s"): rec(65.7, "again")}
    headers, rows = check.table(records)
    assert headers == ["what", "wall", "how"]
    assert rows == [["first check in a new clone (resolve, install, run, report)", "85.0 s",
                     "new clone"],
                    ["the same check again (warm: resolutions and environments kept)",
                     "65.7 s", "again"]]
    assert "check" in dict((name, build) for name, _, build in tables.TABLES)
    assert check.table({}) == (["what", "wall", "how"], [])
