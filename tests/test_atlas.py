"""harness.atlas and `rngdrift explain`: the atlas says what the report says.

Built from the committed baseline: every finding of the report is on its step's page
and nowhere else, the API pages list every release the drift table shows changing,
and explain prints the report's own upgrade answer from the shipped data."""
from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys

from pathlib import Path

import pytest

from conftest import ROOT
from _rngdrift.harness import cli
from _rngdrift.harness.atlas import answers, model, site, upgrades
from _rngdrift.harness.atlas.apis import Pages, looks_like_api
from _rngdrift.harness.errors import UserError
from _rngdrift.harness.report import upgrade
from _rngdrift.harness.report import severity as sev
from _rngdrift.harness.report.tables import build
from _rngdrift.harness.results.frames import Tolerance, load_run

BASELINE = ROOT / "results" / "baseline"


@pytest.fixture(scope="module")
def report():
    return build(load_run(BASELINE), Tolerance())


@pytest.fixture(scope="module")
def built(report):
    pages = Pages()
    atlas = model.build(report, pages=pages)
    return atlas, site.render(atlas), pages


@pytest.fixture(scope="module")
def data(report, built):
    atlas, _, pages = built
    return upgrades.data(report, pages, report.run_id, atlas.platform, atlas.dependent)


def test_every_finding_of_the_report_is_on_its_steps_page_once(report, built):
    atlas, files, _ = built
    shown = [f for f in report.findings if not sev.get(f.severity).folded]
    on_pages = [f for step in atlas.steps for f in step.actionable]
    assert on_pages and sorted(map(id, on_pages)) == sorted(map(id, shown))
    for step in atlas.steps:
        page = files[site.step_href(step)]
        assert page.count('<li id="f-') == len(step.actionable)
        for finding in step.actionable:
            assert finding.first_seen == step.after
            if finding.cause:
                assert f'href="{finding.cause.link}"' in page


def test_a_step_page_holds_every_row_of_its_findings_as_evidence(built):
    atlas, files, _ = built
    step = next(s for s in atlas.steps if s.actionable)
    page = files[site.step_href(step)]
    rows = sum(len(f.transitions) for f in step.actionable)
    assert sum(int(n) for n in re.findall(r"Evidence: (\d+) rows", page)) == rows


def _changed_cells(report, scenario):
    """Cells where a seeded mode's value of ``scenario`` changes, from drift.csv's data."""
    return {cell for row in report.drift.records()
            if row["scenario"] == scenario and row["seeding"] in ("torch", "all", "full")
            for cell in row["changes_at"].split()}


@pytest.mark.parametrize("api,scenario", [("torch.multinomial", "streams.multinomial"),
                                          ("dropout", "streams.dropout"),
                                          ("RandomResizedCrop", "augment.resized_crop")])
def test_an_api_page_lists_every_release_that_changed_its_stream(report, built, api, scenario):
    atlas, files, _ = built
    changed = _changed_cells(report, scenario)
    assert changed, f"the baseline should show {scenario} changing"
    entries = dict((a.name, found) for a, found in atlas.apis)[api]
    assert changed <= {e.step.after for e in entries}
    page = files[f"apis/{next(a for a, _ in atlas.apis if a.name == api).slug}.html"]
    for cell in changed:
        assert f"torch {report.evidence.versions[cell]['torch']}</a>" in page


def test_multinomial_changed_at_the_releases_the_catalog_names(built):
    atlas, _, _ = built
    entries = dict((a.name, found) for a, found in atlas.apis)["torch.multinomial"]
    causes = {e.finding.cause.id for e in entries if e.finding.cause}
    assert {"torch-1.6-multinomial-fast-path", "torch-2.0-mkl-exponential"} <= causes


def test_only_api_like_words_of_a_cause_make_pages():
    assert looks_like_api("torch.Tensor.uniform_") and looks_like_api("RandomApply")
    assert not looks_like_api("workers") and not looks_like_api("model")


