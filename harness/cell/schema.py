"""The CSV schema: the one contract between the cell side and the host side.

Long format, one value per row. Both sides import this module (standard library
only, Python 3.7+), so the columns, kinds, statuses and the row factory live here
and nowhere else (the seeding modes: ``modes``):

    meta = cell_meta(run_id=..., cell=..., python=..., ...)   # what every row of a cell shares
    status_row(meta, "pairs.hflip", "python", 1, OK)           # one per scenario run
    metric_row(meta, "pairs.hflip", "python", 1, "pair_consistency", NUMBER, "1.0")
    cell_row(meta, CELL_INSTALL, "install failed: ...")        # a whole cell failed

A row is a ``Row``: a named tuple whose fields are the CSV columns, all text.
"""
import csv
import io
import os
import tempfile
import unicodedata
from collections import namedtuple

from . import modes

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

# The value kinds: how a value is written, read back and compared.
FINGERPRINT, NUMBER, COUNT, TEXT, TIMING = "fingerprint", "number", "count", "text", "timing"


class Kind(namedtuple("Kind", "name parse compared")):
    """A value kind. ``parse``: the text of a row to its value (ValueError when it is
    not one); ``compared``: "exact", "tolerance" (numbers within atol/rtol) or "never"."""
    __slots__ = ()


def _count(text):
    if not text or not (text.isdigit() or (text[0] == "-" and text[1:].isdigit())):
        raise ValueError(text)
    return int(text)


def _number(text):
    return float(text)


VALUE_KINDS = (
    Kind(FINGERPRINT, str, "exact"),     # sha256 of canonical bytes: equal or not
    Kind(NUMBER, _number, "tolerance"),  # a float: equal within the tolerance
    Kind(COUNT, _count, "exact"),        # an integer
    Kind(TEXT, str, "exact"),            # a string
    Kind(TIMING, _number, "never"),      # wall seconds: never compared
)
KIND = dict((k.name, k) for k in VALUE_KINDS)
KINDS = tuple(k.name for k in VALUE_KINDS)


def parse_value(kind, text):
    """A row's value as its kind reads it: a float (number, timing), an int (count) or
    the text itself; ValueError when the text is not one."""
    return KIND[kind].parse(text)

# ok; n/a (the version lacks what the scenario needs); error; timeout.
OK, NA, ERROR, TIMEOUT = "ok", "n/a", "error", "timeout"


class Status(namedtuple("Status", "name failed label")):
    """A scenario run's status: ``failed`` (it raised or hung: a run that did not give
    its results, as opposed to one that did not apply); ``label``: how a table shows it."""
    __slots__ = ()


STATUS_RECORDS = (Status(OK, False, "ok"), Status(NA, False, "n/a"),
                  Status(ERROR, True, "err"), Status(TIMEOUT, True, "timeout"))
STATUS = dict((s.name, s) for s in STATUS_RECORDS)
STATUSES = tuple(s.name for s in STATUS_RECORDS)
FAILED = tuple(s.name for s in STATUS_RECORDS if s.failed)

# Every scenario run yields one row with this metric; its ``status`` column says
# whether the scenario ran (ok) or why not (n/a, error, timeout) and ``detail``
# carries the reason. Metric rows exist only for ok runs.
STATUS_METRIC = "status"
TIMING_METRIC = "seconds"
# Attribution rows: ``rng.<generator>`` (1 when that generator advanced) and
# ``rng.calls.<api>`` (how often the scenario called a random API).
RNG_PREFIX = "rng."
CALLS_PREFIX = "rng.calls."
# ``rng.generator.<api>`` (text): which generator a random API drew from where the
# scenario called it: ``global``, ``own`` (a torch.Generator, np.random.Generator or
# random.Random instance passed or used) or ``global+own``; the same for DataLoader
# workers (``rng.worker.generator.<api>``) and other processes (``rng.process.``).
GENERATOR_PREFIXES = ("rng.generator.", "rng.worker.generator.", "rng.process.generator.")
GENERATOR_PREFIX = GENERATOR_PREFIXES[0]
GLOBAL, OWN = "global", "own"
GENERATOR_USES = (GLOBAL, OWN, GLOBAL + "+" + OWN)  # the global generator, the program's own, both
# ``goal.<metric>`` (text "up"/"down"): a scenario's declaration that <metric>
# measures correctness and which way is good (``@scenario(goals=...)``).
GOAL_PREFIX = "goal."
GOALS = ("up", "down")
# Which parts of the harness's own seeding recipe (``full``'s DataLoader worker_init_fn,
# generator) a scenario was handed: they differ between torch versions.
RECIPE_METRIC = "rng.recipe"

# Pseudo scenarios of a whole cell: no seeding, no repeat, only a status row.
CELL_LEVEL = "cell."
CELL_INSTALL = CELL_LEVEL + "install"          # the pins could not be installed
CELL_INTERPRETER = CELL_LEVEL + "interpreter"  # the cell's Python is missing
CELL_MISSING = CELL_LEVEL + "missing"          # a CI job sent nothing back

