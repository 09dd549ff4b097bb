"""Answers a user can act on (issue 22), from hand-made runs: findings.json and its
schema, findings.csv's own why/fix/verification per row, tests that fail everywhere,
the upgrade command as printed, a report of the team's code alone, causes at the
step where a change first shows, and generator rows."""
from __future__ import annotations

import csv
import io
import json
import re
import shlex

import pytest

from _rngdrift.harness import cli
from _rngdrift.harness.report import findings_data, severity, upgrade
from _rngdrift.harness.report.tables import build
from _rngdrift.harness.results.frames import Tolerance, load_run
from resultrows import NEW, OLD, TV07, TV08, Text, everywhere, write_run

jsonschema = pytest.importorskip("jsonschema")

GOAL = {"goal.pair_consistency": Text("up")}
PY = {"rng.python": 1, "rng.numpy": 1, "rng.calls.random.random": 400,
      "rng.calls.random.seed": 2}
TORCH = {"rng.numpy": 1, "rng.torch": 1, "rng.calls.torch.rand": 400, "rng.calls.random.seed": 2}


def _pairs(cell, python, calls, recipe=1.0):
    """pairs.hflip-like under `python`, `all` and the `python-torch` recipe."""
    def metrics(seeding, repeat):
        value = {"python": python, "all": 1.0, "python-torch": recipe}[seeding]
        return {"pair_consistency": 0.5 + repeat / 100 if value is None else value,
                **GOAL, **calls}
    return everywhere(cell, "pairs.hflip", metrics, seedings=("python", "all", "python-torch"))


@pytest.fixture
def story(tmp_path):
    rows = _pairs(OLD, 1.0, PY) + _pairs(TV07, None, TORCH) + _pairs(TV08, None, TORCH)
    run = write_run(tmp_path / "story", rows)
    assert cli.main(["report", str(run)]) == 0
    return run


def test_findings_json_validates_against_its_versioned_schema(story):
    schema = json.loads(findings_data.SCHEMA.read_text())
    data = json.loads((story / "findings.json").read_text())
    jsonschema.validate(data, schema)
    assert data["schema_version"] == findings_data.SCHEMA_VERSION == 1
    assert data["$schema"] == schema["$id"] == findings_data.SCHEMA_ID
    (broken,) = [f for f in data["findings"] if f["severity"] == "broken"]
    assert broken["cause"]["id"] == "tv-0.7-flips-colorjitter-torch-rng"
    assert broken["fix"]["verified"]["mode"] == "python-torch"
    assert broken["step"]["moved"]["torchvision"] == ["0.6.0", "0.7.0"]


def test_the_schema_names_every_severity_and_nothing_else():
    schema = json.loads(findings_data.SCHEMA.read_text())
    assert schema["$defs"]["severity"]["enum"] == list(severity.NAMES)


def test_a_fix_printed_as_code_carries_its_measured_result(story):
    """The tv 0.7 fix goes next to every random.seed (the `python-torch` recipe), not at
    start-up: the report prints it with what the cells measured under it."""
    md = (story / "report.md").read_text()
    assert "torch.manual_seed(x)  # next to random.seed(x)" in md
    assert ("Verified: `pair_consistency` 1.0 at torchvision 0.6.0 and 0.7.0 under "
            "`python-torch`") in md
    page = (story / "report.html").read_text()
    assert "Verified: <code>pair_consistency</code> 1.0 at torchvision 0.6.0 and 0.7.0" in page


def test_no_verified_fix_is_said_plainly_with_what_to_run(tmp_path):
    rows = _pairs(OLD, 1.0, PY, recipe=1.0) + _pairs(TV07, None, TORCH, recipe=0.0)
    rows = [r for r in rows if r.seeding != "all"]
    report = build(load_run(write_run(tmp_path / "run", rows)), Tolerance())
    (broken,) = [f for f in report.findings if f.severity == "broken"]
    assert broken.fix.verified is None and broken.fix.add == ()
    assert broken.fix.text.startswith("No fix was verified")


