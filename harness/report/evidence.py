"""What a run measured, indexed the way findings ask for it.

``Evidence.of(loaded, expanded, cells, tol)`` gathers, once per report:

* every result row's observation in every cell (``frames.Observation``: state, the
  repeats' distinct parsed values);
* attribution per (cell, scenario, seeding): API call counts in the scenario's
  process and its workers/processes, which generator each API drew from
  (``rng.generator.<api>``: global, own, global+own), and the generators its
  results depend on;
* the correctness goals scenarios declare (``goal.<metric>`` rows);
* the DataLoader lines a mode handed each scenario (``rng.recipe``);
* each cell's versions and CPU class.
"""
from __future__ import annotations

import dataclasses
import re

from ..matrix import compat
from ..cell.schema import GENERATOR_PREFIXES, GOAL_PREFIX, OK, RECIPE_METRIC, RNG_PREFIX
from ..results import platforms
from ..results.changes import unseeded
from .model import CPU, PLATFORM  # noqa: F401 (evidence.CPU, evidence.PLATFORM)
from ..results.frames import NOT_SEEN, Loaded, Observation, Tolerance, generators_drawn

# API call rows of every process role: rng.calls.X, rng.worker.calls.X, rng.process.calls.X
_CALLS = re.compile(r"rng\.(?:(worker|process)\.)?calls\.(.+)")
_GENERATOR = re.compile(r"rng\.(?:(worker|process)\.)?generator\.(.+)")
_PROCESSES = re.compile(r"rng\.(worker|process)\.processes")
VERSION_FIELDS = ("torchvision", "torch", "python", "numpy", "pillow")


def api_name(role: str | None, api: str) -> str:
    """'torch.rand', or 'worker numpy.random.randint' for a worker's calls."""
    return f"{role} {api}" if role else api


@dataclasses.dataclass
class Evidence:
    cells: list[str]
    versions: dict[str, dict[str, str]]                      # cell -> package -> version
    kinds: dict[tuple[str, str, str], str]                   # (scenario, seeding, metric)
    observed: dict[tuple[str, str, str], dict[str, Observation]]
    calls: dict[tuple[str, str, str], dict[str, int]]        # (cell, scenario, seeding) -> api
    generators: dict[tuple[str, str, str], dict[str, str]]   # ... -> api -> global/own/...
    drawn: dict[tuple[str, str, str], frozenset[str]]
    recipe: dict[tuple[str, str, str], str]
    roles: dict[tuple[str, str, str], set]                   # ... -> {"worker", "process"}
    goals: dict[str, dict[str, str]]                         # scenario -> metric -> up/down
    tol: Tolerance
    by_run: dict[tuple[str, str], list] = dataclasses.field(default_factory=dict)
    by_scenario: dict[str, list] = dataclasses.field(default_factory=dict)
    memo: dict = dataclasses.field(default_factory=dict)   # what findings compute once

    def __post_init__(self):
        for key in self.observed:  # the rows of each (scenario, seeding), and of each scenario
            self.by_run.setdefault(key[:2], []).append(key)
            self.by_scenario.setdefault(key[0], []).append(key)

    @classmethod
    def of(cls, loaded: Loaded, expanded: dict, cells: list[str], tol: Tolerance) -> "Evidence":
        kinds, observed = {}, {}
        calls: dict[tuple, dict[str, int]] = {}
        generators: dict[tuple, dict[str, str]] = {}
        recipe, roles = {}, {}
        role_of: dict[str, tuple] = {}  # metric -> what kind of row it is (asked once)
        for (cell, scenario, seeding, metric), (kind, seen) in expanded.items():
            what = role_of.get(metric)
            if what is None:
                what = role_of[metric] = _row_role(metric)
            if what[0] == RESULT:
                key = (scenario, seeding, metric)
                if key not in kinds:
                    kinds[key] = kind
                    observed[key] = {cell: seen}
                else:
                    observed[key][cell] = seen
                continue
            if what[0] == GOAL or seen.state != OK or not seen.values:
                continue
            run = (cell, scenario, seeding)
            if what[0] == CALLS:
                if isinstance(seen.values[0], int):
                    calls.setdefault(run, {})[what[1]] = seen.values[0]
            elif what[0] == GENERATOR:
                if len(seen.values) == 1:
                    generators.setdefault(run, {})[what[1]] = str(seen.values[0])
            elif what[0] == RECIPE:
                recipe[run] = "|".join(str(v) for v in seen.values if v is not None)
            elif what[0] == ROLE and any(seen.values):
                roles.setdefault(run, set()).add(what[1])
        goals: dict[str, dict[str, str]] = {}
        for scenario, metric, value in zip(loaded.column("scenario"), loaded.column("metric"),
                                           loaded.column("value")):
            if metric.startswith(GOAL_PREFIX):
                goals.setdefault(scenario, {})[metric[len(GOAL_PREFIX):]] = value
        return cls(cells=cells, versions=cell_versions(loaded, cells), kinds=kinds,
                   observed=observed, calls=calls, generators=generators,
                   drawn=generators_drawn(loaded), recipe=recipe, roles=roles, goals=goals,
                   tol=tol)

    def at(self, key: tuple[str, str, str], cell: str) -> Observation:
        return self.observed.get(key, {}).get(cell, NOT_SEEN)

    def unseeded(self, cell: str, scenario: str, seeding: str) -> frozenset[str]:
        """Generators the scenario's results depend on that ``seeding`` leaves unseeded."""
        return unseeded(self.drawn, cell, scenario, seeding)

    def moved_calls(self, scenario: str, seeding: str, before: str, after: str
                    ) -> dict[str, tuple[int, int]]:
        """{api: (calls before, calls after)} for the APIs whose count changed."""
        b = self.calls.get((before, scenario, seeding), {})
        a = self.calls.get((after, scenario, seeding), {})
        return {api: (b.get(api, 0), a.get(api, 0)) for api in sorted(set(b) | set(a))
                if b.get(api, 0) != a.get(api, 0)}

    def called(self, scenario: str, seeding: str, *cells: str) -> set[str]:
        """The random APIs (any process role dropped) the scenario called in any of ``cells``."""
        return {api.rpartition(" ")[2] for cell in cells
                for api, n in self.calls.get((cell, scenario, seeding), {}).items() if n}

    def moved_generators(self, scenario: str, seeding: str, before: str, after: str
                         ) -> dict[str, tuple[str, str]]:
        """{api: (generator before, after)} where an API the scenario called on both sides
        drew from another generator (``global`` -> ``own`` ...)."""
        b = self.generators.get((before, scenario, seeding), {})
        a = self.generators.get((after, scenario, seeding), {})
        return {api: (b[api], a[api]) for api in sorted(set(b) & set(a)) if b[api] != a[api]}

    def recipe_changed(self, scenario: str, seeding: str, before: str, after: str) -> bool:
        return (self.recipe.get((before, scenario, seeding), "")
                != self.recipe.get((after, scenario, seeding), ""))

    def moved_packages(self, before: str, after: str) -> list[str]:
        """The packages (and the CPU class) whose version differs between two cells."""
        b, a = self.versions[before], self.versions[after]
        moved = [name for name in VERSION_FIELDS if b.get(name) != a.get(name)]
        if not platforms.same_class(b.get(PLATFORM, ""), a.get(PLATFORM, "")):
            moved.append(CPU)
        return moved


