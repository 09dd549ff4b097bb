"""harness.results: strict reading, validation, merging, folding repeats."""
import csv
import io
import os

import pytest

from _rngdrift.harness.results import frames
from _rngdrift.harness.cell import schema
from _rngdrift.harness.errors import UserError
from _rngdrift.harness.results.frames import Tolerance
from resultrows import NEW, OLD, TV07, everywhere, install_failure, rows, write_run


def _run(tmp_path, extra=()):
    all_rows = (everywhere(OLD, "pairs.hflip", {"pair_consistency": 1.0, "rng.python": 1})
                + everywhere(NEW, "pairs.hflip", {"pair_consistency": 0.5, "rng.torch": 1})
                + list(extra))
    return write_run(tmp_path / "run", all_rows)


def _rewrite(path, edit):
    """Apply ``edit`` to the list of CSV rows (header first) of ``path``."""
    table = list(csv.reader(io.StringIO(path.read_text())))
    table = edit(table) or table
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(table)
    path.write_text(buf.getvalue())


def _col(name):
    return schema.COLUMNS.index(name)


def _error(run):
    with pytest.raises(UserError) as info:
        frames.load_run(run)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_valid_run_merges_oldest_cell_first(tmp_path):
    run = _run(tmp_path)
    loaded = frames.load_run(run)
    assert list(loaded.frame["cell"].unique()) == [OLD, NEW]  # file names sort NEW first
    assert list(loaded.frame.columns) == list(schema.COLUMNS)
    assert loaded.notes == [] and loaded.interrupted == []
    assert frames.merge(run).equals(loaded.frame)


def test_seeding_modes_come_from_the_cell_side():
    assert frames.SEEDING_MODES == schema.MODES
    assert {"none", "python", "torch", "all", "full"} <= set(frames.SEEDING_MODES)


@pytest.mark.parametrize("make, problem", [
    (lambda p: p, "no such run directory"),
    (lambda p: p.mkdir() or p, "no cells/ directory"),
    (lambda p: (p / "cells").mkdir(parents=True) or p, "no cell CSVs"),
])
def test_missing_or_empty_directories(tmp_path, make, problem):
    run = make(tmp_path / "run")
    assert problem in _error(run)


def test_a_truncated_file_is_an_error_naming_it(tmp_path):
    run = _run(tmp_path)
    path = run / "cells" / f"{NEW}.csv"
    path.write_text(path.read_text()[:-40])
    message = _error(run)
    assert str(path) in message and "truncated" in message


def test_a_row_with_missing_fields(tmp_path):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"
    _rewrite(path, lambda t: t[:3] + [t[3][:-2]] + t[4:])
    message = _error(run)
    assert f"{path}:4:" in message and "16 fields, expected 18" in message


@pytest.mark.parametrize("content, problem", [
    ("", "empty file"),
    (",".join(schema.COLUMNS) + "\n", "header but no rows"),
    ("a,b,c\n1,2,3\n", "header is not the schema's columns"),
])
def test_empty_header_only_and_foreign_csv(tmp_path, content, problem):
    run = _run(tmp_path)
    (run / "cells" / f"{OLD}.csv").write_text(content)
    assert problem in _error(run)


def test_not_utf8(tmp_path):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"
    path.write_bytes(path.read_bytes().replace(b"pairs.hflip", b"pairs.\xff", 1))
    assert "not UTF-8" in _error(run)


@pytest.mark.parametrize("column, value, problem", [
    ("schema_version", "2", "schema_version '2'"),
    ("kind", "fingerprnt", "kind 'fingerprnt' is not one of"),
    ("status", "broken", "status 'broken' is not one of"),
    ("seeding", "sometimes", "seeding 'sometimes' is not one of"),
    ("repeat", "0", "repeat '0' is not a positive integer"),
    ("cell", "", "empty cell"),
])
def test_hand_edited_fields(tmp_path, column, value, problem):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"

    def edit(table):
        table[2][_col(column)] = value
    _rewrite(path, edit)
    message = _error(run)
    assert message.startswith(f"{path}:3: ") and problem in message


