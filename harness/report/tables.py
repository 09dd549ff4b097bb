"""The report's tables, built from a run's rows: drift, reproducibility, sources,
weakest seeding, accuracy. ``build`` makes the ``Report`` every renderer reads.
"""
from __future__ import annotations

from ..matrix import compat
from ..cell import modes as seeding_modes
from ..cell.schema import (
    CELL_LEVEL, CODE_METRICS, ERROR, GOAL_PREFIX, NA, OK, RECIPE_METRIC, RNG_PREFIX, TIMEOUT)
from . import advice, findings
from .evidence import Evidence
from .model import (
    ACCURACY_METRIC, ACCURACY_SCENARIO, DISAGREE, GENERATORS, NOT_MEASURED, NO, STATE_LABEL,
    TOP_CALLS, UNTESTED, YES, Report, Table, accuracy_column, changes_at, short_value)
from ..results.frames import Loaded, Tolerance, cell_failures, expand, same, text

# -- groups -------------------------------------------------------------------

def letter(index: int) -> str:
    """A, B, …, Z, AA, AB, …"""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


def group_labels(kind: str, cells: list[tuple[str, tuple]], tol: Tolerance) -> list[str]:
    """Labels for one drift row: ``cells`` is [(state, values)] in cell order.

    A value joins the first group whose first value it equals (numbers within
    ``tol``), so letters follow first appearance from the oldest cell.
    """
    groups: list = []
    labels = []
    for state, values in cells:
        if state is None:
            labels.append(NOT_MEASURED)
        elif state != OK:
            labels.append(STATE_LABEL[state])
        elif len(values) != 1:
            labels.append(DISAGREE)
        else:
            index = next((i for i, rep in enumerate(groups) if same(kind, rep, values[0], tol)),
                         None)
            if index is None:
                groups.append(values[0])
                index = len(groups) - 1
            labels.append(letter(index))
    return labels


def _pivot(expanded: dict, keep) -> dict[tuple, dict[str, tuple]]:
    """{(scenario, seeding, metric): {cell: (kind, Observation)}} of the rows ``keep``
    accepts (asked once per metric)."""
    table: dict[tuple, dict[str, tuple]] = {}
    kept: dict[str, bool] = {}
    for (cell, scenario, seeding, metric), entry in expanded.items():
        wanted = kept.get(metric)
        if wanted is None:
            wanted = kept[metric] = keep(metric)
        if wanted:
            key = (scenario, seeding, metric)
            row = table.get(key)
            if row is None:
                table[key] = {cell: entry}
            else:
                row[cell] = entry
    return table


def _mode_rank(modes: list[str]) -> dict[str, int]:
    return {m: i for i, m in enumerate(modes)}


def _row_order(keys, modes):
    """Scenario by name, seeding weakest first, metrics in first-seen order."""
    first_seen = {k: i for i, k in enumerate(keys)}
    rank = _mode_rank(modes)
    return sorted(keys, key=lambda k: (k[0], rank.get(k[1], len(modes)), first_seen[k]))


# -- tables -------------------------------------------------------------------

def drift_table(expanded: dict, cells: list[str], modes: list[str], tol: Tolerance):
    """(drift, shown): value groups per (scenario, seeding, metric) and cell."""
    # attribution rows (rng.*) belong to sources.csv, goal declarations to no table;
    # status rows only stand in for scenarios that report no metric (results.expand)
    table = _pivot(expanded, lambda m: not m.startswith((RNG_PREFIX, GOAL_PREFIX)))
    drift_rows, shown_rows = [], []
    for key in _row_order(list(table), modes):
        per_cell = table[key]
        kind = next(iter(per_cell.values()))[0]
        observed = [(per_cell[c][1].state, per_cell[c][1].values) if c in per_cell else (None, ())
                    for c in cells]
        labels = group_labels(kind, observed, tol)
        shown = []
        for cell, label in zip(cells, labels):
            seen = per_cell[cell][1] if cell in per_cell else None
            extra = "" if seen is None else (
                short_value(kind, seen.values) if seen.state == OK else seen.detail)
            shown.append(f"{label} {extra}".strip())
        changed = " ".join(changes_at(labels, cells))
        drift_rows.append([*key, kind, *labels, changed])
        shown_rows.append([*key, kind, *shown, changed])
    columns = ["scenario", "seeding", "metric", "kind", *cells, "changes_at"]
    return Table(columns, drift_rows), Table(columns, shown_rows)


