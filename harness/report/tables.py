"""The report's tables, built from a run's rows: drift, reproducibility, sources,
weakest seeding, accuracy. ``build`` makes the ``Report`` every renderer reads.
"""
from __future__ import annotations

import statistics

import pandas as pd

from ..matrix import compat
from ..cell.schema import ERROR, GOAL_PREFIX, NA, OK, RECIPE_METRIC, RNG_PREFIX, TIMEOUT
from . import advice, findings
from .evidence import Evidence
from .model import (
    ACCURACY_METRIC, ACCURACY_SCENARIO, DISAGREE, GENERATORS, NOT_MEASURED, NO, STATE_LABEL, TOP_CALLS, UNTESTED, YES, Report, accuracy_column, changes_at, short_value)
from ..results.frames import SEEDING_MODES, Loaded, Tolerance, cell_failures, expand, same


# -- groups -------------------------------------------------------------------

def letter(index: int) -> str:
    """A, B, …, Z, AA, AB, …"""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(ord("A") + rest) + text
    return text


def group_labels(kind: str, cells: list[tuple[str, tuple]], tol: Tolerance) -> list[str]:
    """Labels for one drift row: ``cells`` is [(state, values)] in cell order.

    A value joins the first group whose first value it equals (numbers within
    ``tol``), so letters follow first appearance from the oldest cell.
    """
    groups: list[str] = []
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


def _pivot(expanded: pd.DataFrame, cells: list[str], rows: list[str]):
    """{row key: {cell: (state, values, detail)}} and the row keys in order."""
    table: dict[tuple, dict[str, tuple]] = {}
    for r in expanded.itertuples(index=False):
        key = tuple(getattr(r, c) for c in rows)
        table.setdefault(key, {})[r.cell] = (r.state, r.distinct, r.detail, r.kind)
    return table


def _row_order(keys, modes):
    """Scenario by name, seeding weakest first, metrics in first-seen order."""
    first_seen = {k: i for i, k in enumerate(keys)}
    mode_rank = {m: i for i, m in enumerate(modes)}
    return sorted(keys, key=lambda k: (k[0], mode_rank.get(k[1], len(modes)), first_seen[k]))


# -- tables -------------------------------------------------------------------

def drift_table(expanded: pd.DataFrame, cells: list[str], modes: list[str], tol: Tolerance):
    """(drift, shown): value groups per (scenario, seeding, metric) and cell."""
    # attribution rows (rng.*) belong to sources.csv, goal declarations to no table;
    # status rows only stand in for scenarios that report no metric (results.expand)
    wanted = expanded[~expanded["metric"].str.startswith((RNG_PREFIX, GOAL_PREFIX))]
    table = _pivot(wanted, cells, ["scenario", "seeding", "metric"])
    drift_rows, shown_rows = [], []
    for key in _row_order(list(table), modes):
        per_cell = table[key]
        kind = next(iter(per_cell.values()))[3]
        observed = [(per_cell[c][0], per_cell[c][1]) if c in per_cell else (None, ())
                    for c in cells]
        labels = group_labels(kind, observed, tol)
        shown = []
        for cell, label in zip(cells, labels):
            state, values, detail, _ = per_cell.get(cell, (None, (), "", kind))
            extra = short_value(kind, values) if state == OK else detail
            shown.append(f"{label} {extra}".strip())
        changed = " ".join(changes_at(labels, cells))
        drift_rows.append([*key, kind, *labels, changed])
        shown_rows.append([*key, kind, *shown, changed])
    columns = ["scenario", "seeding", "metric", "kind", *cells, "changes_at"]
    return (pd.DataFrame(drift_rows, columns=columns, dtype=object),
            pd.DataFrame(shown_rows, columns=columns, dtype=object))


