"""Values and observations: what a run's rows say once their repeats are folded in.

    same(kind, a, b, tol)   equal under the kind's rule (numbers within the tolerance)
    fold(loaded)            {(cell, scenario, seeding, metric): Folded}: repeats folded in
    expand(loaded)          {(cell, scenario, seeding, metric): (kind, Observation)}: fold,
                            plus every scenario's metrics in every cell that ran it
    generators_drawn(...)   the generators each scenario run's results depend on

Values arrive parsed (``resultfiles``: a float, an int or the text) and are compared
typed; ``text`` writes one back as the CSVs do. Plain Python over the columns of a
``frames.Loaded`` (anything with ``column(name)`` and ``table.values``).
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import NamedTuple

from ..matrix import compat
from ..cell import modes, schema
from ..cell.schema import CELL_LEVEL, ERROR, NA, OK, RECIPE_METRIC, RNG_PREFIX, TIMEOUT


@dataclasses.dataclass(frozen=True)
class Tolerance:
    """Numbers are equal when |a - b| <= atol + rtol * max(|a|, |b|)."""
    atol: float = 1e-9
    rtol: float = 1e-6


# A metric some repeats of an ok scenario did not report.
MISSING = None


# A metric some repeats of an ok scenario did not report.
MISSING = None


def same(kind: str, a, b, tol: Tolerance) -> bool:
    """Equal under ``kind``'s rule (``schema.VALUE_KINDS``): numbers within the tolerance,
    everything else exactly. ``a`` and ``b`` are parsed values (``MISSING`` for none)."""
    if a == b:
        return True
    rule = schema.KIND[kind].compared if kind in schema.KIND else "exact"
    if rule != "tolerance" or a is MISSING or b is MISSING:
        return False
    if isinstance(a, str) or isinstance(b, str):
        return False
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return False
    return abs(a - b) <= tol.atol + tol.rtol * max(abs(a), abs(b))


def distinct(kind: str, values: list, tol: Tolerance) -> tuple:
    """Representatives of ``values``: each value joins the first one it equals."""
    first = values[0]
    if all(v == first for v in values):
        return (first,)
    reps: list = []
    for value in values:
        if not any(same(kind, rep, value, tol) for rep in reps):
            reps.append(value)
    return tuple(reps)


def text(kind: str, value) -> str:
    """A parsed value as the CSVs write it ('' for a missing one)."""
    if value is MISSING:
        return ""
    if isinstance(value, float) and kind in (schema.NUMBER, schema.TIMING):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


_GENERATOR_ROW = re.compile(r"rng\.(?:(worker|process)\.)?(python|numpy|torch|cuda)")
# The seeding calls tracing counts, by the generator they seed: a scenario that makes
# one itself seeds that generator, whatever its mode does.
SEEDING_CALLS = {"rng.calls.random.seed": (modes.PYTHON,),
                 "rng.calls.random.setstate": (modes.PYTHON,),
                 "rng.calls.numpy.random.seed": (modes.NUMPY,),
                 "rng.calls.numpy.random.set_state": (modes.NUMPY,),
                 "rng.calls.torch.manual_seed": (modes.TORCH, modes.CUDA),
                 "rng.calls.torch.set_rng_state": (modes.TORCH,)}


def generators_drawn(loaded) -> dict[tuple[str, str, str], frozenset[str]]:
    """{(cell, scenario, seeding): the global generators whose seeding mode its results
    depend on}, from the attribution rows of every repeat.

    A generator the scenario's own process drew from counts; so does one a process it
    forked (a rank, a pool) drew from. DataLoader workers are seeded from the main
    torch generator (their draws show there, as the base-seed draw), except NumPy in
    workers before torch 1.9, which inherits the main process's state: a worker's
    NumPy draw there depends on NumPy's seeding. A generator the scenario seeds itself
    (``random.seed``, ``torch.manual_seed`` ... in its own process) does not depend on
    the mode: code that seeds itself is not unseeded under ``python``.
    """
    out: dict[tuple[str, str, str], set[str]] = {}
    own: dict[tuple[str, str, str], set[str]] = {}
    metric, value = loaded.column("metric"), loaded.column("value")
    cell, scenario, seeding = loaded.column("cell"), loaded.column("scenario"), loaded.column("seeding")
    torch = loaded.column("torch")
    role = {}  # metric -> ("seeds", generators) | ("drew", worker?, generator); asked once each
    for m in set(metric):
        if m in SEEDING_CALLS:
            role[m] = ("seeds", SEEDING_CALLS[m])
        elif m.startswith(RNG_PREFIX):
            match = _GENERATOR_ROW.fullmatch(m)
            if match:
                role[m] = ("drew", match.group(1) == "worker", match.group(2))
    old_torch = {t: compat._version(t) < (1, 9) for t in set(torch) if t}
    for i in [i for i, m in enumerate(metric) if m in role]:
        what, v = role[metric[i]], value[i]
        if what[0] == "seeds":
            if v not in ("0", ""):
                own.setdefault((cell[i], scenario[i], seeding[i]), set()).update(what[1])
            continue
        if v != "1":
            continue
        _, in_worker, generator = what
        if in_worker and not (generator == modes.NUMPY and old_torch.get(torch[i])):
            continue
        out.setdefault((cell[i], scenario[i], seeding[i]), set()).add(generator)
    return {key: frozenset(gens - own.get(key, set())) for key, gens in out.items()}


class Folded(NamedTuple):
    """One (cell, scenario, seeding, metric) with its repeats folded in."""
    kind: str
    values: tuple          # the distinct values over the repeats (one: they agreed)
    repeats: int           # how many repeats reported it
    detail: str = ""       # the first non-empty detail


class Observation(NamedTuple):
    """What one cell measured for one (scenario, seeding, metric)."""
    state: str             # ok, n/a, error, timeout; "" when the cell did not measure it
    values: tuple = ()     # distinct parsed values over the repeats; MISSING where absent
    detail: str = ""
    repeats: int = 0

    @property
    def measured(self) -> bool:
        return bool(self.state)

    @property
    def agreed(self) -> bool:
        return self.state == OK and len(self.values) == 1 and self.values[0] is not MISSING

    @property
    def failed(self) -> bool:
        return self.state in schema.FAILED


NOT_SEEN = Observation("")
KEY = ("cell", "scenario", "seeding", "metric")


def absent_means_zero(metric: str) -> bool:
    """Attribution counts are written only when non-zero (an API called, a worker that
    reported): a missing one is 0, not a metric that went missing."""
    return metric.startswith(RNG_PREFIX) and metric != RECIPE_METRIC \
        and not metric.startswith(schema.GENERATOR_PREFIXES)


def absent_value(scenario: str, metric: str):
    """What a metric a run did not write stands for: 0 for an attribution count
    (``absent_means_zero``), no failure ("") for a pytest test's ``failure`` (written only
    when it failed: its why, not a result), None where a missing metric is missing."""
    if absent_means_zero(metric):
        return 0
    if metric == schema.TEST_FAILURE_METRIC and scenario.startswith(schema.PYTEST_PREFIX):
        return ""
    return None


def _groups(loaded, cells=None) -> dict[tuple, list]:
    """{(cell, scenario, seeding, metric): [kind, [each repeat's value], first detail]},
    timing rows and the manifest left out; ``cells``: only those cells."""
    groups: dict[tuple, list] = {}
    timing, manifest = schema.TIMING, schema.CELL_MANIFEST
    column = loaded.column
    for cell, scenario, seeding, metric, kind, value, detail in zip(
            column("cell"), column("scenario"), column("seeding"), column("metric"),
            column("kind"), loaded.table.values, column("detail")):
        if kind == timing or scenario == manifest or (cells is not None and cell not in cells):
            continue
        key = (cell, scenario, seeding, metric)
        group = groups.get(key)
        if group is None:
            groups[key] = [kind, [value], detail]
        else:
            group[1].append(value)
            if detail and not group[2]:
                group[2] = detail
    return groups


def _distinct(kind: str, values: list, tol: Tolerance) -> tuple:
    return (values[0],) if len(values) == 1 else distinct(kind, values, tol)


def fold(loaded, tol: Tolerance, cells=None) -> dict[tuple, Folded]:
    """One entry per (cell, scenario, seeding, metric) as measured; timing rows and the
    manifest (how many rows a file holds) left out; ``cells``: only those cells.
    Status rows and cell-level rows are folded like any other text metric."""
    return {key: Folded(kind, _distinct(kind, values, tol), len(values), detail)
            for key, (kind, values, detail) in _groups(loaded, cells).items()}


_WORST = (ERROR, TIMEOUT, NA)


def expand(loaded, tol: Tolerance) -> dict[tuple, tuple[str, Observation]]:
    """``fold`` for the reports: {(cell, scenario, seeding, metric): (kind, Observation)}
    for every scenario's metrics in every cell that ran it.

    The state is ``ok``; else the worst status over the repeats (``error`` >
    ``timeout`` > ``n/a``), given to every metric the scenario reports anywhere in
    the run (a non-ok scenario has only its status row); ``n/a`` for a metric an ok
    scenario did not report. A metric missing from some ok repeats adds ``MISSING``
    to the values (the repeats disagree). A failed cell (cell-level error row, e.g. a
    failed install) gets every (scenario, seeding, metric) of the run as ``error``.
    Status rows are kept only for scenarios that report no metric anywhere; code
    identity rows say what ran, not what it gave, and are left out.
    """
    groups = _groups(loaded)
    code, status_metric = set(schema.CODE_METRICS), schema.STATUS_METRIC
    status, metrics = {}, {}
    per_scenario: dict[str, dict[str, str]] = {}
    for key, group in groups.items():
        cell, scenario, seeding, metric = key
        if metric == status_metric:
            if not scenario.startswith(CELL_LEVEL):
                status[key[:3]] = group
        elif metric not in code:
            metrics[key] = group
            per_scenario.setdefault(scenario, {}).setdefault(metric, group[0])
    absent_is = {(scenario, metric): absent_value(scenario, metric)
                 for scenario, metrics_ in per_scenario.items() for metric in metrics_}
    out: dict[tuple, tuple[str, Observation]] = {}
    for (cell, scenario, seeding), (_, states, detail) in status.items():
        repeats = len(states)
        failed = next((s for s in _WORST if s in states), None)
        wanted = per_scenario.get(scenario) or {status_metric: schema.TEXT}
        for metric, kind in wanted.items():
            key = (cell, scenario, seeding, metric)
            if failed:
                seen = Observation(failed, (), detail, repeats)
            elif metric == status_metric:
                seen = Observation(OK, _distinct(kind, states, tol), detail, repeats)
            elif (row := metrics.get(key)) is None:
                absent = absent_is[(scenario, metric)]
                seen = Observation(OK, (absent,), "", repeats) if absent is not None \
                    else Observation(NA, (), "metric not reported", repeats)
            else:
                absent = absent_is[(scenario, metric)]
                absent = MISSING if absent is None else absent
                values = _distinct(kind, row[1], tol)
                if len(row[1]) < repeats and absent not in values:
                    values += (absent,)
                seen = Observation(OK, values, "", repeats)
            out[key] = (kind, seen)
    failures = loaded.failures
    if failures:
        out = {k: v for k, v in out.items() if k[0] not in failures}
        grid = {k[1:]: v[0] for k, v in out.items()}
        for cell, detail in failures.items():
            for (scenario, seeding, metric), kind in grid.items():
                out[(cell, scenario, seeding, metric)] = (kind, Observation(ERROR, (), detail, 0))
    return out
