"""harness.headline: the new newest cell against the previous run's newest."""
from __future__ import annotations

from _rngdrift.harness.results import headline
from _rngdrift.harness.runs import reuse
from _rngdrift.harness.results.frames import Loaded, load
from resultrows import NEW, OLD, TV07, TV08, everywhere, install_failure, write_run

NEWER = "py3.11-torch2.16.0-tv0.30.0"


def frame(rows):
    return Loaded.of_rows(rows)


def cell_rows(cell, hflip=1.0, dropout="aaaa", extra=(), run_id="t"):
    rows = everywhere(cell, "pairs.hflip", {"pair_consistency": hflip}, run_id=run_id)
    rows += everywhere(cell, "streams.dropout", {"values": dropout}, seedings=("torch",),
                       run_id=run_id)
    for scenario in extra:
        rows += everywhere(cell, scenario, {"x": 1}, run_id=run_id)
    return rows


def test_a_new_newest_cell_is_compared_with_the_previous_newest():
    previous = frame(cell_rows(OLD) + cell_rows(NEW))
    candidate = frame(cell_rows(OLD) + cell_rows(NEWER, hflip=0.5, extra=["new.thing"]))
    line = headline.newest_against_previous(candidate, previous)
    assert line.startswith(f"**torch 2.16.0 (new, `{NEWER}`) against the previous newest, "
                           f"torch 2.15.0 (`{NEW}`):**")
    assert "values changed in 1 scenario (`pairs.hflip`)" in line
    assert "1 scenario run only here (`new.thing`)" in line
    assert "streams.dropout" not in line


def test_nothing_changed_says_so():
    line = headline.newest_against_previous(frame(cell_rows(NEWER)), frame(cell_rows(NEW)))
    assert line.endswith(":** no value changed.")


def test_no_headline_when_the_newest_is_not_new_or_not_newer():
    runs = frame(cell_rows(OLD) + cell_rows(NEW))
    assert headline.newest_against_previous(runs, runs) is None
    older_new = frame(cell_rows(TV07))  # a new cell, but older than the previous newest
    assert headline.newest_against_previous(older_new, runs) is None
    assert headline.newest_against_previous(runs, None) is None


def test_a_failed_new_cell_is_named():
    candidate = frame(install_failure(NEWER))
    line = headline.newest_against_previous(candidate, frame(cell_rows(NEW)))
    assert f"`{NEWER}` failed as a whole" in line


def test_platform_dependent_differences_between_two_cpu_classes_are_set_apart():
    old = [r._replace(platform="Linux x86_64; cpu=Intel(R) Xeon(R)") for r in cell_rows(NEW)]
    new = [r._replace(platform="Linux x86_64; cpu=AMD EPYC") for r in cell_rows(NEWER,
                                                                               dropout="bbbb")]
    line = headline.newest_against_previous(frame(new), frame(old))
    assert "1 more scenario differ as the two CPU classes do (`streams.dropout`)" in line
    assert "values changed" not in line


def test_for_run_finds_the_previous_run_through_the_plan(tmp_path):
    previous = write_run(tmp_path / "night-41", cell_rows(OLD, run_id="night-41")
                         + cell_rows(TV08, run_id="night-41"))
    run = write_run(tmp_path / "night-42", cell_rows(NEW, hflip=0.5, run_id="night-42"))
    record = reuse.PLAN_LINE + '{"action": "run", "previous": "%s", "reason": "new cell"}' \
        % previous
    (run / "cells" / f"{NEW}.freeze.txt").write_text(record + "\n")
    line = headline.for_run(run, load(run))
    assert line.startswith(f"**torch 2.15.0 (new, `{NEW}`) against the previous newest, "
                           f"torch 1.7.1 (`{TV08}`)")
    notes = headline.run_notes(run, load(run))
    assert notes[0] == line and any(n.startswith("CPU classes: ") for n in notes)
    (run / "cells" / f"{NEW}.freeze.txt").write_text("numpy==1.24.4\n")
    assert headline.for_run(run, load(run)) is None  # no plan: no previous run known