def reproducibility_table(expanded: pd.DataFrame, cells: list[str], modes: list[str]):
    """Per (scenario, seeding, cell): yes / no / untested (one repeat) / n/a / err / timeout."""
    groups: dict[tuple, list] = {}
    for r in expanded.itertuples(index=False):
        groups.setdefault((r.scenario, r.seeding, r.cell), []).append(r)
    cell_rank = {c: i for i, c in enumerate(cells)}
    keys = sorted(groups, key=lambda k: (k[0], modes.index(k[1]) if k[1] in modes else len(modes),
                                         cell_rank[k[2]]))
    rows = []
    for key in keys:
        group = groups[key]
        failed = [r for r in group if r.state != OK]
        repeats = int(max(r.repeats for r in group))
        # a metric this mode does not report (n/a: rng.recipe outside `full`) is no disagreement
        differing = [r.metric for r in group if r.state == OK and len(r.distinct) != 1]
        real_failures = [r for r in failed if r.state != NA]
        if len(failed) == len(group):
            verdict, detail = STATE_LABEL[failed[0].state], failed[0].detail
        elif real_failures:
            verdict, detail = STATE_LABEL[real_failures[0].state], real_failures[0].detail
        elif repeats < 2:
            verdict, detail = UNTESTED, "one repeat: run with --repeats 2 or more"
        else:
            verdict, detail = (NO if differing else YES), ""
        rows.append([*key, verdict, repeats, " ".join(differing), detail])
    return pd.DataFrame(rows, columns=["scenario", "seeding", "cell", "reproducible", "repeats",
                                       "differing", "detail"], dtype=object)


def minimal_seeding_table(evidence: Evidence, repro: pd.DataFrame, cells: list[str],
                          modes: list[str]) -> pd.DataFrame:
    """Per scenario and cell: the weakest seeding that reproduces it without relying on
    chance and keeps its goals (``advice.weakest_mode``); else why none does."""
    lookup: dict[tuple[str, str], list[str]] = {}
    for r in repro.itertuples(index=False):
        lookup.setdefault((r.scenario, r.cell), []).append(r.reproducible)
    rows = []
    for scenario in sorted(repro["scenario"].unique()):
        labels = []
        for cell in cells:
            verdicts = lookup.get((scenario, cell))
            mode = advice.weakest_mode(evidence, cell, scenario) if verdicts else None
            labels.append(mode or _why_no_mode(verdicts))
        rows.append([scenario, *labels, " ".join(changes_at(labels, cells))])
    return pd.DataFrame(rows, columns=["scenario", *cells, "changes_at"], dtype=object)


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
    state, values = entry[0], entry[1]
    if state != OK:
        return STATE_LABEL[state]
    return "|".join(v or "missing" for v in values)


def _source_rank(metric: str) -> tuple:
    """Generators (main process, then workers, then other processes), the recipe, calls."""
    for i, prefix in enumerate(("rng.", "rng.worker.", "rng.process.")):
        name = metric[len(prefix):]
        if metric.startswith(prefix) and name in GENERATORS:
            return (0, i, GENERATORS.index(name))
    return (1, 0, 0) if metric == RECIPE_METRIC else (2, 0, 0)


def sources_table(expanded: pd.DataFrame, cells: list[str], modes: list[str]):
    """Per (scenario, seeding, generator or API): each cell's value, under every mode.

    Generator rows are 1 where the scenario's results depend on that generator's
    draws; ``rng.worker.*``/``rng.process.*`` are its DataLoader workers and other
    processes; the most called APIs of each (scenario, seeding) follow.
    """
    rng = expanded[expanded["metric"].str.startswith(RNG_PREFIX)]
    table = _pivot(rng, cells, ["scenario", "seeding", "metric"])
    by_run: dict[tuple[str, str], list[str]] = {}
    for scenario, seeding, metric in table:
        by_run.setdefault((scenario, seeding), []).append(metric)
    rows = []
    mode_rank = {m: i for i, m in enumerate(modes)}
    for scenario, seeding in sorted(by_run, key=lambda k: (k[0], mode_rank.get(k[1], 99))):
        metrics = by_run[(scenario, seeding)]
        fixed = sorted((m for m in metrics if _source_rank(m)[0] < 2), key=_source_rank)
        calls = [m for m in metrics if _source_rank(m)[0] == 2 and ".calls." in m]

        def most(metric):
            counts = [int(v) for st, vs, *_ in table[(scenario, seeding, metric)].values()
                      if st == OK for v in vs if v.lstrip("-").isdigit()]
            return -max(counts, default=0), metric
        for metric in fixed + sorted(calls, key=most)[:TOP_CALLS]:
            per_cell = table[(scenario, seeding, metric)]
            values = [_source_text(per_cell.get(c)) for c in cells]
            rows.append([scenario, seeding, metric, *values, " ".join(changes_at(values, cells))])
    return pd.DataFrame(rows, columns=["scenario", "seeding", "metric", *cells, "changes_at"],
                        dtype=object)


