"""The atlas as data: the report's model of a run, arranged by release step and by API.

    build(report, others)   an ``Atlas`` from ``tables.build``'s Report of a run (and the
                            Reports of runs of the same cells on other CPU classes)

A step is two neighbouring cells of the run; its findings are the report's findings
first seen there, in the report's order. Nothing is re-derived: the findings, their
causes, fixes and words are the report's, so the atlas shows what ``rngdrift report``
shows. What the atlas adds is the arrangement, the API pages (``apis``) and, where
the platform data (``harness/results/platform_dependence.csv``) says a row depends
on the CPU class, which class measured it and what the other classes' runs found.
"""
from __future__ import annotations

import dataclasses

from ..report import severity as sev
from ..report.words import version_step
from ..results import platforms
from .apis import Api, Pages


def changed(finding) -> bool:
    """A finding an API page lists: a stream that changed (the verdict and the good
    news), not availability, unseeded noise or the harness's own recipe."""
    return not sev.get(finding.severity).folded


@dataclasses.dataclass(frozen=True, eq=False)   # one object per step: hashed by identity
class Step:
    index: int
    before: str
    after: str
    words: str                 # 'torchvision 0.6.0 → 0.7.0, torch 1.5.0 → 1.6.0'
    findings: tuple            # findings.Finding first seen at ``after``, report order

    @property
    def slug(self) -> str:
        return f"{self.index:03d}-{self.after}"

    @property
    def actionable(self) -> list:
        return [f for f in self.findings if not sev.get(f.severity).folded]

    @property
    def folded(self) -> list:
        return [f for f in self.findings if sev.get(f.severity).folded]


@dataclasses.dataclass(frozen=True, eq=False)
class ApiEntry:
    step: Step
    finding: object            # findings.Finding
    how: frozenset[str]        # 'scenario', 'draws', 'cause'


@dataclasses.dataclass(frozen=True)
class OtherClass:
    """A run of (some of) the same cells on another CPU class, and its report."""
    platform: str
    report: object
    by_step: dict              # after cell -> its findings first seen there


@dataclasses.dataclass
class Atlas:
    report: object             # report.model.Report
    platform: str              # the CPU class(es) of the run
    steps: list[Step]
    apis: list[tuple[Api, list[ApiEntry]]]
    dependent: set             # (scenario, metric) the platform data says depend on the CPU
    others: list[OtherClass]
    finding_apis: dict         # id(finding) -> [Api]

    def step_of(self, after: str) -> Step | None:
        return next((s for s in self.steps if s.after == after), None)

    def platform_rows(self, finding) -> list:
        """The finding's rows whose metric is known to depend on the CPU class."""
        return [t for t in finding.transitions if (t.scenario, t.metric) in self.dependent]


def classes(report) -> str:
    """'x86_64-amd-avx512' (or several, comma-separated) for the run's cells."""
    return ", ".join(sorted(set(platforms.classes_of(report.loaded).values()))) or "unknown"


def steps_of(report) -> list[Step]:
    cells, versions = report.cells, report.evidence.versions
    first_seen: dict[str, list] = {}
    for finding in report.findings:
        first_seen.setdefault(finding.first_seen, []).append(finding)
    return [Step(i, before, after, version_step(versions, before, after),
                 tuple(first_seen.get(after, ())))
            for i, (before, after) in enumerate(zip(cells, cells[1:]), 1)]


def build(report, others=(), pages: Pages | None = None, dependence=None) -> Atlas:
    pages = pages or Pages()
    steps = steps_of(report)
    entries: dict[str, list[ApiEntry]] = {}
    finding_apis = {}
    for step in steps:
        for finding in step.findings:
            touched = pages.of_finding(report.evidence, finding)
            finding_apis[id(finding)] = [api for api, _ in touched.values()]
            if not changed(finding):
                continue
            for api, how in touched.values():
                entries.setdefault(api.name, []).append(ApiEntry(step, finding, frozenset(how)))
    apis = [(api, entries.get(api.name, [])) for api in pages.all()]
    dependent = {(r["scenario"], r["metric"])
                 for r in platforms.dependence_in(report.loaded, dependence)}
    other_classes = []
    for other in others:
        by_step: dict[str, list] = {}
        for finding in other.findings:
            by_step.setdefault(finding.first_seen, []).append(finding)
        other_classes.append(OtherClass(classes(other), other, by_step))
    return Atlas(report, classes(report), steps, apis, dependent, other_classes, finding_apis)


def signature(finding) -> tuple:
    """What makes two runs' findings at one step the same finding: severity, cause (or
    the scenarios, for the unexplained) and the rows."""
    return (finding.severity, finding.cause.id if finding.cause else None,
            tuple(sorted((t.scenario, t.seeding, t.metric) for t in finding.transitions)))
