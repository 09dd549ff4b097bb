"""Done when (issue 16): a lock made as if before the newest release, once refreshed, adds
that pair as a cell; the next incremental run executes only that cell, reuses every
other cell's results, and its headline compares it with the previous newest.

The index is the recorded one of tests/test_lock.py (the newest pair dropped for the
lock "before"); the cells' rows are hand-made, their keys real.
"""
from __future__ import annotations

import json
from pathlib import Path

from _rngdrift.harness.runs import ci, resultkey, reuse, runoptions
from _rngdrift.harness.matrix import compat, lock
from _rngdrift.harness.results import headline, platforms
from _rngdrift.harness.cell import environment
from _rngdrift.harness.results.frames import load
from resultrows import everywhere, write_freeze, write_run
from test_lock import RecordedIndex

NEWEST = "py3.11-torch2.15.0-tv0.29.2"
PREVIOUS_NEWEST = "py3.10-torch2.14.1-tv0.29.1"
OPTIONS = ["--only", "pairs.*", "--repeats", "2"]


def night(run: Path, cells: list[compat.Cell], platform: str, dropout: dict | None = None):
    """A night's cells as the matrix writes them (rows, and a freeze file with the key)."""
    args = runoptions.parse(OPTIONS, run.name)
    rows = []
    for cell in cells:
        rows += everywhere(cell.id, "pairs.hflip", {"pair_consistency": 1.0},
                           seedings=("all",), run_id=run.name)
        rows += everywhere(cell.id, "streams.dropout",
                           {"values": (dropout or {}).get(cell.id, "d0")}, seedings=("all",),
                           run_id=run.name)
    write_run(run, rows)
    for cell in cells:
        notes = resultkey.key_for(cell, args, platform).header()
        write_freeze(run, cell.id, notes)


def test_a_new_release_costs_one_cell_and_leads_the_headline(tmp_path, capsys):
    platform = platforms.this_class()
    lock_path = tmp_path / "matrix.lock.json"
    assert lock.main(["--out", str(lock_path)],
                     fetch=RecordedIndex(drop_versions={"2.15.0", "0.29.2"})) == 0
    before, _ = compat.default_cells(json.loads(lock_path.read_text()))
    assert before[-1].id == PREVIOUS_NEWEST and NEWEST not in [c.id for c in before]
    night(tmp_path / "results" / "night-1", before, platform)

    # the refresh: the new pair joins the default matrix, the previous newest leaves it
    capsys.readouterr()
    assert lock.main(["--out", str(lock_path)], fetch=RecordedIndex()) == 0
    assert f"added {NEWEST}" in capsys.readouterr().out
    after, _ = compat.default_cells(json.loads(lock_path.read_text()))
    assert after[-1].id == NEWEST

    # the plan: only the new cell runs, every other cell is reused
    previous = tmp_path / "results" / "night-1"
    args = runoptions.parse([*OPTIONS, "--reuse-from", str(previous)], "night-2")
    decisions = reuse.plan(after, args, platform)
    assert [d.cell for d in decisions if not d.reused] == [NEWEST]
    assert {d.reason for d in decisions if not d.reused} == {"new cell: not in night-1"}
    assert len([d for d in decisions if d.reused]) == len(after) - 1
    # the CI plan gives the new cell the only job
    include = [{"session": f"matrix({c.id})", "cell": c.id, "python": c.python} for c in after]
    jobs, _ = ci.plan_jobs(include, OPTIONS, previous)
    assert [j["cell"] for j in jobs] == [NEWEST]

    # the night: the new cell runs (its dropout differs), the rest are copied
    run = tmp_path / "results" / "night-2"
    night(run, [after[-1]], platform, dropout={NEWEST: "d1"})
    new_decision = next(d for d in decisions if not d.reused)
    reuse.record_reason(run, new_decision.to_json())
    for decision in decisions:
        if decision.reused:
            reuse.adopt(decision, run)
    loaded = load(run)
    frame = loaded.frame
    assert set(frame["cell"]) == {c.id for c in after}
    assert set(frame[frame["cell"] != NEWEST]["run_id"]) == {"night-1"}  # measured last night
    line = headline.for_run(run, loaded)
    assert line == (f"**torch 2.15.0 (new, `{NEWEST}`) against the previous newest, torch 2.14.1 "
                    f"(`{PREVIOUS_NEWEST}`):** values changed in 1 scenario "
                    "(`streams.dropout`).")
    assert reuse.describe(run) == [
        f"Reused, not run again (result key unchanged): {len(after) - 1} cell(s) from "
        f"`night-1`. Ran: `{NEWEST}` (new cell: not in night-1)."]

    # the night after, nothing new: nothing runs
    again = reuse.plan(after, runoptions.parse([*OPTIONS, "--reuse-from", str(run)], "n3"),
                       platform)
    assert all(d.reused for d in again)