def reproducibility_table(expanded: dict, cells: list[str], modes: list[str]) -> Table:
    """Per (scenario, seeding, cell): yes / no / untested (one repeat) / n/a / err / timeout."""
    groups: dict[tuple, list] = {}
    for (cell, scenario, seeding, metric), (_, seen) in expanded.items():
        groups.setdefault((scenario, seeding, cell), []).append((metric, seen))
    cell_rank = {c: i for i, c in enumerate(cells)}
    rank = _mode_rank(modes)
    keys = sorted(groups, key=lambda k: (k[0], rank.get(k[1], len(modes)), cell_rank[k[2]]))
    rows = []
    for key in keys:
        group = groups[key]
        failed = [seen for _, seen in group if seen.state != OK]
        repeats = max(seen.repeats for _, seen in group)
        # a metric this mode does not report (n/a: rng.recipe outside `full`) is no disagreement
        differing = [metric for metric, seen in group
                     if seen.state == OK and len(seen.values) != 1]
        real_failures = [seen for seen in failed if seen.state != NA]
        if len(failed) == len(group):
            verdict, detail = STATE_LABEL[failed[0].state], failed[0].detail
        elif real_failures:
            verdict, detail = STATE_LABEL[real_failures[0].state], real_failures[0].detail
        elif repeats < 2:
            verdict, detail = UNTESTED, "one repeat: run with --repeats 2 or more"
        else:
            verdict, detail = (NO if differing else YES), ""
        rows.append([*key, verdict, repeats, " ".join(differing), detail])
    return Table(["scenario", "seeding", "cell", "reproducible", "repeats", "differing",
                  "detail"], rows)


def minimal_seeding_table(evidence: Evidence, repro: Table, cells: list[str]) -> Table:
    """Per scenario and cell: the weakest seeding that reproduces it without relying on
    chance and keeps its goals (``advice.weakest_mode``); else why none does."""
    lookup: dict[tuple[str, str], list[str]] = {}
    for r in repro.records():
        lookup.setdefault((r["scenario"], r["cell"]), []).append(r["reproducible"])
    rows = []
    for scenario in sorted({r[0] for r in repro.rows}):
        labels = []
        for cell in cells:
            verdicts = lookup.get((scenario, cell))
            mode = advice.weakest_mode(evidence, cell, scenario) if verdicts else None
            labels.append(mode or _why_no_mode(verdicts))
        rows.append([scenario, *labels, " ".join(changes_at(labels, cells))])
    return Table(["scenario", *cells, "changes_at"], rows)


def _why_no_mode(verdicts: list[str] | None) -> str:
    if not verdicts:
        return NOT_MEASURED
    if all(v == STATE_LABEL[NA] for v in verdicts):
        return STATE_LABEL[NA]
    failed = [v for v in verdicts if v in (STATE_LABEL[ERROR], STATE_LABEL[TIMEOUT])]
    if failed:
        return failed[0]
    if UNTESTED in verdicts and YES not in verdicts and NO not in verdicts:
        return UNTESTED
    return advice.NO_MODE


def _source_text(entry) -> str:
    if entry is None:
        return NOT_MEASURED
    kind, seen = entry
    if seen.state != OK:
        return STATE_LABEL[seen.state]
    return "|".join(text(kind, v) or "missing" for v in seen.values)


def _source_rank(metric: str) -> tuple:
    """Generators (main process, then workers, then other processes), the recipe, calls."""
    for i, prefix in enumerate(("rng.", "rng.worker.", "rng.process.")):
        name = metric[len(prefix):]
        if metric.startswith(prefix) and name in GENERATORS:
            return (0, i, GENERATORS.index(name))
    return (1, 0, 0) if metric == RECIPE_METRIC else (2, 0, 0)


