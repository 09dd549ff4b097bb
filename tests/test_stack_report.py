"""The report over --vary cells: steps move one package, are named by it, and the stack's
catalog entries explain them (hand-made rows shaped like the measured ones)."""
from __future__ import annotations

from _rngdrift.harness.matrix import compat
from _rngdrift.harness.report import markdown
from _rngdrift.harness.report.tables import build
from _rngdrift.harness.report.words import moving_pins, version_step
from _rngdrift.harness.results.frames import Tolerance, load_run
from resultrows import NEW, OLD, Text, everywhere, write_run

GOAL = {"goal.pair_consistency": Text("up")}


def _rows(cell, scenario, metrics, seedings=("python",)):
    """Rows of ``cell`` with the NumPy/Pillow columns its id says it installed."""
    parsed = compat.parse_id(cell)
    return [r._replace(numpy=parsed.numpy, pillow=parsed.pillow)
            for r in everywhere(cell, scenario, metrics, seedings=seedings)]


def _report(tmp_path, rows):
    return build(load_run(write_run(tmp_path / "run", rows)), Tolerance())


def test_albumentations_own_generators_is_blamed_on_its_release_with_the_seed_fix(tmp_path):
    before, after = f"{NEW}-albumentations1.4.20", f"{NEW}-albumentations1.4.21"
    old_draws = {"rng.python": 1, "rng.numpy": 1, "rng.torch": 0,
                 "rng.calls.random.random": 1000, "rng.calls.random.uniform": 710}
    new_draws = {"rng.python": 0, "rng.numpy": 1, "rng.torch": 0,
                 "rng.calls.numpy.random.default_rng": 8}
    rows = _rows(before, "albumentations.pairs_reseed",
                 {"pair_consistency": 1.0, **GOAL, **old_draws}) + \
        _rows(after, "albumentations.pairs_reseed",
              {"pair_consistency": 0.0, **GOAL, **new_draws})
    report = _report(tmp_path, rows)
    assert report.upgrade_steps == [(before, after)]
    (broken,) = [f for f in report.findings if f.severity == "broken"]
    assert broken.cause.id == "albumentations-1.4.21-own-generators"
    assert "seed=42" in broken.cause.fix and "image=image, mask=mask" in broken.cause.fix
    assert "`random.random` 1000 → 0" in broken.mechanism
    step = version_step(report.evidence.versions, before, after)
    assert step == "albumentations 1.4.20 → 1.4.21"
    text = markdown.render(report)
    assert "albumentations 1.4.20 → 1.4.21" in text
    assert "albumentations-1.4.21-own-generators" in text


def test_pillow_steps_stay_on_one_axis_and_name_pillow(tmp_path):
    cells = [f"{OLD}-pillow6.2.2", f"{OLD}-pillow8.4.0", f"{NEW}-pillow9.5.0",
             f"{NEW}-pillow10.4.0"]
    outputs = {cells[0]: "aa", cells[1]: "bb", cells[2]: "cc", cells[3]: "cc"}
    rows = [r for cell in cells
            for r in _rows(cell, "augment.color_jitter",
                           {"output": outputs[cell], "rng.python": 1, "rng.numpy": 0,
                            "rng.torch": 0, "rng.calls.random.uniform": 3})]
    report = _report(tmp_path, rows)
    assert (cells[1], cells[2]) not in report.upgrade_steps  # torch and Pillow at once
    assert (cells[0], cells[1]) in report.upgrade_steps
    drift = [f for f in report.findings if f.severity == "drift"]
    jitter = next(f for f in drift if f.after_cell == cells[1])
    assert jitter.before_cell == cells[0]
    assert jitter.cause.id == "pillow-7.0-rgb-to-l-rounding"
    versions = report.evidence.versions
    assert version_step(versions, cells[0], cells[1]) == "pillow 6.2.2 → 8.4.0"
    assert moving_pins(versions, cells[0]) == ["pillow 6.2.2"]
    assert "pillow 6.2.2 → 8.4.0" in markdown.render(report)


def test_a_plain_run_names_no_pins_in_its_column_heads(tmp_path):
    rows = [r for cell in (OLD, NEW)
            for r in _rows(cell, "augment.hflip", {"output": "aa", "rng.torch": 1})]
    report = _report(tmp_path, rows)
    assert report.upgrade_steps == [(OLD, NEW)]
    assert moving_pins(report.evidence.versions, OLD) == []


def test_a_cell_that_failed_to_install_is_no_python_move():
    versions = {"a": {"python": "3.8.18", "torch": "1.5.0", "torchvision": "0.6.0",
                      "albumentations": "1.4.18"},
                "b": {"python": "3.8", "torch": "1.5.0", "torchvision": "0.6.0",
                      "albumentations": "1.4.20"},
                "c": {"python": "3.9.2", "torch": "1.5.0", "torchvision": "0.6.0"}}
    assert version_step(versions, "a", "b") == "albumentations 1.4.18 → 1.4.20"
    assert version_step(versions, "b", "c") == "python 3.8 → 3.9.2, albumentations 1.4.20 → (none)"
