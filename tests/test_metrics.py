"""harness.cell.metrics: whatever user code returns or records becomes metric rows."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from _rngdrift.harness.cell import metrics, worker  # noqa: E402
from _rngdrift.harness.cell.fingerprint import Fingerprint, fingerprint  # noqa: E402


def rows(value, **kwargs):
    return {name: (kind, text) for name, kind, text in
            worker.encode_metrics(metrics.auto_metrics(value, **kwargs))}


def test_a_bare_number_is_value():
    assert rows(0.25) == {"value": ("number", "0.25")}
    assert rows(3) == {"value": ("count", "3")}
    assert rows(True) == {"value": ("count", "1")}
    assert rows(np.float32(0.5)) == {"value": ("number", "0.5")}
    assert rows(torch.tensor(2.0)) == {"value": ("number", "2.0")}
    assert rows(np.array(7)) == {"value": ("count", "7")}


def test_tensors_and_arrays_are_fingerprinted_with_shape_and_dtype():
    weights = torch.arange(6, dtype=torch.float32).view(2, 3)
    out = rows({"w": weights, "a": np.zeros((4,), dtype=np.int64)})
    assert out["w"] == ("fingerprint", fingerprint(weights))
    assert out["w.shape"] == ("text", "2x3") and out["w.dtype"] == ("text", "torch.float32")
    assert out["a.shape"] == ("text", "4") and out["a.dtype"] == ("text", "int64")
    # a one-element tensor with a dimension is an array, not a number
    assert rows(torch.ones(1))["value.shape"] == ("text", "1")


def test_images_are_fingerprinted_with_size_and_mode():
    image = Image.fromarray(np.zeros((4, 5, 3), dtype=np.uint8), "RGB")
    out = rows(image)
    assert out == {"value": ("fingerprint", fingerprint(image)),
                   "value.size": ("text", "5x4"), "value.mode": ("text", "RGB")}


def test_nested_containers_are_taken_apart():
    out = rows({"loss": 0.5, "scores": (1, 2.5), "model": {"fc": {"bias": torch.zeros(2)}},
                "name": "run-1", "nothing": None})
    assert out["loss"] == ("number", "0.5")
    assert out["scores[0]"] == ("count", "1") and out["scores[1]"] == ("number", "2.5")
    assert out["model.fc.bias.shape"] == ("text", "2")
    assert out["name"] == ("text", "run-1") and out["nothing"] == ("text", "None")
    assert rows([0.1, 0.2]) == {"value[0]": ("number", "0.1"), "value[1]": ("number", "0.2")}


def test_a_long_sequence_is_one_fingerprint_and_its_length():
    losses = [float(i) for i in range(100)]
    assert rows({"losses": losses}) == {"losses": ("fingerprint", fingerprint(losses)),
                                        "losses.len": ("count", "100")}


def test_rngdrift_s_own_names_get_a_prefix_and_bad_ones_fail():
    assert set(rows({"seconds": 1.0, "status": "x", "rng.calls": 2})) == {
        "value.seconds", "value.status", "value.rng.calls"}
    with pytest.raises(ValueError, match="starts with '='"):
        metrics.auto_metrics({"=cmd": 1})
    assert rows(float("nan")) == {"value": ("number", "nan")}
    assert math.isinf(float(rows({"x": float("inf")})["x"][1]))


def test_an_object_that_is_none_of_these_names_its_path():
    with pytest.raises(TypeError, match=r"model: cannot make a metric of a Linear"):
        metrics.auto_metrics({"model": torch.nn.Linear(2, 2)})


def test_recorder_keeps_the_last_value_under_a_name():
    recorder = metrics.Recorder()
    recorder.record("loss", 1.0)
    recorder.record("stats", {"a": 1, "b": torch.zeros(3)})
    recorder.record("loss", 0.5)
    recorder.record("stats", {"a": 2})
    assert dict(recorder.metrics) == {"loss": 0.5, "stats.a": 2}
    weights = torch.ones(2)
    recorder.record("w", weights)
    weights += 1  # recorded when recorded
    assert recorder.metrics["w"] == fingerprint(torch.ones(2))
    again = metrics.decode(recorder.encodable())
    assert isinstance(again["w"], Fingerprint) and again["loss"] == 0.5
    with pytest.raises(TypeError):
        recorder.record(3, 1.0)


def test_rngdrift_record_does_nothing_outside_rngdrift():
    import rngdrift
    assert not rngdrift.active()
    value = object()
    assert rngdrift.record("x", value) is value


# -- goals the code declares --------------------------------------------------------

def test_a_recorded_goal_stays_with_the_names_numbers():
    recorder = metrics.Recorder()
    recorder.record("accuracy", 0.5, goal="up")
    recorder.record("accuracy", 0.75)             # a later value keeps the goal
    recorder.record("losses", {"train": 0.3, "val": torch.tensor(0.4)}, goal="down")
    recorder.record("note", "fine")
    assert recorder.metrics.goals == {"accuracy": "up", "losses.train": "down",
                                      "losses.val": "down"}
    again = metrics.decode(recorder.encodable())  # through the fork's pipe
    assert again.goals == recorder.metrics.goals and again["accuracy"] == 0.75
    assert metrics.Metrics(again).goals == again.goals  # a copy keeps them


@pytest.mark.parametrize("name,value,goal,problem", [
    ("accuracy", 0.5, "higher", "goal must be 'up' or 'down'"),
    ("weights", torch.ones(3), "up", "a goal needs a number, and Tensor is none"),
])
def test_a_goal_that_cannot_be_is_an_error_naming_it(name, value, goal, problem):
    with pytest.raises(ValueError, match=problem):
        metrics.Recorder().record(name, value, goal=goal)


def test_rngdrift_record_passes_its_goal_and_checks_it_even_outside_rngdrift():
    import rngdrift
    from _rngdrift.harness.cell import sink
    with pytest.raises(ValueError, match="goal must be 'up' or 'down'"):
        rngdrift.record("loss", 0.1, goal="lower")
    recorder = metrics.Recorder()
    sink.receive(recorder.record)
    try:
        assert rngdrift.record("loss", 0.1, goal="down") == 0.1
        rngdrift.record("seen", 2)
    finally:
        sink.receive(None)
    assert dict(recorder.metrics) == {"loss": 0.1, "seen": 2}
    assert recorder.metrics.goals == {"loss": "down"}


def test_declared_goals_become_goal_rows_next_to_the_scenarios_own(monkeypatch):
    from _rngdrift.harness.cell import registry, rngstate, seeding

    def run(ctx):
        found = metrics.Metrics(loss=0.2, passed=1)
        found.goals["loss"] = "down"
        return found
    sc = registry.Scenario("t.goals", run, {}, False, None, {"passed": "up"})
    monkeypatch.setattr(worker, "ATTRIBUTION", False)
    result = worker.run_one(sc, seeding.Context("none"), {}, rngstate.snapshot())
    goal_rows = [row for row in result.rows if row[0].startswith("goal.")]
    assert goal_rows == [("goal.loss", "text", "down"), ("goal.passed", "text", "up")]
