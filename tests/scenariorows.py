"""Shape checks shared by the scenario-family tests (tests/test_scenarios_*.py).

Family tests take their rows from ``conftest.family_cells`` (one shared full run
per cell); ``check_shape`` asserts what every family
must give: a status row for every registered scenario, seeding mode and repeat;
``n/a`` only with a reason; no errors; for ok rows 16-hex fingerprints for the
metrics the family promises and finite numbers.
"""
from __future__ import annotations

import math
import re

from _rngdrift.harness.cell import schema

MODES = ("python", "torch", "all")
REPEATS = 2
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def statuses(rows) -> dict:
    """(scenario, seeding, repeat) -> (status, detail)."""
    return {(r.scenario, r.seeding, r.repeat): (r.status, r.detail)
            for r in rows if r.metric == schema.STATUS_METRIC}


def metrics(rows, scenario, seeding, repeat="1") -> dict:
    return {r.metric: r for r in rows
            if (r.scenario, r.seeding, r.repeat) == (scenario, seeding, repeat)
            and r.metric != schema.STATUS_METRIC}


def check_shape(rows, names, fingerprints_of):
    """``fingerprints_of(name)``: the fingerprint metrics an ok row of ``name`` must have."""
    status = statuses(rows)
    expected = {(n, m, str(r)) for n in names for m in MODES for r in range(1, REPEATS + 1)}
    assert set(status) == expected, sorted(set(status) ^ expected)
    for key, (state, detail) in status.items():
        assert state in ("ok", "n/a"), (key, state, detail)
        assert (state == "n/a") == bool(detail.strip()), (key, state, detail)
        if state != "ok":
            assert not metrics(rows, *key), key
            continue
        got = metrics(rows, *key)
        for metric in fingerprints_of(key[0]):
            assert metric in got, (key, metric)
            assert got[metric].kind == "fingerprint", (key, metric)
            assert HEX16.match(got[metric].value), (key, metric, got[metric].value)
        for metric, row in got.items():
            if row.kind in ("number", "timing"):
                assert math.isfinite(float(row.value)) and float(row.value) >= 0, row
            if row.kind == "count":
                assert int(row.value) >= 0, row
    return status
