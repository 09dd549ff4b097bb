import os

from harness.cell import schema


def _row(**over):
    row = dict.fromkeys(schema.COLUMNS, "")
    row.update(schema_version=schema.SCHEMA_VERSION, cell="c", scenario="s", seeding="none",
               repeat="1", metric="m", kind="number", value="1.0", status="ok")
    row.update(over)
    return row


def test_round_trip_keeps_every_column_and_quotes(tmp_path):
    path = tmp_path / "cells" / "c.csv"
    rows = [_row(detail='comma, "quote" and\nnewline'), _row(metric="n", value="0.5")]
    schema.write_csv(str(path), rows)
    assert schema.read_csv(str(path)) == rows
    assert path.read_text().splitlines()[0] == ",".join(schema.COLUMNS)


def test_write_is_atomic_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "c.csv"
    schema.write_csv(str(path), [_row()])
    schema.write_csv(str(path), [_row(value="2.0")])
    assert schema.read_csv(str(path))[0]["value"] == "2.0"
    assert os.listdir(tmp_path) == ["c.csv"]


def test_unknown_column_is_refused(tmp_path):
    row = _row()
    row["extra"] = "x"
    try:
        schema.rows_to_csv_text([row])
    except ValueError:
        return
    raise AssertionError("a row with an unknown column was written")