def test_the_search_index_names_every_step_and_api_page(built):
    atlas, files, _ = built
    index = json.loads(files["search.json"])
    urls = {e["u"] for e in index}
    assert {site.step_href(s) for s in atlas.steps} <= urls
    assert "apis/torch-multinomial.html" in urls
    assert files["search-index.js"].startswith("window.ATLAS_INDEX = [")
    assert all(e["s"] == e["s"].lower() for e in index)


def _report_answer(report, old, new):
    text = upgrade.render(report, upgrade.upgrade(report.evidence, old, new), old, new)
    return text.split("<details><summary>Also changed")[0].rstrip()


@pytest.mark.parametrize("old,new", [("1.10", "2.6"), ("1.2", "2.15"), ("1.5", "1.6"),
                                     ("2.0", "2.2"), ("tv0.13", "tv0.14")])
def test_explain_prints_the_reports_upgrade_answer(report, data, old, new):
    i, j = answers.resolve(data, old, "--from"), answers.resolve(data, new, "--to")
    cells = report.cells
    assert (cells[i], cells[j]) == (upgrade.resolve(old, cells, report.evidence.versions, "f"),
                                    upgrade.resolve(new, cells, report.evidence.versions, "t"))
    ours = answers.answer(data, i, j)
    theirs = _report_answer(report, cells[i], cells[j])
    assert ours.startswith(theirs)
    assert 'rngdrift check --from "torch==' in ours


def test_every_upgrade_of_the_run_is_in_the_data(report, data):
    n = len(report.cells)
    assert len(data["pairs"]) == n * (n - 1) // 2


def test_the_shipped_data_answers_as_the_report_does_for_its_run(report):
    shipped = answers.load()
    source = Path(report.run_path)  # the shipped data names its run by its folder
    if shipped["run"] != (source.parent if source.suffix == ".csv" else source).name:
        pytest.skip(f"the shipped data is from run {shipped['run']}, not the baseline")
    for old, new in (("1.10", "2.6"), ("1.5", "2.15")):
        i, j = answers.resolve(shipped, old, "--from"), answers.resolve(shipped, new, "--to")
        assert answers.answer(shipped, i, j).startswith(
            _report_answer(report, report.cells[i], report.cells[j])), \
            "regenerate it: nox -s atlas -- results/<run> --ship"


def test_explain_api_keeps_only_the_findings_touching_it(data):
    i, j = answers.resolve(data, "1.5", "--from"), answers.resolve(data, "2.15", "--to")
    text = answers.answer(data, i, j, "torch.multinomial")
    assert "Only the findings touching `torch.multinomial`" in text
    assert "multinomial" in text.split("touching", 1)[1]
    with pytest.raises(UserError, match="--api nosuchapi: no such API"):
        answers.answer(data, i, j, "nosuchapi")


def test_a_version_not_in_the_data_is_said_plainly(data):
    with pytest.raises(UserError, match=r"--from 2\.3\.1: not in the atlas data .* it has torch "
                                        r"1\.2\.0, "):
        answers.resolve(data, "2.3.1", "--from")