def test_findings_csv_rows_carry_their_own_why_fix_and_verification(story):
    rows = list(csv.DictReader(io.StringIO((story / "findings.csv").read_text())))
    assert list(rows[0]) == findings_data.CSV_COLUMNS
    broken = [r for r in rows if r["severity"] == "broken"]
    assert broken and all(r["fix_code"] and r["verified"].startswith("verified:") for r in broken)
    assert all(r["why"] and r["cause"] for r in broken)
    # no row says "add the lines below" without lines
    assert not [r for r in rows if "lines below" in r["fix"] and not r["fix_code"]]


def test_tests_that_fail_in_every_cell_are_in_the_verdict(tmp_path):
    rows = []
    for cell in (OLD, TV07, NEW):
        for name in ("pytest.test_a", "pytest.test_b", "pytest.test_c"):
            rows += everywhere(cell, name, {"passed": 0, "outcome": Text("failed"),
                                            "goal.passed": Text("up"),
                                            "code.sha256": Text("0123456789abcdef")},
                               seedings=("python", "all"))
    run = write_run(tmp_path / "run", rows)
    assert cli.main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "3 scenarios fail in every cell: their expected results do not hold here" in md
    assert "Nothing broke" not in md
    data = json.loads((run / "findings.json").read_text())
    assert [f["scenario"] for f in data["failing_everywhere"]] == [
        "pytest.test_a", "pytest.test_b", "pytest.test_c"]


def test_a_test_that_starts_failing_is_one_finding(tmp_path):
    rows = []
    for cell, passed in ((OLD, 1), (TV07, 0)):
        rows += everywhere(cell, "pytest.test_model", {
            "passed": passed, "outcome": Text("passed" if passed else "failed"),
            "goal.passed": Text("up"), "code.sha256": Text("0123456789abcdef"),
            "rng.torch": 1, "rng.calls.torch.manual_seed": 1}, seedings=("python",))
    report = build(load_run(write_run(tmp_path / "run", rows)), Tolerance())
    (finding,) = report.findings
    assert finding.severity == "broken"
    assert {t.metric for t in finding.transitions} == {"passed", "outcome"}


def test_code_that_seeds_itself_needs_no_mode(tmp_path):
    """A script that calls torch.manual_seed itself, identical under every mode: the
    weakest seeding is `none`, not `all`."""
    rows = everywhere(OLD, "script.train", {"loss": 0.5, "rng.torch": 1, "rng.python": 1,
                                           "rng.calls.torch.manual_seed": 1,
                                           "rng.calls.random.seed": 1,
                                           "code.sha256": Text("0123456789abcdef")},
                      seedings=("none", "python", "all"))
    report = build(load_run(write_run(tmp_path / "run", rows)), Tolerance())
    assert next(report.minimal_seeding.records())[OLD] == "none"


def test_the_upgrade_command_runs_as_printed(story, monkeypatch, capsys):
    monkeypatch.chdir(story.parent)
    assert cli.main(["report", "story"]) == 0
    md = " ".join((story / "report.md").read_text().split())
    command = re.search(r"`(rngdrift report [^`]*--from[^`]*)`", md).group(1)
    assert command.startswith("rngdrift report story --from ")
    capsys.readouterr()
    assert cli.main(shlex.split(command)[1:]) == 0
    assert capsys.readouterr().out.startswith("# Upgrading from")


def test_a_report_of_the_team_s_code_alone_has_no_canonical_sections(tmp_path):
    rows = [r for cell, v in ((OLD, 0.5), (TV07, 0.25)) for r in everywhere(
        cell, "call.team.score", {"score": v, "code.sha256": Text("0123456789abcdef")},
        seedings=("all",))]
    report = build(load_run(write_run(tmp_path / "run", rows)), Tolerance())
    assert report.user_only
    run = write_run(tmp_path / "run", rows)
    assert cli.main(["report", str(run)]) == 0
    md = (run / "report.md").read_text()
    assert "Accuracy" not in md and "train.segmentation_pairs" not in md