@pytest.mark.parametrize("metric, value, problem", [
    ("pair_consistency", "one", "is not a number"),
    ("rng.python", "1.5", "is not an integer"),
])
def test_non_numeric_numbers_and_counts(tmp_path, metric, value, problem):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"

    def edit(table):
        for row in table:
            if row[_col("metric")] == metric:
                row[_col("value")] = value
                return
    _rewrite(path, edit)
    assert problem in _error(run)


def test_status_row_and_metric_rows_must_agree(tmp_path):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"

    def edit(table):
        table[1][_col("status")] = "error"   # status row: value ok, status error
    _rewrite(path, edit)
    assert "status row says value 'ok' but status 'error'" in _error(run)


def test_metric_rows_without_their_status_row(tmp_path):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"
    _rewrite(path, lambda t: t[:2] + t[3:])  # drop the first status row (after the manifest)
    assert "has no 'status' row" in _error(run)


def test_duplicated_key_in_one_file_names_both_lines(tmp_path):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"
    _rewrite(path, lambda t: t + [t[2]])
    message = _error(run)
    assert "duplicated key" in message and "also at line 3" in message


def test_the_same_cell_in_two_files(tmp_path):
    run = _run(tmp_path)
    (run / "cells" / "copy.csv").write_text((run / "cells" / f"{OLD}.csv").read_text())
    message = _error(run)
    assert "duplicated key" in message and "copy.csv" in message


def test_two_cells_in_one_cell_file(tmp_path):
    run = _run(tmp_path)
    path = run / "cells" / f"{OLD}.csv"
    _rewrite(path, lambda t: t + [[*r[:2], TV07, *r[3:]] for r in t[1:]])
    assert "holds 2 cells" in _error(run)


def test_stray_temp_and_other_files_are_ignored_with_a_note(tmp_path):
    run = _run(tmp_path)
    cells = run / "cells"
    (cells / f"{NEW}.csv.tmp-1234").write_text("schema_version,run_id\n1,")
    (cells / "notes.txt").write_text("hello")
    (cells / f"{OLD}.freeze.txt").write_text("torch==1.5.0\n")
    (cells / f"{TV07}.log").write_text("=== child ...")   # started, never wrote its CSV
    loaded = frames.load_run(run)
    assert set(loaded.frame["cell"]) == {OLD, NEW}
    assert loaded.interrupted == [TV07]
    text = "\n".join(loaded.notes)
    assert "tmp-1234: leftover temporary file" in text
    assert "notes.txt: not a cell CSV" in text
    assert f"{TV07}: log but no CSV" in text


def test_a_run_without_cells_is_read_through_its_matrix(tmp_path):
    run = _run(tmp_path)
    frame = frames.load_run(run).frame
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    (baseline / "matrix.csv").write_text(frame.to_csv(index=False, lineterminator="\n"))
    assert frames.load_run(baseline).frame.equals(frame)
    assert frames.load(baseline / "matrix.csv").frame.equals(frame)


def test_prefer_matrix_notes_cell_csvs_newer_than_it(tmp_path):
    run = _run(tmp_path)
    (run / "matrix.csv").write_text(frames.load_run(run).frame.to_csv(index=False))
    old = (run / "matrix.csv").stat().st_mtime - 100
    os.utime(run / "matrix.csv", (old, old))
    loaded = frames.load(run, prefer_matrix=True)
    assert loaded.source == run / "matrix.csv"
    assert any("older than" in note for note in loaded.notes)


@pytest.mark.parametrize("kind, a, b, equal", [
    ("number", "1.0", "1.0000001", True),     # rtol 1e-6
    ("number", "1.0", "1.00001", False),
    ("number", "0.0", "1e-10", True),         # atol 1e-9
    ("number", "nan", "nan", True),
    ("number", "inf", "1e300", False),
    ("count", "3", "3", True),
    ("count", "3", "4", False),
    ("fingerprint", "abc", "abd", False),
    ("text", "a", "a", True),
])
def test_same(kind, a, b, equal):
    """Values are compared parsed (as ``schema.parse_value`` reads them from a file)."""
    a, b = schema.parse_value(kind, a), schema.parse_value(kind, b)
    assert frames.same(kind, a, b, Tolerance()) is equal