def test_explain_is_one_command_that_needs_neither_pandas_nor_a_cell(tmp_path):
    """The shipped data, read in a fresh interpreter that cannot import pandas."""
    blocker = tmp_path / "pandas.py"
    blocker.write_text("raise ImportError('explain must not import pandas')\n")
    proc = subprocess.run([sys.executable, "-m", "rngdrift", "explain", "--from", "1.10",
                           "--to", "2.6"], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Upgrading from torch 1.10")
    proc = subprocess.run([sys.executable, "-m", "rngdrift", "explain", "--from", "9.9",
                           "--to", "2.6"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("rngdrift explain: --from 9.9: not in the atlas data")


def test_the_data_is_compact_json_with_texts_stored_once(data, tmp_path):
    from _rngdrift.harness.commands.atlas import ship
    ship(tmp_path / "x.json.gz", data)
    again = json.loads(gzip.open(tmp_path / "x.json.gz").read())
    assert again == json.loads(json.dumps(data))
    assert len(set(data["strings"])) == len(data["strings"])
    ship(tmp_path / "y.json.gz", data)
    assert (tmp_path / "x.json.gz").read_bytes() == (tmp_path / "y.json.gz").read_bytes()


def test_rngdrift_atlas_writes_the_site_and_a_bad_run_is_one_line(tmp_path, capsys):
    assert cli.main(["atlas", str(tmp_path / "nowhere")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_the_nightly_uploads_the_atlas_as_a_pages_artifact():
    yaml = pytest.importorskip("ruamel.yaml", reason="needs check-jsonschema's ruamel.yaml")
    jobs = yaml.YAML(typ="safe").load((ROOT / ".github" / "workflows" / "nightly.yml")
                                      .read_text())["jobs"]
    steps = jobs["report"]["steps"]
    build = next(s for s in steps if s.get("id") == "atlas")
    assert 'nox -s atlas -- "$RUN_DIR" --out "$RUNNER_TEMP/atlas"' in build["run"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "${{ runner.temp }}/atlas"
    assert steps.index(build) < steps.index(upload)
    assert jobs["report"]["outputs"]["atlas"] == "${{ steps.atlas.outcome }}"
    pages = jobs["pages"]
    assert pages["needs"] == "report" and "needs.report.outputs.atlas == 'success'" in pages["if"]
    assert pages["permissions"]["pages"] == "write" and pages["permissions"]["id-token"] == "write"
    assert pages["environment"]["name"] == "github-pages"
    assert pages["steps"][-1]["uses"].startswith("actions/deploy-pages@")


def test_a_run_on_another_cpu_class_shows_what_only_it_found(report, tmp_path):
    """The same cells on Intel where train.cnn's final loss moves at torch 2.0 (a metric
    platform_dependence.csv knows to differ between classes): the 2.0 step page shows
    what only Intel saw; pages of steps where both agree say so."""
    import pandas as pd
    frame = pd.read_csv(BASELINE / "matrix.csv", dtype=str, keep_default_na=False)
    frame["platform"] = frame["platform"].str.replace("AuthenticAMD", "GenuineIntel") \
        .str.replace("AMD EPYC", "Intel Xeon")
    cells = report.cells
    new = cells[cells.index("py3.8-torch2.0.1-tv0.15.2"):]
    moved = (frame["scenario"] == "train.cnn") & (frame["metric"] == "final_loss") \
        & frame["cell"].isin(new) & (frame["status"] == "ok")
    frame.loc[moved, "value"] = "0.123456"
    run = tmp_path / "intel"
    run.mkdir()
    frame.to_csv(run / "matrix.csv", index=False, lineterminator="\n")
    other = build(load_run(run), Tolerance())
    atlas = model.build(report, [other])
    assert atlas.others[0].platform.startswith("x86_64-intel")
    files = site.render(atlas)
    step = atlas.step_of("py3.8-torch2.0.1-tv0.15.2")
    page = files[site.step_href(step)]
    assert "<h2>On x86_64-intel" in page and "findings only there" in page
    quiet = atlas.step_of("py3.8-torch1.6.0-tv0.7.0")
    assert "The same findings at this step." in files[site.step_href(quiet)]


@pytest.mark.slow
def test_an_installed_rngdrift_explains_from_its_package_data(tmp_path):
    """pip install . ships the atlas data and the API vocabulary: explain and atlas work
    from a venv outside the checkout."""
    import shutil
    from conftest import _uv
    uv, venv = _uv(), tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    str(ROOT)], check=True, timeout=600)
    elsewhere = dict(cwd=tmp_path, capture_output=True, text=True, timeout=600)
    proc = subprocess.run([str(venv / "bin" / "rngdrift"), "explain", "--from", "1.10", "--to",
                           "2.6"], **elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Upgrading from torch 1.10")
    copy = tmp_path / "run"
    shutil.copy(BASELINE / "matrix.csv", copy.mkdir() or copy / "matrix.csv")
    proc = subprocess.run([str(venv / "bin" / "rngdrift"), "atlas", str(copy)], **elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert (copy / "atlas" / "apis" / "torch-multinomial.html").is_file()
