"""Helpers for the loader/train/misc scenario tests (tests/test_scenarios_*.py).

Family tests take their rows from ``conftest.family_cells``;
``check_shape`` asserts what every scenario row must look like; ``metric``
reads one value. (tests/scenariorows.py does the same for a fixed set of modes.)
"""
from __future__ import annotations

import math
import re

from scenariorows import metrics, statuses  # noqa: F401 (re-exported for the family tests)

HEX16 = re.compile(r"^[0-9a-f]{16}$")


def metric(rows, scenario, seeding, name, repeat="1"):
    """A metric's value (float for numbers and counts, str otherwise)."""
    row = metrics(rows, scenario, seeding, repeat)[name]
    return float(row.value) if row.kind in ("number", "count", "timing") else row.value


def check_shape(rows, names, modes, repeats, fingerprints_of, fractions_of=lambda name: (),
                may_fail=()):
    """Every (scenario, mode, repeat) has one status row, ``ok`` or ``n/a`` with a
    reason (``error`` only for the scenarios in ``may_fail``); ok rows carry 16-hex
    fingerprints for ``fingerprints_of(name)``, values in [0, 1] for
    ``fractions_of(name)``, finite non-negative numbers."""
    status = statuses(rows)
    expected = {(n, m, str(r)) for n in names for m in modes for r in range(1, repeats + 1)}
    assert set(status) == expected, sorted(set(status) ^ expected)
    for key, (state, detail) in status.items():
        assert state in ("ok", "n/a") or (state == "error" and key[0] in may_fail), \
            (key, state, detail)
        assert (state != "ok") == bool(detail.strip()), (key, state, detail)
        got = metrics(rows, *key)
        if state != "ok":
            assert not got, key
            continue
        assert "seconds" in got, key
        for name in fingerprints_of(key[0]):
            assert name in got, (key, name)
            assert got[name].kind == "fingerprint", (key, name)
            assert HEX16.match(got[name].value), (key, name, got[name].value)
        for name in fractions_of(key[0]):
            assert name in got, (key, name)
            assert 0.0 <= float(got[name].value) <= 1.0, (key, name, got[name].value)
        for row in got.values():
            if row.kind in ("number", "timing", "count"):
                assert math.isfinite(float(row.value)) and float(row.value) >= 0, row
    return status