def test_an_upgrade_explains_each_change_at_the_step_where_it_first_shows(tmp_path):
    """--from 1.5 --to 2.15: the tv 0.7 change is matched with the versions of 0.6 -> 0.7,
    never with the range's ends (whose numpy, Python and torch moved too)."""
    rows = _pairs(OLD, 1.0, PY) + _pairs(TV07, None, TORCH) + _pairs(TV08, None, TORCH) \
        + _pairs(NEW, None, TORCH)
    report = build(load_run(write_run(tmp_path / "run", rows)), Tolerance())
    found = upgrade.upgrade(report.evidence, OLD, NEW)
    (broken,) = [f for f in found if f.severity == "broken"]
    assert broken.step == (OLD, TV07)
    assert broken.cause.id == "tv-0.7-flips-colorjitter-torch-rng"
    assert broken.fix.verified.cells == (OLD, TV07)


def test_generator_rows_show_a_change_of_generator_with_the_same_counts(tmp_path):
    """``rng.generator.<api>`` (the cell side writes it where the scenario called the API):
    global -> own with 6 calls on both sides is a change of generator, said in the why."""
    rows = []
    for cell, generator, order in ((OLD, "global", "aa"), (TV07, "own", "bb")):
        rows += everywhere(cell, "pytest.test_shuffle", {
            "order": order, "rng.torch": 1, "rng.calls.torch.randperm": 6,
            "rng.generator.torch.randperm": Text(generator),
            "code.sha256": Text("0123456789abcdef")}, seedings=("all",))
    report = build(load_run(write_run(tmp_path / "run", rows)), Tolerance())
    (drift,) = report.findings
    assert "`torch.randperm` drew from the global generator and now from the own one " \
           "(same number of calls)" in drift.mechanism
    sources = list(report.sources.records())
    assert [r["metric"] for r in sources][-2:] == ["rng.calls.torch.randperm",
                                                  "rng.generator.torch.randperm"]


# -- the committed baseline -------------------------------------------------------------

@pytest.fixture(scope="module")
def baseline_report():
    from conftest import ROOT
    return build(load_run(ROOT / "results" / "baseline"), Tolerance())


@pytest.mark.parametrize("ends", [None, ("1.5", "2.15"), ("1.10", "2.6")])
def test_every_cause_on_the_baseline_belongs_to_the_step_it_is_shown_at(baseline_report, ends):
    """Issue 22's done-when: for the full report and the two upgrades, a finding's cause
    (or candidates) is a change the step it is shown at crosses, and that step is two
    neighbouring cells."""
    report = baseline_report
    found = report.findings
    if ends:
        versions = report.evidence.versions
        old = upgrade.resolve(ends[0], report.cells, versions, "--from")
        new = upgrade.resolve(ends[1], report.cells, versions, "--to")
        found = upgrade.upgrade(report.evidence, old, new)
    assert found
    cells = report.cells
    for finding in found:
        for t in finding.transitions:
            before, after = t.step
            assert cells.index(after) == cells.index(before) + 1, t
            why = finding.own[t.key][0]
            for cause in ([why.cause] if why.cause else []) + list(why.candidates):
                if cause.id == "rngdrift-full-recipe":
                    continue
                assert cause.crossed(report.evidence.versions[before],
                                     report.evidence.versions[after]), (cause.id, t)


def test_every_fix_printed_as_code_on_the_baseline_carries_its_verification(baseline_report):
    for finding in baseline_report.findings:
        for _, fix in finding.own.values():
            if fix is not None and fix.add:
                assert fix.verified is not None and fix.verified.mode == fix.mode
                assert fix.verified.text.startswith("verified: ")