def sources_table(expanded: dict, cells: list[str], modes: list[str]) -> Table:
    """Per (scenario, seeding, generator or API): each cell's value, under every mode.

    Generator rows are 1 where the scenario's results depend on that generator's
    draws; ``rng.worker.*``/``rng.process.*`` are its DataLoader workers and other
    processes; the most called APIs of each (scenario, seeding) follow, each with the
    generator it drew from (``rng.generator.<api>``) where the cell recorded it.
    """
    table = _pivot(expanded, lambda m: m.startswith(RNG_PREFIX))
    by_run: dict[tuple[str, str], list[str]] = {}
    for scenario, seeding, metric in table:
        by_run.setdefault((scenario, seeding), []).append(metric)
    rows = []
    rank = _mode_rank(modes)
    for scenario, seeding in sorted(by_run, key=lambda k: (k[0], rank.get(k[1], 99))):
        metrics = by_run[(scenario, seeding)]
        fixed = sorted((m for m in metrics if _source_rank(m)[0] < 2), key=_source_rank)
        calls = [m for m in metrics if _source_rank(m)[0] == 2 and ".calls." in m]
        present = set(metrics)

        def most(metric):
            counts = [v for _, seen in table[(scenario, seeding, metric)].values()
                      if seen.state == OK for v in seen.values if isinstance(v, int)]
            return -max(counts, default=0), metric
        chosen = []
        for metric in sorted(calls, key=most)[:TOP_CALLS]:
            chosen.append(metric)
            generator = metric.replace(".calls.", ".generator.", 1)
            if generator in present:
                chosen.append(generator)
        for metric in fixed + chosen:
            per_cell = table[(scenario, seeding, metric)]
            values = [_source_text(per_cell.get(c)) for c in cells]
            rows.append([scenario, seeding, metric, *values, " ".join(changes_at(values, cells))])
    return Table(["scenario", "seeding", "metric", *cells, "changes_at"], rows)


def accuracy_table(expanded: dict, meta: dict, cells: list[str], modes: list[str]):
    """Rows = cells, columns = pixel_accuracy under each seeding mode, plus a note."""
    lookup = {(cell, seeding): seen for (cell, scenario, seeding, metric), (_, seen)
              in expanded.items() if scenario == ACCURACY_SCENARIO and metric == ACCURACY_METRIC}
    present = bool(lookup)
    out = []
    for cell in cells:
        info = meta[cell]
        values, notes = [], []
        for mode in modes:
            seen = lookup.get((cell, mode))
            if not present:
                values.append("")
            elif seen is None:
                values.append(NOT_MEASURED)
            elif seen.state != OK:
                values.append(STATE_LABEL[seen.state])
                if seen.state != NA:
                    notes.append(f"{mode}: {seen.detail}")
            elif len(seen.values) == 1:
                values.append(seen.values[0])
            else:
                numbers = [v for v in seen.values if isinstance(v, float)]
                values.append(round(sum(numbers) / len(numbers), 6) if numbers else "")
                spread = sorted(numbers)
                notes.append(f"{mode}: repeats disagree ({spread[0]:.4f}…{spread[-1]:.4f}); "
                             "mean shown")
        if not present:
            notes = [f"{ACCURACY_SCENARIO} not in this run"]
        out.append([cell, info["python"], info["torch"], info["torchvision"], *values,
                    "; ".join(notes)])
    columns = ["cell", "python", "torch", "torchvision", *map(accuracy_column, modes), "note"]
    return Table(columns, out), present


META_COLUMNS = ("python", "torch", "torchvision", "numpy", "pillow", "device", "platform")


def cell_meta(loaded: Loaded, cells: list[str]) -> dict[str, dict[str, str]]:
    return {cell: {c: loaded.meta(cell, c) for c in META_COLUMNS} if cell in loaded.first
            else dict.fromkeys(META_COLUMNS, "") for cell in cells}


