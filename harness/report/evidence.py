"""What a run measured, indexed the way findings ask for it.

``Evidence.of(frame, expanded, cells)`` gathers, once per report:

* every drift row's observation in every cell (state, the repeats' distinct values);
* attribution per (cell, scenario, seeding): API call counts in the scenario's
  process and its workers/processes, and the generators its results depend on;
* the correctness goals scenarios declare (``goal.<metric>`` rows);
* the harness recipe ``full`` handed each scenario (``rng.recipe``);
* each cell's versions.
"""
from __future__ import annotations

import dataclasses
import re

import pandas as pd

from ..matrix import compat
from ..cell.schema import GOAL_PREFIX, OK, RECIPE_METRIC, RNG_PREFIX, SEEDED
from ..results.frames import Tolerance, generators_drawn

# API call rows of every process role: rng.calls.X, rng.worker.calls.X, rng.process.calls.X
_CALLS = re.compile(r"rng\.(?:(worker|process)\.)?calls\.(.+)")
VERSION_FIELDS = ("torchvision", "torch", "python", "numpy", "pillow")


@dataclasses.dataclass(frozen=True)
class Observation:
    state: str            # ok, n/a, error, timeout; "" when the cell did not measure it
    values: tuple[str, ...]
    detail: str = ""

    @property
    def measured(self) -> bool:
        return bool(self.state)

    @property
    def agreed(self) -> bool:
        return self.state == OK and len(self.values) == 1


NOT_SEEN = Observation("", ())


@dataclasses.dataclass
class Evidence:
    cells: list[str]
    versions: dict[str, dict[str, str]]                      # cell -> package -> version
    kinds: dict[tuple[str, str, str], str]                   # (scenario, seeding, metric)
    observed: dict[tuple[str, str, str], dict[str, Observation]]
    calls: dict[tuple[str, str, str], dict[str, int]]        # (cell, scenario, seeding) -> api
    drawn: dict[tuple[str, str, str], frozenset[str]]
    recipe: dict[tuple[str, str, str], str]
    goals: dict[str, dict[str, str]]                         # scenario -> metric -> up/down
    tol: Tolerance
    by_run: dict[tuple[str, str], list] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for key in self.observed:  # the rows of each (scenario, seeding)
            self.by_run.setdefault(key[:2], []).append(key)

    @classmethod
    def of(cls, frame: pd.DataFrame, expanded: pd.DataFrame, cells: list[str],
           tol: Tolerance) -> "Evidence":
        kinds, observed = {}, {}
        calls: dict[tuple, dict[str, int]] = {}
        recipe = {}
        for r in expanded.itertuples(index=False):
            if r.metric.startswith(GOAL_PREFIX):
                continue
            run = (r.cell, r.scenario, r.seeding)
            if r.metric.startswith(RNG_PREFIX):
                match = _CALLS.fullmatch(r.metric)
                if match and r.state == OK and r.distinct and r.distinct[0].isdigit():
                    role, api = match.groups()
                    name = f"{role} {api}" if role else api
                    calls.setdefault(run, {})[name] = int(r.distinct[0])
                elif r.metric == RECIPE_METRIC and r.state == OK:
                    recipe[run] = "|".join(r.distinct)
                continue
            key = (r.scenario, r.seeding, r.metric)
            kinds.setdefault(key, r.kind)
            observed.setdefault(key, {})[r.cell] = Observation(r.state, tuple(r.distinct),
                                                               r.detail)
        goal_rows = frame[frame["metric"].str.startswith(GOAL_PREFIX)]
        goals: dict[str, dict[str, str]] = {}
        for scenario, metric, direction in goal_rows[["scenario", "metric", "value"]] \
                .drop_duplicates().itertuples(index=False):
            goals.setdefault(scenario, {})[metric[len(GOAL_PREFIX):]] = direction
        return cls(cells=cells, versions=cell_versions(frame, cells), kinds=kinds,
                   observed=observed, calls=calls, drawn=generators_drawn(frame),
                   recipe=recipe, goals=goals, tol=tol)

    def at(self, key: tuple[str, str, str], cell: str) -> Observation:
        return self.observed.get(key, {}).get(cell, NOT_SEEN)

    def unseeded(self, cell: str, scenario: str, seeding: str) -> frozenset[str]:
        """Generators the scenario's results depend on that ``seeding`` leaves unseeded."""
        return self.drawn.get((cell, scenario, seeding), frozenset()) - set(SEEDED.get(seeding, ()))

    def moved_calls(self, scenario: str, seeding: str, before: str, after: str
                    ) -> dict[str, tuple[int, int]]:
        """{api: (calls before, calls after)} for the APIs whose count changed."""
        b = self.calls.get((before, scenario, seeding), {})
        a = self.calls.get((after, scenario, seeding), {})
        return {api: (b.get(api, 0), a.get(api, 0)) for api in sorted(set(b) | set(a))
                if b.get(api, 0) != a.get(api, 0)}

    def recipe_changed(self, scenario: str, seeding: str, before: str, after: str) -> bool:
        return (self.recipe.get((before, scenario, seeding), "")
                != self.recipe.get((after, scenario, seeding), ""))


def cell_versions(frame: pd.DataFrame, cells: list[str]) -> dict[str, dict[str, str]]:
    """Per cell: torch/torchvision as the cell id names them (no '+cu117'), python,
    numpy and pillow as installed, and every other package the id pins
    (``-albumentations1.4.21``: installed exactly, or the cell is a ``cell.install``
    error), by PEP 503 name."""
    meta = frame.groupby("cell", sort=False)[["python", "torch", "torchvision", "numpy",
                                              "pillow"]].first()
    out = {}
    for cell in cells:
        row = meta.loc[cell] if cell in meta.index else None
        found = {f: (row[f] if row is not None else "") for f in VERSION_FIELDS}
        parsed = compat.parse_id(cell)
        if parsed:
            found.update(torch=parsed.torch, torchvision=parsed.torchvision)
            found.update((name, v) for name, v in parsed.pins if name not in VERSION_FIELDS)
        out[cell] = found
    return out
