"""The CSV schema: the one contract between the cell side and the host side.

Long format, one value per row. Both sides import this module, so the column
list, kinds and statuses live here and nowhere else.
"""
import csv
import io
import os

SCHEMA_VERSION = "1"

COLUMNS = (
    "schema_version", "run_id", "cell", "python", "torch", "torchvision",
    "numpy", "pillow", "platform", "device", "scenario", "seeding", "repeat",
    "metric", "kind", "value", "status", "detail",
)

# fingerprint: exact comparison; number: compared with a tolerance;
# count: exact integer; text: exact string; timing: wall seconds, never compared.
KINDS = ("fingerprint", "number", "count", "text", "timing")
STATUSES = ("ok", "n/a", "error", "timeout")

# Every scenario run yields one row with this metric; its ``status`` column says
# whether the scenario ran (ok) or why not (n/a, error, timeout) and ``detail``
# carries the reason. Metric rows exist only for ok runs.
STATUS_METRIC = "status"
TIMING_METRIC = "seconds"

# Key of a row: unique within a run.
KEY = ("cell", "scenario", "seeding", "repeat", "metric")


def rows_to_csv_text(rows):
    """Render rows (dicts keyed by COLUMNS) as CSV text with the header."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n",
                            extrasaction="raise")
    writer.writeheader()
    for row in rows:
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
    """Read a cell CSV written by ``write_csv`` (no validation: see harness.schema)."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
