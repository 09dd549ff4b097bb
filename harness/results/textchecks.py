"""What a results file's text may hold, checked as it is read (``resultfiles.validate``):
names and ids by their grammar, versions as versions, and free text made printable.
A hand edit cannot put markup, a formula, a control character or a bidi override into
a report through a results file."""
from __future__ import annotations

import re

from ..cell import schema
from ..cell.safetext import visible
from ..matrix import compat

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)  # rundirs' grammar
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]*", re.ASCII)
VERSION_COLUMNS = ("python", "torch", "torchvision", "numpy", "pillow")
FREE_TEXT = ("platform", "device", "value", "detail")


def first_bad_name(table) -> tuple[int, str] | None:
    """Names and ids as they are born (a hand edit cannot put markup, a formula, a control
    character or a bidi override into a report through them): run ids and cell ids by
    their grammar, scenario and metric names by the rules of ``schema.name_problem``
    (rngdrift's own names allowed), versions as versions. Each value is judged once.
    (index of the first bad row, what is wrong with it), or None."""
    checks = [("run_id", lambda v: not _RUN_ID.fullmatch(v),
               lambda v: f"run_id {visible(v)!r} is not a run id (letters, digits, '.', '_' or "
                         "'-'); hand-edited?"),
              ("cell", lambda v: compat.parse_id(v) is None,
               lambda v: f"cell {visible(v)!r} is not a cell id like py3.8-torch1.5.0-tv0.6.0; "
                         "hand-edited?")]
    for column in ("scenario", "metric"):
        checks.append((column, lambda v: v and schema.name_problem(v, "name"),
                       lambda v, c=column: f"{c} {visible(schema.name_problem(v, 'name'))}; "
                                           "hand-edited?"))
    for column in VERSION_COLUMNS:
        checks.append((column, lambda v: v and not _VERSION.fullmatch(v),
                       lambda v, c=column: f"{c} {visible(v)!r} is not a version; hand-edited?"))
    for column, bad, say in checks:
        values = table.column(column)
        wrong = {v for v in set(values) if bad(v)}
        if wrong:
            i = next(i for i, v in enumerate(values) if v in wrong)
            return i, say(values[i])
    return None


def printable_columns(table) -> tuple | None:
    """The table's columns with every other text field's non-printable characters (NUL,
    escape sequences, line separators, bidi overrides) as their escapes (``safetext``),
    or None when all are printable: what a CSV says stays readable and cannot act on a
    terminal, a page or a spreadsheet."""
    columns = list(table.columns)
    for name in FREE_TEXT:
        values = table.column(name)
        shown = {v: visible(v) for v in set(values) if not v.isprintable()}
        if shown:
            columns[schema.COLUMNS.index(name)] = tuple(shown.get(v, v) for v in values)
    return tuple(columns) if columns != list(table.columns) else None
