import os

import pytest

from _rngdrift.harness.cell import schema


def _row(**over):
    meta = schema.cell_meta(**dict({c: "" for c in schema.META_COLUMNS if c != "schema_version"}, cell="c"))
    return schema.metric_row(meta, "s", "none", 1, "m", "number", "1.0")._replace(**over)


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
    assert schema.read_csv(str(path))[0].value == "2.0"
    assert os.listdir(tmp_path) == ["c.csv"]


def test_only_schema_rows_are_written():
    with pytest.raises(ValueError, match="not a schema Row"):
        schema.rows_to_csv_text([dict(_row()._asdict(), extra="x")])


def test_every_row_comes_from_the_one_factory():
    meta = schema.cell_meta(**{c: "x" for c in schema.META_COLUMNS})
    status = schema.status_row(meta, "pairs.hflip", "python", 2, "n/a", "needs torch>=1.6")
    assert (status.metric, status.kind, status.value, status.status, status.repeat) == (
        schema.STATUS_METRIC, schema.TEXT, "n/a", "n/a", "2")
    failed = schema.cell_row(meta, schema.CELL_INSTALL, "install failed")
    assert (failed.seeding, failed.repeat, failed.status) == ("", "", schema.ERROR)
    assert status._fields == schema.COLUMNS
