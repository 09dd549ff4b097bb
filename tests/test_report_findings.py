"""harness.report.findings, advice, catalog and upgrade: how a change is classified,
explained and fixed, from hand-made runs."""
from __future__ import annotations

import pytest

from _rngdrift.harness import cli
from _rngdrift.harness.errors import UserError
from _rngdrift.harness.report import advice, catalog, findings, upgrade
from _rngdrift.harness.report.evidence import Evidence, Observation
from _rngdrift.harness.report.tables import build
from _rngdrift.harness.results.frames import Tolerance, load_run
from resultrows import NEW, OLD, TV07, TV08, Text, everywhere, write_run

GOAL = {"goal.pair_consistency": Text("up")}
PY = {"rng.python": 1, "rng.numpy": 1, "rng.torch": 0, "rng.calls.random.random": 400}
TORCH = {"rng.python": 0, "rng.numpy": 1, "rng.torch": 1, "rng.calls.torch.rand": 400}


def _report(tmp_path, rows):
    run = write_run(tmp_path / "run", rows)
    return build(load_run(run), Tolerance())


def _pairs(cell, python, torch, calls, all_=1.0):
    """pairs.hflip-like: the value under each mode (None: the repeats disagree)."""
    def metrics(seeding, repeat):
        value = {"python": python, "torch": torch, "all": all_}[seeding]
        return {"pair_consistency": 0.5 + repeat / 100 if value is None else value,
                **GOAL, **calls}
    return everywhere(cell, "pairs.hflip", metrics, seedings=("python", "torch", "all"))


def test_a_goal_that_gets_materially_worse_is_broken_and_explained(tmp_path):
    report = _report(tmp_path, _pairs(OLD, 1.0, None, PY) + _pairs(TV07, None, 1.0, TORCH))
    (broken,) = [f for f in report.findings if f.severity == "broken"]
    assert broken.cause.id == "tv-0.7-flips-colorjitter-torch-rng"
    assert (broken.before_cell, broken.after_cell) == (OLD, TV07)
    assert broken.transitions[0].seeding == "python"
    assert "`random.random` 400 → 0" in broken.mechanism
    assert "`torch.rand` 0 → 400" in broken.mechanism
    assert "`python` seeding does not seed torch" in broken.mechanism
    assert broken.fix.mode == "all" and broken.fix.add[0] == "torch.manual_seed(seed)"


def test_a_small_move_of_a_goal_is_drift_not_broken(tmp_path):
    rows = _pairs(OLD, 0.98, None, PY, all_=0.98) + _pairs(TV07, 0.979, None, PY, all_=0.979)
    severities = {f.severity for f in _report(tmp_path, rows).findings}
    assert "broken" not in severities and "drift" in severities


def test_drift_says_no_seeding_brings_the_old_numbers_back(tmp_path):
    rows = [r for cell, fp in ((OLD, "aa"), (NEW, "bb"))
            for r in everywhere(cell, "augment.hflip", {"output": fp, "rng.torch": 1},
                                seedings=("all",))]
    (drift,) = _report(tmp_path, rows).findings
    assert drift.severity == "drift" and "No seeding brings the old numbers back" in drift.fix.text


def test_chance_agreement_under_an_unseeded_generator_is_noise(tmp_path):
    """Two repeats that agree under `python` while the scenario draws from torch: both
    sides unseeded, so a move the size chance makes (0.47 and 0.53 are two real runs
    of pairs.hflip) is noise, never a finding or advice."""
    rows = [r for cell, v in ((OLD, 0.47), (NEW, 0.53))
            for r in everywhere(cell, "pairs.pipeline", {"pair_consistency": v, **GOAL, **TORCH},
                                seedings=("python",))]
    report = _report(tmp_path, rows)
    assert [f.severity for f in report.findings] == ["noise"]
    assert report.minimal_seeding.iloc[0][OLD] == advice.NO_MODE


def test_weakest_mode_must_seed_every_generator_drawn(tmp_path):
    report = _report(tmp_path, _pairs(TV07, None, 1.0, TORCH))
    # `torch` reproduces it, but the scenario also draws from NumPy: only `all` counts
    assert advice.valid_modes(report.evidence, TV07, "pairs.hflip") == ["all"]
    assert advice.weakest_mode(report.evidence, TV07, "pairs.hflip") == "all"


def test_the_weakest_mode_keeps_the_goals(tmp_path):
    rows = everywhere(OLD, "pairs.hflip", lambda s, r: {
        "pair_consistency": {"python": 0.5, "all": 1.0}[s], **GOAL, **PY},
        seedings=("python", "all"))
    report = _report(tmp_path, rows)
    assert advice.valid_modes(report.evidence, OLD, "pairs.hflip") == ["python", "all"]
    assert advice.weakest_mode(report.evidence, OLD, "pairs.hflip") == "all"


def test_code_to_add_is_the_difference_between_two_modes():
    assert advice.code_to_add("python", "all") == ("torch.manual_seed(seed)",
                                                   "torch.cuda.manual_seed_all(seed)")
    assert advice.code_to_add("torch", "full")[:2] == ("random.seed(seed)",
                                                       "np.random.seed(seed)")
    assert "torch.use_deterministic_algorithms(True)" in advice.code_to_add("all", "full")


