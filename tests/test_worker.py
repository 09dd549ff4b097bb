import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import rngstate, seeding, tracing, worker  # noqa: E402
from _rngdrift.harness.cell.fingerprint import fingerprint  # noqa: E402
from _rngdrift.harness.cell.registry import NotApplicable, Scenario  # noqa: E402

INSTALLED = {"torch": "2.0.0", "torchvision": "0.15.0", "python": "3.11.0", "numpy": "1.24.4",
             "cuda": False}


def _sc(func, **requires):
    return Scenario("t." + func.__name__, func, requires, False, None)


def _rows(rows):
    return {metric: (kind, value) for metric, kind, value in rows}


@pytest.fixture(scope="module", autouse=True)
def traced():
    tracing.install()


def test_ok_scenario_rows_carry_metrics_sources_and_timing():
    def draws(ctx):
        return {"x": fingerprint(torch.rand(2)), "p": 0.5, "n": 3, "flag": True, "t": "hi"}
    _, status, detail, rows = worker.run_one(_sc(draws), seeding.Context("torch"), INSTALLED,
                                         rngstate.snapshot())
    got = _rows(rows)
    assert (status, detail) == ("ok", "")
    assert got["p"] == ("number", "0.5") and got["n"] == ("count", "3")
    assert got["flag"] == ("count", "1") and got["t"] == ("text", "hi")
    assert got["x"][0] == "fingerprint"
    assert got["rng.torch"] == ("count", "1") and got["rng.python"] == ("count", "0")
    assert got["rng.calls.torch.rand"] == ("count", "1")
    assert got["seconds"][0] == "timing"


def test_every_scenario_starts_from_the_snapshot_then_the_mode():
    def first_draw(ctx):
        return {"r": random.random(), "t": float(torch.rand(1))}
    snap = rngstate.snapshot()
    sc = _sc(first_draw)
    a = _rows(worker.run_one(sc, seeding.Context("none"), INSTALLED, snap).rows)
    random.random(), torch.rand(5)  # whatever happened in between is undone
    b = _rows(worker.run_one(sc, seeding.Context("none"), INSTALLED, snap).rows)
    assert a["r"] == b["r"] and a["t"] == b["t"]
    seeded = _rows(worker.run_one(sc, seeding.Context("all"), INSTALLED, snap).rows)
    random.seed(seeding.SEED)
    assert seeded["r"] == ("number", repr(random.random()))


def test_failures_become_statuses_not_exceptions():
    def boom(ctx):
        raise ValueError("bad\nthing")

    def missing(ctx):
        raise NotApplicable("needs a GPU")

    def wrong_type(ctx):
        return {"x": object()}
    ctx, snap = seeding.Context("all"), rngstate.snapshot()
    _, status, detail, rows = worker.run_one(_sc(boom), ctx, INSTALLED, snap)
    assert status == "error" and detail.startswith("ValueError: bad | thing (at test_worker.py:")
    assert rows == []
    assert worker.run_one(_sc(missing), ctx, INSTALLED, snap)[1:3] == ("n/a", "needs a GPU")
    _, status, detail, _ = worker.run_one(_sc(wrong_type), ctx, INSTALLED, snap)
    assert status == "error" and "unsupported type" in detail


def test_version_gate_gives_na_with_reason():
    def never(ctx):
        raise AssertionError("must not run")
    _, status, detail, rows = worker.run_one(_sc(never, torch=">=2.1"), seeding.Context("all"),
                                         INSTALLED, rngstate.snapshot())
    assert (status, detail, rows) == ("n/a", "needs torch>=2.1; cell has 2.0.0", [])


def test_numpy_and_tensor_scalars_are_numbers():
    rows = worker.encode_metrics({"a": np.float32(0.25), "b": torch.tensor(2.5), "c": np.int64(4)})
    assert rows == [("a", "number", "0.25"), ("b", "number", "2.5"), ("c", "count", "4")]
