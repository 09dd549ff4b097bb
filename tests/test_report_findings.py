"""harness.report.findings, advice, catalog and upgrade: how a change is classified,
explained and fixed, from hand-made runs."""
from __future__ import annotations

import dataclasses

import pytest

from _rngdrift.harness import cli
from _rngdrift.harness.errors import UserError
from _rngdrift.harness.cell import modes
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
    # the fix is the lines `all` adds to `python`, at their place, measured in both cells
    assert broken.fix.mode == "all" and "torch.manual_seed(seed)" in broken.fix.add
    assert broken.fix.add[0].startswith("# at start-up and wherever the program reseeds")
    assert broken.fix.verified.text == ("verified: `pair_consistency` 1.0 at torchvision 0.6.0 "
                                        "and 0.7.0 under `all`")


def test_a_goal_moving_less_than_it_can_tell_apart_is_no_finding(tmp_path):
    """0.98 -> 0.979 (or 0.999998 -> 1.0): a goal that moves less than its material margin
    says nothing; the verdict has no item for it."""
    rows = _pairs(OLD, 0.98, None, PY, all_=0.98) + _pairs(TV07, 0.979, None, PY, all_=0.979)
    severities = {f.severity for f in _report(tmp_path, rows).findings}
    assert not severities & {"broken", "drift"}


def test_a_goal_moving_within_its_chance_level_is_drift_not_broken(tmp_path):
    """duplicate_fraction 0.25 -> 0.375 under `full` (one of 8 pairs flipped), where the
    same metric's repeats wander by a quarter under `none`: the stream changed, the goal
    did not break."""
    def rows(cell, full, none):
        return everywhere(cell, "loader.workers", lambda s, r: {
            "duplicate_fraction": full if s == "full" else none[r - 1],
            "goal.duplicate_fraction": Text("down"), "rng.torch": 1},
            seedings=("none", "full"))
    report = _report(tmp_path, rows(OLD, 0.25, (0.25, 0.5)) + rows(TV07, 0.375, (0.125, 0.375)))
    found = {(t.seeding, t.severity) for f in report.findings for t in f.transitions}
    assert ("full", "drift") in found and not any(s == "broken" for _, s in found)


def test_drift_no_mode_brings_back_says_so_from_the_rows(tmp_path):
    rows = [r for cell, fp in ((OLD, "aa"), (NEW, "bb"))
            for r in everywhere(cell, "augment.hflip", {"output": fp, "rng.torch": 1},
                                seedings=("all",))]
    (drift,) = _report(tmp_path, rows).findings
    assert drift.severity == "drift" and drift.fix.verified is None and not drift.fix.add
    assert drift.fix.text.startswith("No seeding this run has (`all`) gives `augment.hflip` the "
                                     "same values in both cells (measured)")


def test_drift_a_mode_brings_back_is_a_verified_fix(tmp_path):
    """NumPy in workers at torch 1.9: the values drift under `all`, and the `workers` recipe
    (all + worker_init_fn) gives the same values on both sides: that is the fix, measured."""
    def rows(cell, all_value):
        return everywhere(cell, "loader.mine", lambda s, r: {
            "values": all_value if s == "all" else "same", "rng.torch": 1,
            "rng.worker.processes": 2}, seedings=("all", "workers"))
    (drift,) = _report(tmp_path, rows(TV08, "aa") + rows(NEW, "bb")).findings
    assert drift.fix.mode == "workers"
    assert drift.fix.add == ("# in every DataLoader", "DataLoader(..., worker_init_fn=seed_worker)")
    assert drift.fix.verified.measured.startswith("every value of `loader.mine` identical at")


