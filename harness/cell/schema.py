"""The CSV schema: the one contract between the cell side and the host side.

Long format, one value per row. Both sides import this module (standard library
only, Python 3.7+), so the columns, kinds, statuses, seeding-mode names and the
row factory live here and nowhere else:

    meta = cell_meta(run_id=..., cell=..., python=..., ...)   # what every row of a cell shares
    status_row(meta, "pairs.hflip", "python", 1, OK)           # one per scenario run
    metric_row(meta, "pairs.hflip", "python", 1, "pair_consistency", NUMBER, "1.0")
    cell_row(meta, CELL_INSTALL, "install failed: ...")        # a whole cell failed

A row is a ``Row``: a named tuple whose fields are the CSV columns, all text.
"""
import csv
import io
import os
from collections import namedtuple

SCHEMA_VERSION = "1"

COLUMNS = (
    "schema_version", "run_id", "cell", "python", "torch", "torchvision",
    "numpy", "pillow", "platform", "device", "scenario", "seeding", "repeat",
    "metric", "kind", "value", "status", "detail",
)
# The columns every row of one cell shares (the first ten).
META_COLUMNS = COLUMNS[:COLUMNS.index("scenario")]

Row = namedtuple("Row", COLUMNS)
CellMeta = namedtuple("CellMeta", META_COLUMNS)

# fingerprint: exact comparison; number: compared with a tolerance;
# count: exact integer; text: exact string; timing: wall seconds, never compared.
FINGERPRINT, NUMBER, COUNT, TEXT, TIMING = "fingerprint", "number", "count", "text", "timing"
KINDS = (FINGERPRINT, NUMBER, COUNT, TEXT, TIMING)

# ok; n/a (the version lacks what the scenario needs); error; timeout.
OK, NA, ERROR, TIMEOUT = "ok", "n/a", "error", "timeout"
STATUSES = (OK, NA, ERROR, TIMEOUT)

# Every scenario run yields one row with this metric; its ``status`` column says
# whether the scenario ran (ok) or why not (n/a, error, timeout) and ``detail``
# carries the reason. Metric rows exist only for ok runs.
STATUS_METRIC = "status"
TIMING_METRIC = "seconds"
# Attribution rows: ``rng.<generator>`` (1 when that generator advanced) and
# ``rng.calls.<api>`` (how often the scenario called a random API).
RNG_PREFIX = "rng."
CALLS_PREFIX = "rng.calls."

# Pseudo scenarios of a whole cell: no seeding, no repeat, only a status row.
CELL_LEVEL = "cell."
CELL_INSTALL = CELL_LEVEL + "install"          # the pins could not be installed
CELL_INTERPRETER = CELL_LEVEL + "interpreter"  # the cell's Python is missing
CELL_MISSING = CELL_LEVEL + "missing"          # a CI job sent nothing back

# Key of a row: unique within a run.
KEY = ("cell", "scenario", "seeding", "repeat", "metric")

# The seeding modes, weakest first, and the global generators each one seeds.
# Host and cell read them here; harness.cell.seeding applies them.
MODES = ("none", "python", "torch", "all", "full")
SEEDED = {
    "none": (),
    "python": ("python", "numpy"),
    "torch": ("torch",),
    "all": ("python", "numpy", "torch", "cuda"),
    "full": ("python", "numpy", "torch", "cuda"),
}


def cell_meta(**values):
    """A CellMeta from keyword arguments (schema_version filled in); every value text."""
    values.setdefault("schema_version", SCHEMA_VERSION)
    return CellMeta(**dict((k, str(v)) for k, v in values.items()))


def make_row(meta, scenario, seeding, repeat, metric, kind, value, status, detail):
    """The one row factory: every row of every CSV is built here."""
    return Row(*(tuple(meta) + (scenario, seeding, str(repeat), metric, kind, str(value),
                                status, detail)))


def status_row(meta, scenario, seeding, repeat, status, detail=""):
    return make_row(meta, scenario, seeding, repeat, STATUS_METRIC, TEXT, status, status, detail)


def metric_row(meta, scenario, seeding, repeat, metric, kind, value):
    return make_row(meta, scenario, seeding, repeat, metric, kind, value, OK, "")


def cell_row(meta, scenario, detail):
    """The error row of a cell that failed as a whole (``CELL_INSTALL`` ...)."""
    return make_row(meta, scenario, "", "", STATUS_METRIC, TEXT, ERROR, ERROR, detail)


def rows_to_csv_text(rows):
    """Render rows (``Row`` tuples) as CSV text with the header."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        if not isinstance(row, Row):
            raise ValueError("not a schema Row: %r" % (row,))
        writer.writerow(row)
    return buf.getvalue()


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A crash leaves either the old file or the new one, never half a file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_csv(path, rows):
    write_atomic(path, rows_to_csv_text(rows))


def read_csv(path):
    """``Row`` tuples of a CSV written by ``write_csv`` (no validation: see harness.results)."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return []
        if tuple(header) != COLUMNS:
            raise ValueError("%s: not a rngdrift results CSV (header %r)" % (path, header))
        rows = []
        for fields in reader:
            if len(fields) != len(COLUMNS):
                raise ValueError("%s:%d: %d fields, expected %d"
                                 % (path, reader.line_num, len(fields), len(COLUMNS)))
            rows.append(Row(*fields))
        return rows
