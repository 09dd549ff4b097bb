"""Which random APIs a finding touches: the atlas's API pages.

A finding of the report lands on an API's page when

* one of its rows is of a scenario that exercises that API (``apis.csv``: the
  vocabulary, one row per page, with the scenarios that measure it), or
* the attribution saw its draws move through that API (calls before != after, from
  the report's evidence; calls that only set seeds are not draws), or
* its cause (the catalog's ``apis`` column) names an API no page of the vocabulary
  has among its aliases: that API gets a page of its own.

Nothing here decides what changed: the findings are the report's (``tables.build``).
"""
from __future__ import annotations

import csv
import dataclasses
import fnmatch
import re
from functools import lru_cache
from pathlib import Path

VOCABULARY = Path(__file__).with_name("apis.csv")
# Calls that set or read a generator's state, not draws from it.
NOT_DRAWS = re.compile(r"(^|\.)(seed|manual_seed|set_rng_state|get_rng_state|initial_seed)$")
HOW_SCENARIO, HOW_DRAWS, HOW_CAUSE = "scenario", "draws", "cause"


@dataclasses.dataclass(frozen=True)
class Api:
    name: str
    title: str
    aliases: tuple[str, ...]
    scenarios: tuple[str, ...]   # fnmatch globs

    @property
    def slug(self) -> str:
        return slug(self.name)

    def measured_by(self, scenario: str) -> bool:
        return any(fnmatch.fnmatchcase(scenario, glob) for glob in self.scenarios)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "api"


@lru_cache(maxsize=None)
def load(path: Path = VOCABULARY) -> tuple[Api, ...]:
    with open(path, newline="", encoding="utf-8") as handle:
        return tuple(Api(r["api"], r["title"], tuple(r["aliases"].split()),
                         tuple(r["scenarios"].split())) for r in csv.DictReader(handle))


def looks_like_api(token: str) -> bool:
    """'torch.Tensor.uniform_', 'RandomApply': yes; 'workers', 'model': no."""
    return "." in token or any(ch.isupper() for ch in token)


class Pages:
    """The vocabulary plus the pages made on the way for APIs it does not name."""

    def __init__(self, vocabulary: tuple[Api, ...] | None = None):
        self.vocabulary = vocabulary if vocabulary is not None else load()
        self.by_alias = {alias: api for api in self.vocabulary for alias in
                         (api.name, *api.aliases)}
        self.extra: dict[str, Api] = {}

    def all(self) -> list[Api]:
        return list(self.vocabulary) + sorted(self.extra.values(), key=lambda a: a.name)

    def named(self, token: str, make: bool = True) -> Api | None:
        if token in self.by_alias:
            return self.by_alias[token]
        if not make or not looks_like_api(token):
            return None
        return self.extra.setdefault(token, Api(token, token, (token,), ()))

    def of_finding(self, evidence, finding) -> dict[str, tuple[Api, set[str]]]:
        """{api name: (api, how)} for the APIs ``finding`` touches; ``how`` holds
        'scenario', 'draws' and/or 'cause'."""
        out: dict[str, tuple[Api, set[str]]] = {}

        def add(api, how):
            if api is not None:
                out.setdefault(api.name, (api, set()))[1].add(how)
        for scenario in finding.scenarios:
            for api in self.vocabulary:
                if api.measured_by(scenario):
                    add(api, HOW_SCENARIO)
        runs = {(t.scenario, t.seeding, t.before_cell, t.after_cell) for t in finding.transitions}
        for run in sorted(runs):
            for call in evidence.moved_calls(*run):
                name = call.rpartition(" ")[2]
                if not NOT_DRAWS.search(name):
                    add(self.named(name), HOW_DRAWS)
        if finding.cause is not None:
            for token in finding.cause.apis:
                if token not in self.by_alias:
                    add(self.named(token), HOW_CAUSE)
        return out
