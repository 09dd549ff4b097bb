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


def test_the_blame_stage_reports_environments_built_and_wall_time():
    records = {(MATRIX, "blame_check_s"): rec(47.8, "new folder"),
               (MATRIX, "blame_s"): rec(31.0, "4 environments, 24 scenario runs"),
               (MATRIX, "blame_envs"): rec(4, "24 scenario runs")}
    _, rows = check.table(records)
    assert rows == [["check --blame of a three-package bump, first time (both sides, report, "
                     "blame)", "47.8 s", "new folder"],
                    ["of which the blame (environments built, run, bisected)", "31.0 s",
                     "4 environments, 24 scenario runs"],
                    ["environments the blame built", "4", "24 scenario runs"]]
    assert check.STAGES["blame"] is check.measure_blame


def test_the_blame_stage_reads_the_cost_line_the_check_prints(tmp_path, monkeypatch):
    said = ("rngdrift check --blame: 19 changed rows; ...\n"
            "rngdrift check --blame: 4 environments built, 24 scenario runs, 31 s; x/blame.csv\n")
    monkeypatch.setattr(check, "_check", lambda folder, log, command: (47.8, said, 1))
    recorded = {}

    class Bench:
        work = tmp_path
        args = type("Args", (), {"keep": True})

        def log(self, name):
            return tmp_path / name

        def record(self, cell, metric, value, note=""):
            recorded[metric] = value
    check.measure_blame(Bench())
    assert recorded == {"blame_check_s": 47.8, "blame_envs": 4, "blame_s": 31.0}
