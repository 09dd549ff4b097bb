"""harness.cell.journal: finished jobs survive an interrupt; harness.cell.__main__'s rows."""
from __future__ import annotations

import json

from _rngdrift.harness.cell import schema
from _rngdrift.harness.cell.__main__ import build_rows
from _rngdrift.harness.cell.journal import Journal
from _rngdrift.harness.cell.supervisor import Job

HEADER = {"cell": "c", "run_id": "r", "names": ["a", "b"]}


def job(mode, repeat, *statuses):
    j = Job(mode, repeat, ["a", "b"])
    for name, status in zip(["a", "b"], statuses):
        j.record(name, status, "", [("m", "count", "1")] if status == "ok" else [])
    return j


def test_journal_round_trip(tmp_path):
    journal = Journal(str(tmp_path / "c.journal"), HEADER)
    journal.start()
    journal.append(job("none", 1, "ok", "error"))
    journal.append(job("full", 2, "ok", "ok"))
    loaded = Journal(str(tmp_path / "c.journal"), HEADER).load()
    assert [(j.mode, j.repeat, j.results) for j in loaded] == [
        ("full", 2, job("full", 2, "ok", "ok").results),
        ("none", 1, job("none", 1, "ok", "error").results)]


def test_journal_ignores_a_torn_last_line_and_incomplete_jobs(tmp_path):
    path = tmp_path / "c.journal"
    journal = Journal(str(path), HEADER)
    journal.start()
    journal.append(job("none", 1, "ok", "ok"))
    with open(path, "a") as handle:
        handle.write(json.dumps({"mode": "none", "repeat": 2, "results": [["a", "ok", "", []]]})
                     + "\n")  # only one of two scenarios: not a finished job
        handle.write('{"mode": "full", "repeat": 1, "resu')  # killed mid-write
    assert [(j.mode, j.repeat) for j in journal.load()] == [("none", 1)]


def test_journal_from_another_selection_or_version_is_ignored(tmp_path):
    path = str(tmp_path / "c.journal")
    Journal(path, HEADER).start([job("none", 1, "ok", "ok")])
    assert Journal(path, dict(HEADER, names=["a"])).load() == []
    assert Journal(path, dict(HEADER, torch="2.0")).load() == []
    assert Journal(str(tmp_path / "missing"), HEADER).load() == []


def test_build_rows_do_not_depend_on_job_order():
    a, b = job("none", 1, "ok", "timeout"), job("full", 1, "error", "ok")
    meta = schema.cell_meta(**{c: "x" for c in schema.META_COLUMNS})
    rows = build_rows([b, a], ["a", "b"], ["none", "full"], meta)
    assert rows == build_rows([a, b], ["a", "b"], ["none", "full"], meta)
    assert [(r.seeding, r.scenario, r.metric, r.status) for r in rows] == [
        ("none", "a", "status", "ok"), ("none", "a", "m", "ok"),
        ("none", "b", "status", "timeout"),
        ("full", "a", "status", "error"),
        ("full", "b", "status", "ok"), ("full", "b", "m", "ok")]
    schema.rows_to_csv_text(rows)  # every column filled, none extra