def failing_everywhere(evidence: Evidence, cells: list[str]) -> list[tuple[str, str]]:
    """(scenario, detail) of the scenarios that fail (or whose goals fail: a test that
    passes nowhere) in every cell that ran them, under every mode: their expected
    results do not hold here, and no upgrade step can show it."""
    out = []
    for scenario, keys in evidence.by_scenario.items():
        seen = [(key, evidence.at(key, c)) for key in keys for c in cells
                if evidence.at(key, c).measured]
        if not seen or any(o.state == NA for _, o in seen):
            continue
        goals = evidence.goals.get(scenario, {})
        if all(o.failed for _, o in seen):
            out.append((scenario, seen[0][1].detail))
        elif goals and all(_goal_fails(goals.get(key[2]), o) for key, o in seen
                           if key[2] in goals) and all(o.state == OK for _, o in seen):
            out.append((scenario, "its goals fail in every cell"))
    return sorted(out)


def _goal_fails(direction, seen) -> bool:
    """A pass/fail goal (a test's ``passed``: 1 up) that is at its bad end."""
    values = [v for v in seen.values if isinstance(v, int) and not isinstance(v, bool)]
    bad = 0 if direction == "up" else 1
    return bool(values) and all(v == bad for v in values) and seen.state == OK


def build(loaded: Loaded, tol: Tolerance, user_only: bool = False) -> Report:
    """The report of a run; ``user_only``: only the team's own scenarios (``--user-only``
    runs), so no canonical section is shown."""
    cells = loaded.cells
    column = loaded.column
    ran = set(column("seeding")) - {""}
    modes = seeding_modes.weakest_first(ran)
    expanded = expand(loaded, tol)
    meta = cell_meta(loaded, cells)
    evidence = Evidence.of(loaded, expanded, cells, tol)
    drift, shown = drift_table(expanded, cells, modes, tol)
    repro = reproducibility_table(expanded, cells, modes)
    accuracy, accuracy_present = accuracy_table(expanded, meta, cells, modes)
    repeats = max((int(r) for r in set(column("repeat")) if r), default=0)
    steps_ = compat.steps(cells)  # one package at a time where --vary made the cells
    changes = [t for before, after in steps_ for t in findings.transitions(evidence, before, after)]
    scenarios = sorted(s for s in set(column("scenario")) if not s.startswith(CELL_LEVEL))
    # A user's scenario carries its code identity (``code.sha256``); canonical ones do not.
    users = {s for s, m in zip(column("scenario"), column("metric")) if m in CODE_METRICS} \
        if set(CODE_METRICS) & set(column("metric")) else set()
    user_only = user_only or bool(scenarios) and set(scenarios) <= users
    return Report(
        run_id=", ".join(sorted(set(column("run_id")))), run_path=loaded.source,
        cells=cells, meta=meta, modes=modes, scenarios=scenarios, repeats=repeats, tol=tol,
        loaded=loaded, drift=drift, shown=shown, reproducibility=repro,
        sources=sources_table(expanded, cells, modes),
        minimal_seeding=minimal_seeding_table(evidence, repro, cells), accuracy=accuracy,
        accuracy_present=accuracy_present, failures=cell_failures(loaded),
        interrupted=loaded.interrupted, notes=loaded.notes, evidence=evidence,
        findings=findings.findings(evidence, changes), background=background_accuracy(expanded),
        failing_everywhere=failing_everywhere(evidence, cells), user_only=user_only,
        upgrade_steps=steps_)


def background_accuracy(expanded: dict) -> float | None:
    """What predicting background everywhere scores in the accuracy scenario (the floor
    its pixel accuracy falls to when masks stop matching their images)."""
    values = {v for (_, scenario, _, metric), (_, seen) in expanded.items()
              if scenario == ACCURACY_SCENARIO and metric == "background_accuracy"
              and seen.state == OK for v in seen.values if v is not None}
    return float(next(iter(values))) if len(values) == 1 else None