@pytest.mark.parametrize("before, after, expected", [
    (("1.0",), ("0.5", "0.52"), True), (("0.0",), ("1.0",), False),
    (("0.98",), ("0.979",), None), (("0.5", "0.7"), ("0.6",), None)])
def test_worse_needs_every_repeat_past_the_material_margin(before, after, expected):
    assert findings.worse("up", Observation("ok", before), Observation("ok", after),
                          Tolerance()) is expected


def test_catalog_matches_by_release_scenario_and_draws():
    tv06, tv07 = {"torchvision": "0.6.0"}, {"torchvision": "0.7.0"}
    moved = {"random.random": (400, 0), "torch.rand": (0, 400)}
    assert catalog.match("pairs.hflip", tv06, tv07, moved).id == \
        "tv-0.7-flips-colorjitter-torch-rng"
    assert catalog.match("pairs.hflip", tv07, tv07, moved) is None       # no release crossed
    # a scenario its rows name only counts at their releases
    assert catalog.match("streams.trunc_normal", tv06, tv07, {"torch.Tensor.uniform_": (8, 9)}) is None
    # one no row names (the user's own code) is matched by its draws: both sides moved
    assert catalog.match("call.mine.preview", tv06, tv07, moved).id == \
        "tv-0.7-flips-colorjitter-torch-rng"
    assert catalog.match("call.mine.preview", tv06, tv07, {"random.random": (400, 0)}) is None
    assert catalog.match("call.mine.preview", {"torchvision": "0.6.0"}, {"torchvision": "0.29.2"},
                         {"random.randint": (800, 0), "torch.randint": (0, 800),
                          "random.random": (8, 0), "torch.rand": (0, 8)}).id == \
        "tv-0.8-transforms-torch-rng"  # the row that explains the most moved calls
    assert catalog.match("pairs.hflip", tv06, tv07, {}) is None          # draws did not move
    assert catalog.match("python.tuple_seed", {"python": "3.10.13"},
                         {"python": "3.11.7"}, {}).package == "python"


def test_the_upgrade_question_collapses_the_steps_between(tmp_path, capsys):
    rows = (_pairs(OLD, 1.0, None, PY) + _pairs(TV07, None, 1.0, TORCH)
            + _pairs(TV08, None, 1.0, TORCH) + _pairs(NEW, None, 1.0, TORCH))
    run = write_run(tmp_path / "run", rows)
    assert cli.main(["report", str(run), "--from", "1.5", "--to", "tv0.29"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Upgrading from torch 1.5.0 / torchvision 0.6.0 to torch 2.15.0")
    assert "**Broken** at torchvision 0.6.0 → 0.7.0" in out  # where it first appeared
    assert not (run / "report.md").exists()  # a question writes nothing into the run
    report = build(load_run(run), Tolerance())
    found = upgrade.upgrade(report.evidence, OLD, NEW)
    assert {f.first_seen for f in found if f.severity == "broken"} == {TV07}


def test_upgrade_versions_resolve_to_cells_or_say_what_exists(tmp_path):
    report = _report(tmp_path, _pairs(OLD, 1.0, None, PY) + _pairs(NEW, None, 1.0, TORCH))
    versions = report.evidence.versions
    assert upgrade.resolve("1.5", report.cells, versions, "--from") == OLD
    assert upgrade.resolve("0.29.2", report.cells, versions, "--to") == NEW
    assert upgrade.resolve(NEW, report.cells, versions, "--to") == NEW
    with pytest.raises(UserError, match="--to 9.9: no cell of this run"):
        upgrade.resolve("9.9", report.cells, versions, "--to")


def test_compare_two_cells_of_two_runs_exits_1_when_something_broke(tmp_path, capsys):
    base = write_run(tmp_path / "base", _pairs(OLD, 1.0, None, PY))
    cand = write_run(tmp_path / "cand", _pairs(NEW, None, 1.0, TORCH))
    assert cli.main(["compare", str(base), str(cand), "--from", OLD, "--to", NEW,
                     "--out", str(tmp_path / "out")]) == 1
    assert "**Broken**" in (tmp_path / "out" / "compare.md").read_text()


def test_evidence_reads_goals_calls_and_drawn_generators(tmp_path):
    report = _report(tmp_path, _pairs(OLD, 1.0, None, PY))
    evidence: Evidence = report.evidence
    assert evidence.goals == {"pairs.hflip": {"pair_consistency": "up"}}
    assert evidence.calls[(OLD, "pairs.hflip", "python")] == {"random.random": 400}
    assert evidence.unseeded(OLD, "pairs.hflip", "torch") == {"python", "numpy"}


def test_a_goal_no_seeding_brings_back_asks_for_a_code_change(tmp_path):
    """The user's segmentation Dataset at the newest torchvision: image and mask no longer
    match under any mode, even where every repeat agrees. Seeding is no advice there."""
    rows = _pairs(OLD, 1.0, None, PY, all_=1.0) + _pairs(TV08, 0.0, 0.0, TORCH, all_=0.0)
    (broken,) = [f for f in _report(tmp_path, rows).findings if f.severity == "broken"]
    assert broken.fix.mode is None and not broken.fix.add
    assert broken.fix.text.startswith("No seeding brings the goals back: even seeded like `all`")
    assert "`pair_consistency` 0 (was 1)" in broken.fix.text and "code has to change" in broken.fix.text