def test_chance_agreement_under_an_unseeded_generator_is_noise(tmp_path):
    """Two repeats that agree under `python` while the scenario draws from torch: both
    sides unseeded, so a move the size chance makes (0.47 and 0.53 are two real runs
    of pairs.hflip) is noise, never a finding or advice."""
    rows = [r for cell, v in ((OLD, 0.47), (NEW, 0.53))
            for r in everywhere(cell, "pairs.pipeline", {"pair_consistency": v, **GOAL, **TORCH},
                                seedings=("python",))]
    report = _report(tmp_path, rows)
    assert [f.severity for f in report.findings] == ["unseeded"]
    assert next(report.minimal_seeding.records())[OLD] == advice.NO_MODE


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


def test_fix_candidates_seed_at_least_what_the_mode_seeds_fewest_lines_first():
    assert advice.candidates("python")[:2] == ["python-torch", "all"]
    assert "numpy" not in advice.candidates("python") and "torch" not in advice.candidates("python")
    assert advice.candidates("full") == ["ranks"]  # replaces the shared generator per rank
    lines = advice.code_lines(modes.get("full").added_to(modes.get("all")))
    assert "torch.use_deterministic_algorithms(True)  # torch >=1.8 only" in lines


@pytest.mark.parametrize("before, after, expected", [
    ((1.0,), (0.5, 0.52), True), ((0.0,), (1.0,), False),
    ((0.98,), (0.979,), None), ((0.5, 0.7), (0.6,), None)])
def test_worse_needs_every_repeat_past_the_material_margin(before, after, expected):
    assert findings.worse("up", Observation("ok", before), Observation("ok", after),
                          Tolerance()) is expected


def _match(scenario, before, after, moved, called=(), generators=None, failure=""):
    step = catalog.Step(scenario, before, after, moved,
                        frozenset(called) | {api.rpartition(" ")[2] for api in moved},
                        generators or {}, failure)
    found = catalog.match(step)
    return found.cause.id if found.cause else [c.id for c in found.candidates] or None


def test_catalog_matches_by_the_step_s_release_and_the_draws_that_moved_there():
    tv06, tv07 = {"torchvision": "0.6.0"}, {"torchvision": "0.7.0"}
    moved = {"random.random": (400, 0), "torch.rand": (0, 400)}
    assert _match("pairs.hflip", tv06, tv07, moved) == "tv-0.7-flips-colorjitter-torch-rng"
    assert _match("pairs.hflip", tv07, tv07, moved) is None       # no release crossed
    # a user's code is matched exactly like a canonical scenario: by what moved
    assert _match("call.mine.preview", tv06, tv07, moved) == "tv-0.7-flips-colorjitter-torch-rng"
    assert _match("call.mine.preview", {"torchvision": "0.6.0"}, {"torchvision": "0.29.2"},
                  {"random.randint": (800, 0), "torch.randint": (0, 800),
                   "random.random": (8, 0), "torch.rand": (0, 8)}) == \
        "tv-0.8-transforms-torch-rng"  # the row that explains the most moved calls
    assert _match("pairs.hflip", tv06, tv07, {}) is None          # draws did not move


def test_a_validation_pass_drawing_one_more_seed_is_the_1_7_sampler():
    """Issue 22: a user's validation pass whose draws show torch.Tensor.random_ 6 -> 10."""
    assert _match("call.team.validate", {"torch": "1.6.0"}, {"torch": "1.7.1"},
                  {"torch.Tensor.random_": (6, 10)}, called={"torch.randperm"}) == \
        "torch-1.7-randomsampler-seed-draw"


def test_a_generator_change_with_the_same_counts_names_its_cause():
    """braindecode at torch 1.9: `torch.randperm` 6 calls on both sides, but from the global
    generator before and from the sampler's own after (``rng.generator.*`` rows)."""
    found = _match("pytest.test_model", {"torch": "1.8.1"}, {"torch": "1.9.0"}, {},
                   called={"torch.randperm"},
                   generators={"torch.randperm": ("global", "own")})
    assert found in ("torch-1.9-randomsampler-own-generator",
                     ["torch-1.9-randomsampler-own-generator"]) or "randperm" not in " ".join(
        c for row in catalog.load() for c in row.apis)


