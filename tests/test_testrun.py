"""--pytest: each test one scenario with one event (``passed``, the goal) and, when it
fails, a ``failure`` row naming the test's own line and the values that differ
(harness/cell/testrun.py). Run here in forks of this process, as the cell does; in real
cells: tests/test_usercode_cells.py."""
from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import registry, seeding, testrun  # noqa: E402

SUITE = textwrap.dedent('''
    import numpy as np
    import pytest
    import rngdrift
    import torch


    def test_pinned_values():
        torch.manual_seed(0)
        np.testing.assert_allclose(torch.rand(4).numpy(), [0.5, 0.7, 0.08, 0.13], rtol=1e-3)


    def test_pinned_loss():
        loss = rngdrift.record("loss", 0.25 + 0.0012, goal="down")
        assert loss == 0.25


    def test_approx():
        assert 0.2512 == pytest.approx(0.25)


    def test_needs(missing_fixture):
        pass


    @pytest.mark.skip(reason="not on this machine")
    def test_skipped():
        pass


    @pytest.mark.xfail(reason="known")
    def test_known():
        assert False


    def test_fine():
        pass
''')
ALLCLOSE = ("AssertionError (tests/test_pinned.py:10): Not equal to tolerance rtol=0.001, atol=0 | "
            "Mismatched elements: 4 / 4 (100%) | Max absolute difference: 0.06")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """{test name: its metrics, or the exception its scenario raised}."""
    root = tmp_path_factory.mktemp("project")
    (root / "tests").mkdir()
    (root / "tests" / "test_pinned.py").write_text(SUITE)
    saved = dict(registry.SCENARIOS)
    registry.SCENARIOS.clear()
    try:
        testrun.register({"workdir": str(root), "pytest": ["tests"]}, True)
        out = {}
        for name, sc in registry.SCENARIOS.items():
            try:
                out[name.rsplit(".", 1)[1]] = sc.func(seeding.Context("all"))
            except Exception as exc:
                out[name.rsplit(".", 1)[1]] = exc
        return out
    finally:
        registry.SCENARIOS.clear()
        registry.SCENARIOS.update(saved)


def test_one_event_per_test_passed_is_the_goal(outcomes):
    assert {name: value["passed"] for name, value in outcomes.items()
            if not isinstance(value, Exception)} == {
        "test_pinned_values": 0, "test_pinned_loss": 0, "test_approx": 0, "test_needs": 0,
        "test_known": 1, "test_fine": 1}
    assert all("outcome" not in value for value in outcomes.values()
               if not isinstance(value, Exception))
    assert set(outcomes["test_fine"]) == {"passed"}


def test_a_failure_names_the_tests_line_and_the_values_that_differ(outcomes):
    assert outcomes["test_pinned_values"]["failure"].startswith(ALLCLOSE)
    assert outcomes["test_pinned_loss"]["failure"] == \
        "AssertionError (tests/test_pinned.py:15): assert 0.2512 == 0.25"
    assert outcomes["test_approx"]["failure"] == (
        "AssertionError (tests/test_pinned.py:19): assert 0.2512 == 0.25 ± 2.5e-07 | "
        "comparison failed | Obtained: 0.2512 | Expected: 0.25 ± 2.5e-07")
    assert outcomes["test_needs"]["failure"] == (
        "error in setup: FixtureLookupError (tests/test_pinned.py:22): "
        "fixture 'missing_fixture' not found")


def test_recorded_values_keep_their_goals_and_a_skip_is_not_applicable(outcomes):
    loss = outcomes["test_pinned_loss"]
    assert loss["loss"] == 0.2512 and loss.goals == {"loss": "down"}
    skipped = outcomes["test_skipped"]
    assert isinstance(skipped, registry.NotApplicable)
    assert str(skipped) == "skipped: not on this machine"