# The first row of every cell CSV says how many rows follow it, so a file cut at a
# line end is told from a complete one (a CSV without it is from an older rngdrift).
CELL_MANIFEST = CELL_LEVEL + "manifest"
MANIFEST_DETAIL = "rows=%d"

# Key of a row: unique within a run.
KEY = ("cell", "scenario", "seeding", "repeat", "metric")

# Code identity of a user scenario: a hash over the user's files it runs (codeid.py).
# ``source.sha256`` (the defining file alone) is what older runs wrote. Neither is a
# result: reports leave them out, compare has a category of its own for them.
CODE_METRIC = "code.sha256"
SOURCE_METRIC = "source.sha256"
CODE_METRICS = (CODE_METRIC, SOURCE_METRIC)

# Metric names rngdrift writes itself: a scenario may not return them.
RESERVED_METRICS = (STATUS_METRIC, TIMING_METRIC) + CODE_METRICS
# Characters str.splitlines() splits on: a field holding one is quoted, so every
# reader agrees on where a row ends.
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A cell starting with one of these is a formula to a spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_NAME = 200

# The seeding modes are records (harness.cell.modes); rows name them. MODES: every
# name a row may carry; DEFAULT_MODES: what a cell runs unless --seeding says otherwise.
MODES = modes.NAMES
DEFAULT_MODES = modes.DEFAULT
PYTEST_PREFIX = "pytest."  # a --pytest test's scenario: pytest.<node id>
TEST_PASSED_METRIC = "passed"  # a --pytest test's one event: count 1/0, goal up
TEST_FAILURE_METRIC = "failure"  # text "KIND (FILE:LINE): MESSAGE" when passed is 0: its why, not a result


def name_problem(name, what):
    """Why ``name`` cannot be a ``what`` ("scenario" or "metric") name; None when it can.

    Names end up in every CSV, on command lines (--only, --scenario=) and in
    spreadsheets, so they are checked where they are born.
    """
    if not isinstance(name, str):
        return "a %s name must be a string, not %s" % (what, type(name).__name__)
    if not name:
        return "empty %s name" % what
    if len(name) > MAX_NAME:
        return "%s name of %d characters (at most %d)" % (what, len(name), MAX_NAME)
    if name != name.strip():
        return "%s name %r has white space around it" % (what, name)
    for char in name:
        if char in LINE_BREAKS or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            return "%s name %r holds the control character %r" % (what, name[:60], char)
    if name.startswith(FORMULA_START):
        return ("%s name %r starts with %r (an option on a command line, a formula in a "
                "spreadsheet)" % (what, name[:60], name[0]))
    if what == "scenario" and name.startswith(CELL_LEVEL):
        return "scenario name %r: '%s' names whole-cell rows" % (name[:60], CELL_LEVEL)
    if what == "scenario" and "," in name:
        return "scenario name %r holds a comma" % (name[:60],)
    if what == "metric" and (name in RESERVED_METRICS or name.startswith((RNG_PREFIX, GOAL_PREFIX))):
        return "metric name %r is rngdrift's own (%s, %s*, %s*)" % (
            name, ", ".join(RESERVED_METRICS), RNG_PREFIX, GOAL_PREFIX)
    return None


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


def manifest_row(meta, count):
    """The first row of a cell CSV: ``count`` rows follow it."""
    return make_row(meta, CELL_MANIFEST, "", "", STATUS_METRIC, TEXT, OK, OK,
                    MANIFEST_DETAIL % count)


def with_manifest(rows):
    """A cell's rows with the manifest first (the cell's meta taken from its first row)."""
    rows = [r for r in rows if r.scenario != CELL_MANIFEST]
    if not rows:
        return rows
    return [manifest_row(CellMeta(*rows[0][:len(META_COLUMNS)]), len(rows))] + rows


def rows_to_csv_text(rows):
    """Render rows (``Row`` tuples) as CSV text with the header. A field that holds a
    line break of any kind is quoted (a reader splitting on it would see a short row)."""
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(COLUMNS)
    for row in rows:
        if not isinstance(row, Row):
            raise ValueError("not a schema Row: %r" % (row,))
        if any(char in field for field in row for char in LINE_BREAKS):
            quoted.writerow(row)
        else:
            plain.writerow(row)
    return buf.getvalue()


TMP_MARK = ".tmp-"


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A crash leaves either the old file or the new one, never half a file. The
    temporary file is created exclusively under an unpredictable name next to
    ``path`` (``<name>.tmp-XXXXXXXX``), so nothing planted there is followed.
    """
    path = str(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + TMP_MARK, dir=directory)
    try:
        # A lone surrogate (os.fsdecode of a non-UTF-8 name, in a journal from an older
        # rngdrift) is written as its escape, '\udcff', as safetext.visible writes it.
        with io.open(fd, "w", newline="", encoding="utf-8",
                     errors="backslashreplace") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_csv(path, rows):
    write_atomic(path, rows_to_csv_text(rows))


def read_csv(path):
    """``Row`` tuples of a CSV written by ``write_csv`` (no validation: see harness.results)."""
    with io.open(path, newline="", encoding="utf-8") as handle:
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