def test_a_failure_is_matched_by_what_it_raises():
    """The notes recipe at torch 1.5: generator= does not exist yet."""
    assert _match("script.notes", {"torch": "1.5.0"}, {"torch": "1.6.0"}, {},
                  failure="TypeError: __init__() got an unexpected keyword argument 'generator'"
                  ) == "torch-1.6-dataloader-generator"
    assert _match("python.tuple_seed", {"python": "3.10.13"}, {"python": "3.11.7"}, {},
                  called={"random.seed"}, failure="TypeError: The only supported seed types "
                  "are: None, int, float, str, bytes, and bytearray.") == "py-3.11-seed-typeerror"


def test_same_calls_and_several_catalogued_changes_are_candidates_not_a_cause():
    causes = (catalog.Cause("a-1", "torch", "2.0.0", ("torch.rand",), (), (), (), "", "a", "x",
                            "https://github.com/a"),
              catalog.Cause("b-1", "torch", "2.0.0", ("torch.randn",), (), (), (), "", "b", "y",
                            "https://github.com/b"))
    step = catalog.Step("call.mine.f", {"torch": "1.13.1"}, {"torch": "2.0.1"}, {},
                        frozenset({"torch.rand", "torch.randn"}))
    found = catalog.match(step, causes)
    assert found.cause is None and [c.id for c in found.candidates] == ["a-1", "b-1"]
    one = catalog.Step("call.mine.f", {"torch": "1.13.1"}, {"torch": "2.0.1"}, {},
                       frozenset({"torch.rand"}))
    # the one change of the step it touches is still only a candidate: calling an API a
    # change names does not show the change is what moved the numbers (a model's init draws
    # torch.randperm as ColorJitter does; a main process draws NumPy as workers do)
    alone = catalog.match(one, causes)
    assert alone.cause is None and [c.id for c in alone.candidates] == ["a-1"]
    named = catalog.Step("call.mine.f", {"torch": "1.13.1"}, {"torch": "2.0.1"}, {},
                         frozenset({"torch.rand"}))
    mine = dataclasses.replace(causes[0], scenarios=("call.mine.*",))
    assert catalog.match(named, (mine, causes[1])).cause.id == "a-1"  # it names the code


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
    assert "**Broken**" in (tmp_path / "out" / "upgrade.md").read_text()


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
    assert broken.fix.mode is None and not broken.fix.add and broken.fix.verified is None
    assert broken.fix.text.startswith("No fix was verified: under none of the modes this run has "
                                      "(`python`, `torch`, `all`)")
    assert "code has to change" in broken.fix.text


def test_upstream_advice_is_verified_by_a_scenario_that_applies_it(tmp_path):
    """albumentations 1.4.21: no seeding mode brings pairs_reseed back; the catalog's advice
    (image and mask in one call, Compose(seed=)) is verified where a scenario applying it
    (Cause.fix_scenarios) keeps the goal after the change, and only there."""
    old, new = (f"py3.11-torch2.15.0-tv0.29.2-albumentations{v}" for v in ("1.4.20", "1.4.21"))
    before = {"rng.python": 1, "rng.numpy": 1, "rng.torch": 0, "rng.calls.random.random": 1000}
    after = {"rng.python": 0, "rng.numpy": 0, "rng.torch": 0,
             "rng.calls.numpy.random.default_rng": 8}

    def reseed(cell, value, calls):
        return everywhere(cell, "albumentations.pairs_reseed",
                          {"pair_consistency": value, **GOAL, **calls})

    def one_call(cell, value):
        return everywhere(cell, "albumentations.pairs_one_call",
                          {"pair_consistency": value, **GOAL})
    rows = reseed(old, 1.0, before) + reseed(new, 0.0, after) + one_call(old, 1.0)
    report = _report(tmp_path, rows + one_call(new, 1.0))
    (broken,) = [f for f in report.findings if f.severity == "broken"]
    assert broken.cause.id == "albumentations-1.4.21-own-generators"
    assert broken.fix.mode is None and broken.fix.add == ()  # no seeding lines to print
    assert broken.fix.verified.text == ("verified: `albumentations.pairs_one_call` (the advice "
                                        "applied) gets `pair_consistency` 1.0 at "
                                        "albumentations 1.4.21 under `python`")
    # where the scenario applying the advice does not keep the goal, nothing is verified
    report = _report(tmp_path / "worse", rows + one_call(new, 0.4))
    (broken,) = [f for f in report.findings if f.severity == "broken"
                 and f.transitions[0].scenario == "albumentations.pairs_reseed"]
    assert broken.fix.verified is None and "No fix was verified" in broken.fix.text