RESULT, GOAL, CALLS, GENERATOR, RECIPE, ROLE, OTHER = range(7)


def _row_role(metric: str) -> tuple:
    """What a metric row is for the findings: a result, a goal, an API's call count, the
    generator an API drew from, the recipe a mode handed out, a process role, or other
    attribution."""
    if metric.startswith(GOAL_PREFIX):
        return (GOAL,)
    if not metric.startswith(RNG_PREFIX):
        return (RESULT,)
    match = _CALLS.fullmatch(metric)
    if match:
        return (CALLS, api_name(*match.groups()))
    match = _GENERATOR.fullmatch(metric) if metric.startswith(GENERATOR_PREFIXES) else None
    if match:
        return (GENERATOR, api_name(*match.groups()))
    if metric == RECIPE_METRIC:
        return (RECIPE,)
    match = _PROCESSES.fullmatch(metric)
    return (ROLE, match.group(1)) if match else (OTHER,)


def cell_versions(loaded: Loaded, cells: list[str]) -> dict[str, dict[str, str]]:
    """Per cell: torch/torchvision as the cell id names them (no '+cu117'), python,
    numpy and pillow as installed, every other package the id pins
    (``-albumentations1.4.21``: installed exactly, or the cell is a ``cell.install``
    error) by PEP 503 name, and the CPU class (``cpu``)."""
    out = {}
    for cell in cells:
        known = cell in loaded.first
        found = {f: (loaded.meta(cell, f) if known else "") for f in VERSION_FIELDS}
        found[PLATFORM] = loaded.meta(cell, PLATFORM) if known else ""
        found[CPU] = platforms.platform_class(found[PLATFORM])
        parsed = compat.parse_id(cell)
        if parsed:
            found.update(torch=parsed.torch, torchvision=parsed.torchvision)
            found.update((name, v) for name, v in parsed.pins if name not in VERSION_FIELDS)
        out[cell] = found
    return out
