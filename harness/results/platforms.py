"""Platform classes: which kind of CPU a cell ran on, and which results depend on it.

At the same pins, torch gives different dropout/bernoulli streams, training weights and
a few float outputs on Intel and AMD CPUs (MKL and oneDNN choose their kernels by CPU
vendor and instruction set). A cell's ``platform`` column says what decides it
(``harness.cell.environment``); this module reads it:

    platform_class(text)     'x86_64-amd-avx512' (machine, vendor, ISA level)
    same_class(a, b)         unknown parts (an older CSV without an ISA) match anything
    this_class()             this machine's class, before anything is installed
    learn(base, cand, tol)   which (scenario, metric) differ between two runs of the same
                             pins on different classes, and where they agree: the data
    Dependence               that data (``harness/platform_dependence.csv``, committed)
    explains(...)            whether a difference between two classes is the platform's
    describe(loaded)         sentences for a report: the classes of a run, what depends

``rngdrift platform BASE CAND [--update]`` prints (and merges into the committed file)
what two runs of different classes show.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import io
import re
from pathlib import Path

from ..matrix import compat
from ..cell import environment, schema
from ..errors import UserError
from .frames import Tolerance, fold, same
from ..text import code, plural


DATA = Path(__file__).resolve().parent / "platform_dependence.csv"
DATA_COLUMNS = ("scenario", "metric", "classes", "seedings", "differ_in", "agree_in")
VENDORS = {"genuineintel": "intel", "authenticamd": "amd"}
UNKNOWN = "?"


@dataclasses.dataclass(frozen=True)
class PlatformClass:
    machine: str
    vendor: str
    isa: str

    def __str__(self) -> str:
        known = [p for p in (self.machine, self.vendor, self.isa) if p != UNKNOWN]
        return "-".join(known) or "unknown"


def parse(text: str) -> PlatformClass:
    """The class in a ``platform`` column text. Texts from before the vendor and ISA were
    recorded (``Linux-6.1 x86_64; cpu=AMD EPYC``) give the vendor from the CPU's name and
    an unknown ISA; anything unreadable is all unknown."""
    head, *parts = str(text).split("; ")
    fields = dict(p.split("=", 1) for p in parts if "=" in p)
    machine = head.rsplit(" ", 1)[1] if " " in head else UNKNOWN
    vendor = VENDORS.get(fields.get("vendor", "").lower(), fields.get("vendor", "").lower())
    if vendor in ("", UNKNOWN):
        name = fields.get("cpu", "")
        vendor = "intel" if "Intel" in name else "amd" if re.search(r"\bAMD\b", name) \
            else UNKNOWN
    isa = fields.get("isa") or UNKNOWN
    return PlatformClass(machine or UNKNOWN, vendor, isa)


def platform_class(text: str) -> str:
    return str(parse(text))


def same_class(a: str, b: str) -> bool:
    """Whether two platform texts are of one class; an unknown part matches anything."""
    x, y = parse(a), parse(b)
    return all(p == q or UNKNOWN in (p, q) for p, q in zip(dataclasses.astuple(x),
                                                           dataclasses.astuple(y)))


def this_class() -> str:
    return platform_class(environment.machine_text())


def classes_of(loaded) -> dict[str, str]:
    """{cell: platform class} of a run (``frames.Loaded``)."""
    return {cell: platform_class(loaded.meta(cell, "platform")) for cell in loaded.first}


# -- the data: which results depend on the platform -------------------------------------

@dataclasses.dataclass(frozen=True)
class Dependence:
    """(scenario, metric) -> where two classes were seen to differ and to agree: rows of
    ``DATA_COLUMNS``, each a dict of text."""
    rows: tuple

    @classmethod
    def load(cls, path: Path = DATA) -> "Dependence":
        try:
            with open(path, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                rows = tuple(reader)
                columns = tuple(reader.fieldnames or ())
        except FileNotFoundError:
            rows, columns = (), DATA_COLUMNS
        if columns != DATA_COLUMNS:
            raise UserError(f"{path}: not a platform dependence table (columns "
                            f"{', '.join(DATA_COLUMNS)})")
        return cls(rows)

    @functools.cached_property
    def _index(self) -> dict:
        return {(r["scenario"], r["metric"]): r for r in reversed(self.rows)}

    def lookup(self, scenario: str, metric: str):
        return self._index.get((scenario, metric))

    def explains(self, cell: str, scenario: str, metric: str) -> str | None:
        """Why a difference in this row between two platform classes is the platform's,
        or None: the row is not known to depend on it, or the data saw the classes agree
        in this very cell (then a difference there is a real change)."""
        hit = self.lookup(scenario, metric)
        if hit is None or cell in hit["agree_in"].split():
            return None
        differ = hit["differ_in"].split()
        if cell in differ:
            return f"seen to differ between CPU classes in this cell ({DATA.name})"
        return (f"seen to differ between CPU classes in {plural(len(differ), 'cell')}, "
                f"no data for this one ({DATA.name})")


def explains(dependence: Dependence, cell: str, scenario: str, metric: str,
             base_platform: str, cand_platform: str) -> str | None:
    """The reason a changed row is a platform difference, or None (it is a change)."""
    if same_class(base_platform, cand_platform):
        return None
    why = dependence.explains(cell, scenario, metric)
    if why is None:
        return None
    return f"CPU class {platform_class(base_platform)} -> {platform_class(cand_platform)}: {why}"


_PINS = schema.META_COLUMNS[schema.META_COLUMNS.index("torch"):schema.META_COLUMNS.index("platform")]


def _meta(loaded) -> dict[str, tuple]:
    """{cell: (pins, platform)} of a run."""
    out: dict[str, tuple] = {}
    for r in loaded.rows:
        if r.cell not in out:
            out[r.cell] = (tuple(getattr(r, c) for c in _PINS), r.platform)
    return out


def learn(base, cand, tol: Tolerance) -> list[dict]:
    """The dependence table two runs (``frames.Loaded``) show: for every shared cell with
    the same pins that ran on different classes, each (scenario, metric) whose
    reproducible values differ (``differ_in``), and the cells where it was compared and
    agreed (``agree_in``)."""
    b_meta, c_meta = _meta(base), _meta(cand)
    cells = [c for c in compat.order(set(b_meta) & set(c_meta))
             if b_meta[c][0] == c_meta[c][0] and not same_class(b_meta[c][1], c_meta[c][1])]
    seen: dict[tuple, dict] = {}
    b, c = fold(base, tol, set(cells)), fold(cand, tol, set(cells))
    for key in [k for k in b if k in c]:
        cell, scenario, seeding, metric = key
        x, y = b[key], c[key]
        if metric == schema.STATUS_METRIC or metric.startswith(schema.RNG_PREFIX) \
                or scenario.startswith(schema.CELL_LEVEL) \
                or len(x.values) != 1 or len(y.values) != 1:
            continue  # statuses, attribution and unrepeatable values say nothing here
        entry = seen.setdefault((scenario, metric), {"differ": {}, "agree": set(),
                                                     "seedings": set(), "classes": set()})
        if same(x.kind, x.values[0], y.values[0], tol):
            entry["agree"].add(cell)
        else:
            entry["differ"].setdefault(cell, set()).add(seeding)
            entry["seedings"].add(seeding)
            entry["classes"].add(" vs ".join(sorted(
                (platform_class(b_meta[cell][1]), platform_class(c_meta[cell][1])))))
    rows = []
    for (scenario, metric), entry in sorted(seen.items()):
        if not entry["differ"]:
            continue
        agree = entry["agree"] - set(entry["differ"])  # differs under one seeding: differs
        rows.append(dict(zip(DATA_COLUMNS, (
            scenario, metric, "; ".join(sorted(entry["classes"])),
            " ".join(m for m in schema.MODES if m in entry["seedings"]),
            " ".join(compat.order(entry["differ"])), " ".join(compat.order(agree))))))
    return rows


def merge(old, new) -> list[dict]:
    """Old and newly learnt rows together: cells and classes united per (scenario, metric);
    a cell seen to differ in either is not in ``agree_in``."""
    groups: dict[tuple, list] = {}
    for r in list(old) + list(new):
        groups.setdefault((r["scenario"], r["metric"]), []).append(r)
    out = []
    for (scenario, metric), group in sorted(groups.items()):
        def union(column, sep=" "):
            return {p for r in group for p in r[column].split(sep) if p}
        differ = union("differ_in")
        out.append(dict(zip(DATA_COLUMNS, (
            scenario, metric, "; ".join(sorted(union("classes", "; "))),
            " ".join(m for m in schema.MODES if m in union("seedings")),
            " ".join(compat.order(differ)), " ".join(compat.order(union("agree_in") - differ))))))
    return out


def to_csv(rows) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=DATA_COLUMNS, lineterminator="\n",
                            quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


# -- for reports -----------------------------------------------------------------------

def dependence_in(loaded, dependence: Dependence | None = None) -> list[dict]:
    """The model a report shows: the rows of the run's (scenario, metric) pairs that
    the data says depend on the CPU class, with the run's cells where they were seen to
    differ and to agree (``differ_in``/``agree_in`` restricted to this run)."""
    dependence = dependence or Dependence.load()
    cells = set(loaded.cells)
    present = set(zip(loaded.column("scenario"), loaded.column("metric")))
    return [dict(r, differ_in=" ".join(c for c in r["differ_in"].split() if c in cells),
                 agree_in=" ".join(c for c in r["agree_in"].split() if c in cells))
            for r in dependence.rows if (r["scenario"], r["metric"]) in present]


def describe(loaded, dependence: Dependence | None = None) -> list[str]:
    """Markdown sentences: which CPU classes the run's cells ran on and which metrics are
    known to depend on the class (a change between cells of two classes in one of them
    may be the CPU, not the release)."""
    by_class: dict[str, list[str]] = {}
    for cell, klass in classes_of(loaded).items():
        by_class.setdefault(klass, []).append(cell)
    table = dependence_in(loaded, dependence)
    ran = "; ".join(f"{code(k)} ({plural(len(v), 'cell')})" for k, v in sorted(by_class.items()))
    if not table:
        return [f"CPU classes: {ran}."]
    names = sorted({f"{r['scenario']} {r['metric']}" for r in table})
    if len(by_class) == 1:  # one class: a count is enough, the compare with another says more
        return [f"CPU classes: {ran}; {plural(len(names), 'metric')} of this run are known to "
                f"differ on other CPU classes at the same pins ({DATA.name})."]
    return [f"CPU classes: {ran}.",
            f"The run mixes classes: a change between cells of two classes in one of these "
            f"{plural(len(names), 'metric')} may be the CPU, not the release ({DATA.name}): "
            f"{', '.join(map(code, names[:12]))}{' …' if len(names) > 12 else ''}."]