def test_a_pytest_failure_row_is_its_why_and_a_passing_side_has_none(tmp_path):
    """A --pytest test writes `failure` only when it fails. Where it passed, the row is
    absent: no failure, not a metric that went missing (which made every mode look
    unreproducible, so the fix the run measured, python-torch, was never verified)."""
    test = "pytest.tests.test_data.py.test_masks_follow_their_images"
    goal = {"goal.passed": Text("up")}
    calls_old = {"rng.python": 1, "rng.calls.random.random": 64, "rng.calls.random.seed": 64}
    calls_new = {"rng.python": 0, "rng.torch": 1, "rng.calls.torch.rand": 2,
                 "rng.calls.random.seed": 2}

    def cell(name, python_passes, calls):
        def metrics(seeding, repeat):
            if seeding == "python" and not python_passes:
                return {"passed": 0, "failure": Text("AssertionError (tests/test_data.py:13): "
                                                     "mask flipped differently"), **goal, **calls}
            return {"passed": 1, **goal, **calls}
        return everywhere(name, test, metrics, seedings=("python", "python-torch"))
    report = _report(tmp_path, cell(OLD, True, calls_old) + cell(TV07, False, calls_new))
    (broken,) = [f for f in report.findings if f.severity == "broken"]
    assert broken.fix.mode == "python-torch"
    assert broken.fix.verified.text == ("verified: `passed` 1.0 at torchvision 0.6.0 and 0.7.0 "
                                        "under `python-torch`")
    failure = [t for t in broken.transitions if t.metric == "failure"]
    assert failure and failure[0].before.values == ("",)  # no failure before, its why after
    assert "mask flipped differently" in str(failure[0].after.values[0])
    from _rngdrift.harness.report.words import summary_rows
    assert summary_rows(broken).endswith("; the test fails with: AssertionError "
                                         "(tests/test_data.py:13): mask flipped differently")


def test_the_fix_is_looked_for_under_every_mode_the_finding_shows(tmp_path):
    """The finding's lead row is under `all` (no mode that covers `all` is a fix), but the
    same break under `python` is fixed by python-torch: that verified fix is printed, with
    the one line it adds; without python-torch in the run, how to have it verified is."""
    test = "pytest.tests.test_data.py.test_masks"
    goal = {"goal.passed": Text("up")}
    draws = {"rng.python": 1, "rng.torch": 1, "rng.calls.random.seed": 64,
             "rng.calls.torch.rand": 64}

    def cell(name, broken, seedings):
        def metrics(seeding, repeat):
            passed = 0 if broken and seeding in ("none", "python", "all") else 1
            return {"passed": passed, **goal, **draws}
        return everywhere(name, test, metrics, seedings=seedings)
    modes_run = ("none", "python", "all", "python-torch")
    report = _report(tmp_path, cell(OLD, False, modes_run) + cell(TV07, True, modes_run))
    (broken,) = [f for f in report.findings if f.severity == "broken"]
    assert broken.transitions[0].seeding == "all"
    assert broken.fix.mode == "python-torch" and len(broken.fix.lines) == 1
    without = ("none", "python", "all")
    report = _report(tmp_path / "no-recipe", cell(OLD, False, without) + cell(TV07, True, without))
    (broken,) = [f for f in report.findings if f.severity == "broken"]
    assert broken.fix.verified is None and "python-torch" in broken.fix.to_verify
