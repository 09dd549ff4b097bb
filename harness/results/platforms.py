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
    describe(frame)          sentences for a report: the classes of a run, what depends

``rngdrift platform BASE CAND [--update]`` prints (and merges into the committed file)
what two runs of different classes show.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import pandas as pd

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


def classes_of(frame: pd.DataFrame) -> dict[str, str]:
    """{cell: platform class} of a results frame."""
    first = frame.groupby("cell", sort=False)["platform"].first()
    return {cell: platform_class(text) for cell, text in first.items()}


# -- the data: which results depend on the platform -------------------------------------

@dataclasses.dataclass(frozen=True)
class Dependence:
    """(scenario, metric) -> where two classes were seen to differ and to agree."""
    rows: pd.DataFrame

    @classmethod
    def load(cls, path: Path = DATA) -> "Dependence":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except FileNotFoundError:
            frame = pd.DataFrame(columns=DATA_COLUMNS)
        if tuple(frame.columns) != DATA_COLUMNS:
            raise UserError(f"{path}: not a platform dependence table (columns "
                            f"{', '.join(DATA_COLUMNS)})")
        return cls(frame)

    def lookup(self, scenario: str, metric: str):
        hit = self.rows[(self.rows["scenario"] == scenario) & (self.rows["metric"] == metric)]
        return None if hit.empty else hit.iloc[0]

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


def learn(base: pd.DataFrame, cand: pd.DataFrame, tol: Tolerance) -> pd.DataFrame:
    """The dependence table two runs show: for every shared cell with the same pins that
    ran on different classes, each (scenario, metric) whose reproducible values differ
    (``differ_in``), and the cells where it was compared and agreed (``agree_in``)."""
    pins = list(schema.META_COLUMNS[schema.META_COLUMNS.index("torch"):
                                    schema.META_COLUMNS.index("platform")])
    b_meta = base.groupby("cell")[pins + ["platform"]].first()
    c_meta = cand.groupby("cell")[pins + ["platform"]].first()
    cells = [c for c in compat.order(set(b_meta.index) & set(c_meta.index))
             if (b_meta.loc[c, pins] == c_meta.loc[c, pins]).all()
             and not same_class(b_meta.at[c, "platform"], c_meta.at[c, "platform"])]
    seen: dict[tuple, dict] = {}
    key = ["cell", "scenario", "seeding", "metric"]
    b = fold(base[base["cell"].isin(cells)], tol).set_index(key)
    c = fold(cand[cand["cell"].isin(cells)], tol).set_index(key)
    for idx in b.index.intersection(c.index):
        cell, scenario, seeding, metric = idx
        x, y = b.loc[idx], c.loc[idx]
        if metric == schema.STATUS_METRIC or metric.startswith(schema.RNG_PREFIX) \
                or scenario.startswith(schema.CELL_LEVEL) \
                or len(x["distinct"]) != 1 or len(y["distinct"]) != 1:
            continue  # statuses, attribution and unrepeatable values say nothing here
        entry = seen.setdefault((scenario, metric), {"differ": {}, "agree": set(),
                                                     "seedings": set(), "classes": set()})
        if same(x["kind"], x["distinct"][0], y["distinct"][0], tol):
            entry["agree"].add(cell)
        else:
            entry["differ"].setdefault(cell, set()).add(seeding)
            entry["seedings"].add(seeding)
            entry["classes"].add(" vs ".join(sorted(
                (platform_class(b_meta.at[cell, "platform"]),
                 platform_class(c_meta.at[cell, "platform"])))))
    rows = []
    for (scenario, metric), entry in sorted(seen.items()):
        if not entry["differ"]:
            continue
        agree = entry["agree"] - set(entry["differ"])  # differs under one seeding: differs
        rows.append((scenario, metric, "; ".join(sorted(entry["classes"])),
                     " ".join(m for m in schema.MODES if m in entry["seedings"]),
                     " ".join(compat.order(entry["differ"])), " ".join(compat.order(agree))))
    return pd.DataFrame(rows, columns=DATA_COLUMNS)


def merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Old and newly learnt rows together: cells and classes united per (scenario, metric);
    a cell seen to differ in either is not in ``agree_in``."""
    out = []
    both = pd.concat([old, new], ignore_index=True)
    for (scenario, metric), group in both.groupby(["scenario", "metric"], sort=True):
        def union(column, sep=" "):
            return {p for v in group[column] for p in v.split(sep) if p}
        differ = union("differ_in")
        out.append((scenario, metric, "; ".join(sorted(union("classes", "; "))),
                    " ".join(m for m in schema.MODES if m in union("seedings")),
                    " ".join(compat.order(differ)),
                    " ".join(compat.order(union("agree_in") - differ))))
    return pd.DataFrame(out, columns=DATA_COLUMNS)


def to_csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue()


# -- for reports -----------------------------------------------------------------------

def dependence_in(frame: pd.DataFrame, dependence: Dependence | None = None) -> pd.DataFrame:
    """The model a report shows: the rows of ``frame``'s (scenario, metric) pairs that
    the data says depend on the CPU class, with the run's cells where they were seen to
    differ and to agree (``differ_in``/``agree_in`` restricted to this run)."""
    dependence = dependence or Dependence.load()
    cells = set(frame["cell"])
    present = set(zip(frame["scenario"], frame["metric"]))
    rows = [(r.scenario, r.metric, r.classes, r.seedings,
             " ".join(c for c in r.differ_in.split() if c in cells),
             " ".join(c for c in r.agree_in.split() if c in cells))
            for r in dependence.rows.itertuples(index=False) if (r.scenario, r.metric) in present]
    return pd.DataFrame(rows, columns=DATA_COLUMNS)


def describe(frame: pd.DataFrame, dependence: Dependence | None = None) -> list[str]:
    """Markdown sentences: which CPU classes the run's cells ran on and which metrics are
    known to depend on the class (a change between cells of two classes in one of them
    may be the CPU, not the release)."""
    by_class: dict[str, list[str]] = {}
    for cell, klass in classes_of(frame).items():
        by_class.setdefault(klass, []).append(cell)
    table = dependence_in(frame, dependence)
    ran = "; ".join(f"{code(k)} ({plural(len(v), 'cell')})" for k, v in sorted(by_class.items()))
    if table.empty:
        return [f"CPU classes: {ran}."]
    names = sorted({f"{r.scenario} {r.metric}" for r in table.itertuples()})
    if len(by_class) == 1:  # one class: a count is enough, the compare with another says more
        return [f"CPU classes: {ran}; {plural(len(names), 'metric')} of this run are known to "
                f"differ on other CPU classes at the same pins ({DATA.name})."]
    return [f"CPU classes: {ran}.",
            f"The run mixes classes: a change between cells of two classes in one of these "
            f"{plural(len(names), 'metric')} may be the CPU, not the release ({DATA.name}): "
            f"{', '.join(map(code, names[:12]))}{' …' if len(names) > 12 else ''}."]


# -- rngdrift platform BASE CAND ------------------------------------------------------