def accuracy_table(expanded: pd.DataFrame, meta: pd.DataFrame, modes: list[str]):
    """Rows = cells, columns = pixel_accuracy under each seeding mode, plus a note."""
    rows_ = expanded[(expanded["scenario"] == ACCURACY_SCENARIO)
                     & (expanded["metric"] == ACCURACY_METRIC)]
    lookup = {(r.cell, r.seeding): r for r in rows_.itertuples()}
    present = not rows_.empty
    out = []
    for cell, info in meta.iterrows():
        values, notes = [], []
        for mode in modes:
            r = lookup.get((cell, mode))
            if not present:
                values.append("")
            elif r is None:
                values.append(NOT_MEASURED)
            elif r.state != OK:
                values.append(STATE_LABEL[r.state])
                if r.state != NA:
                    notes.append(f"{mode}: {r.detail}")
            elif len(r.distinct) == 1:
                values.append(r.distinct[0])
            else:
                numbers = [float(v) for v in r.distinct if v]
                values.append(repr(round(statistics.fmean(numbers), 6)) if numbers else "")
                spread = sorted(numbers)
                notes.append(f"{mode}: repeats disagree ({spread[0]:.4f}…{spread[-1]:.4f}); "
                             "mean shown")
        if not present:
            notes = [f"{ACCURACY_SCENARIO} not in this run"]
        out.append([cell, info["python"], info["torch"], info["torchvision"], *values,
                    "; ".join(notes)])
    columns = ["cell", "python", "torch", "torchvision", *map(accuracy_column, modes), "note"]
    return pd.DataFrame(out, columns=columns, dtype=object), present


def cell_meta(frame: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    columns = ["python", "torch", "torchvision", "numpy", "pillow", "device", "platform"]
    return frame.groupby("cell", sort=False)[columns].first().reindex(cells)


def build(loaded: Loaded, tol: Tolerance) -> Report:
    frame = loaded.frame
    cells = compat.order(frame["cell"].unique())
    ran = frame[frame["seeding"] != ""]
    modes = [m for m in SEEDING_MODES if m in set(ran["seeding"])]
    expanded = expand(frame, tol)
    meta = cell_meta(frame, cells)
    evidence = Evidence.of(frame, expanded, cells, tol)
    drift, shown = drift_table(expanded, cells, modes, tol)
    repro = reproducibility_table(expanded, cells, modes)
    accuracy, accuracy_present = accuracy_table(expanded, meta, modes)
    repeats = ran["repeat"].astype(int).max() if not ran.empty else 0
    steps_ = compat.steps(cells)  # one package at a time where --vary made the cells
    changes = [t for before, after in steps_ for t in findings.transitions(evidence, before, after)]
    return Report(
        run_id=", ".join(sorted(frame["run_id"].unique())), cells=cells, meta=meta, modes=modes,
        scenarios=sorted(ran["scenario"].unique()), repeats=int(repeats), tol=tol,
        matrix=frame, drift=drift, shown=shown, reproducibility=repro,
        sources=sources_table(expanded, cells, modes),
        minimal_seeding=minimal_seeding_table(evidence, repro, cells, modes), accuracy=accuracy,
        accuracy_present=accuracy_present, failures=cell_failures(frame),
        interrupted=loaded.interrupted, notes=loaded.notes, evidence=evidence,
        findings=findings.findings(evidence, changes), background=background_accuracy(expanded),
        upgrade_steps=steps_)


def background_accuracy(expanded: pd.DataFrame) -> float | None:
    """What predicting background everywhere scores in the accuracy scenario (the floor
    its pixel accuracy falls to when masks stop matching their images)."""
    rows = expanded[(expanded["scenario"] == ACCURACY_SCENARIO)
                    & (expanded["metric"] == "background_accuracy") & (expanded["state"] == OK)]
    values = {v for vs in rows["distinct"] for v in vs if v}
    return float(sorted(values)[0]) if len(values) == 1 else None