def test_tolerance_is_configurable():
    assert frames.same("number", 1.0, 1.01, Tolerance(atol=0.05))
    assert frames.same("number", 100.0, 101.0, Tolerance(rtol=0.02))


def test_values_are_parsed_once_when_the_file_is_read(tmp_path):
    loaded = frames.load_run(_run(tmp_path))
    by_metric = {r.metric: v for r, v in zip(loaded.rows, loaded.table.values)}
    assert by_metric["pair_consistency"] in (1.0, 0.5) and isinstance(by_metric["rng.python"], int)
    assert isinstance(by_metric["seconds"], float) and by_metric["status"] == "ok"


def test_expand_gives_a_failed_scenario_every_metric_of_its_scenario(tmp_path):
    loaded = frames.load_run(write_run(tmp_path / "run", (
        everywhere(OLD, "s", {"a": 1.0, "b": "fp1"})
        + everywhere(NEW, "s", None, status="timeout", detail="no result after 120s"))))
    expanded = frames.expand(loaded, Tolerance())
    new = {key[3]: seen for key, (_, seen) in expanded.items() if key[0] == NEW}
    assert sorted(new) == ["a", "b"]
    assert {seen.state for seen in new.values()} == {"timeout"}
    assert {seen.detail for seen in new.values()} == {"no result after 120s"}


def test_expand_makes_a_failed_install_a_hole_of_errors(tmp_path):
    loaded = frames.load_run(write_run(tmp_path / "run", (
        everywhere(OLD, "s", {"a": 1.0}, seedings=("none", "python")) + install_failure(NEW))))
    expanded = frames.expand(loaded, Tolerance())
    hole = [seen for key, (_, seen) in expanded.items() if key[0] == NEW]
    assert len(hole) == 2 and {seen.state for seen in hole} == {"error"}
    assert all("install failed" in seen.detail for seen in hole)


def test_expand_counts_an_unreported_api_as_zero_calls_and_a_missing_repeat_as_disagreement(
        tmp_path):
    loaded = frames.load_run(write_run(tmp_path / "run", (
        rows(OLD, "s", repeat=1, metrics={"a": 1.0, "rng.calls.random.random": 4})
        + rows(OLD, "s", repeat=2, metrics={"rng.calls.random.random": 4}))))
    expanded = {key[3]: seen for key, (_, seen) in frames.expand(loaded, Tolerance()).items()}
    assert expanded["rng.calls.random.random"].values == (4,)
    assert expanded["a"].values == (1.0, frames.MISSING)


def test_the_fast_reader_and_the_careful_one_agree(tmp_path):
    """A well-formed file is split all at once; quoted fields (commas, quotes) on their own
    line are read by the csv module; a field holding a line break sends the whole file
    through the careful reader. All three give the same rows."""
    from _rngdrift.harness.results import resultfiles
    base = everywhere(OLD, "s", {"a": 1.0, "b": "fp"}, status="ok")
    base += everywhere(OLD, "t", None, status="error", detail='RuntimeError: "x", y')
    run = write_run(tmp_path / "run", base)
    path = run / "cells" / f"{OLD}.csv"
    text = path.read_text()
    assert resultfiles._columns(text) is not None
    header, fields, _ = resultfiles._parse(path, text)
    assert [list(c) for c in zip(*fields)] == resultfiles._columns(text)
    broken = everywhere(OLD, "u", None, status="error", detail="line one\nline two")
    run2 = write_run(tmp_path / "run2", base + broken)
    text2 = (run2 / "cells" / f"{OLD}.csv").read_text()
    assert resultfiles._columns(text2) is None
    rows = frames.load_run(run2).rows
    # read whole by the careful reader, then shown with its line break escaped (safetext)
    assert any(r.detail == "line one\\nline two" for r in rows)
