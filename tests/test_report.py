"""harness.report: drift groups, change points, reproducibility, minimal seeding,
sources, accuracy, report.md/report.html, and bad input (exit 2, nothing written)."""
import csv
import io
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import NEW_CELL, OLD_CELL, ROOT, run_cell
from _rngdrift.harness import cli
from _rngdrift.harness.report import advice, model
from _rngdrift.harness.report.model import DISAGREE, changes_at
from _rngdrift.harness.report.tables import group_labels, letter
from _rngdrift.harness.results.frames import Tolerance
from resultrows import NEW, OLD, TV07, TV08, Text, everywhere, install_failure, write_run

OUTPUTS = ("matrix.csv", "findings.csv", "findings.json", "drift.csv", "reproducibility.csv",
           "sources.csv", "minimal_seeding.csv", "accuracy.csv", "report.md", "report.html")


def _hflip(cell, python_value, torch_value, calls):
    """pairs.hflip as the real cells report it: python seeding pairs up before tv 0.7."""
    def metrics(seeding, repeat):
        value = {"python": python_value, "torch": torch_value, "full": 1.0}.get(seeding)
        if value is None:  # not reproducible: each repeat differs
            value = 0.5 + repeat / 100
        return {"pair_consistency": value, "goal.pair_consistency": Text("up"), **calls}
    return everywhere(cell, "pairs.hflip", metrics, seedings=("none", "python", "torch", "full"))


OLD_CALLS = {"rng.python": 1, "rng.numpy": 1, "rng.torch": 0, "rng.calls.random.random": 400}
NEW_CALLS = {"rng.python": 0, "rng.numpy": 1, "rng.torch": 1, "rng.calls.torch.rand": 400}


def _story():
    """Four cells: the pairs bug at tv 0.7, a fingerprint change at 0.8, a new scenario."""
    out = _hflip(OLD, 1.0, None, OLD_CALLS)
    for cell in (TV07, TV08, NEW):
        out += _hflip(cell, None, 1.0, NEW_CALLS)
    for cell, fp in ((OLD, "aaaa"), (TV07, "aaaa"), (TV08, "bbbb"), (NEW, "bbbb")):
        out += everywhere(cell, "augment.pipeline", {"output": fp}, seedings=("full",))
    out += everywhere(OLD, "loader.shuffle_generator", None, seedings=("full",),
                      status="n/a", detail="needs torch>=1.6; cell has 1.5.0")
    for cell in (TV07, TV08, NEW):
        out += everywhere(cell, "loader.shuffle_generator", {"order": "cafe"}, seedings=("full",))
    return out


@pytest.fixture
def story(tmp_path):
    run = write_run(tmp_path / "story", _story())
    assert cli.main(["report", str(run)]) == 0
    return run


def _csv(run, name):
    return pd.read_csv(run / name, dtype=str, keep_default_na=False)


def _drift(run, scenario, seeding, metric):
    table = _csv(run, "drift.csv")
    row = table[(table["scenario"] == scenario) & (table["seeding"] == seeding)
                & (table["metric"] == metric)]
    assert len(row) == 1
    return row.iloc[0]


# -- groups ---------------------------------------------------------------------

def test_letters():
    assert [letter(i) for i in (0, 1, 25, 26, 27, 52)] == ["A", "B", "Z", "AA", "AB", "BA"]


def test_groups_are_lettered_by_first_appearance_in_cell_order():
    observed = [("ok", ("z",)), ("ok", ("a",)), ("ok", ("z",)), ("ok", ("m",))]
    assert group_labels("fingerprint", observed, Tolerance()) == ["A", "B", "A", "C"]


def test_numbers_group_within_the_tolerance_and_fingerprints_exactly():
    """Values arrive parsed (a float for a number, the text for a fingerprint)."""
    observed = [("ok", (0.5,)), ("ok", (0.5000000001,)), ("ok", (0.6,))]
    assert group_labels("number", observed, Tolerance()) == ["A", "A", "B"]
    assert group_labels("number", observed, Tolerance(atol=0.2)) == ["A", "A", "A"]
    texts = [("ok", ("0.5",)), ("ok", ("0.5000000001",)), ("ok", ("0.6",))]
    assert group_labels("fingerprint", texts, Tolerance(atol=1)) == ["A", "B", "C"]


def test_disagreeing_repeats_and_failures_get_their_own_labels():
    observed = [("ok", (1, 2)), ("n/a", ()), ("error", ()), ("timeout", ()), (None, ()),
                ("ok", (1,))]
    assert group_labels("count", observed, Tolerance()) == [
        DISAGREE, "n/a", "err", "timeout", "-", "A"]


def test_changes_at_skips_cells_that_did_not_measure():
    cells = ["c1", "c2", "c3", "c4", "c5"]
    assert changes_at(["A", "-", "A", "B", "B"], cells) == ["c4"]
    assert changes_at(["n/a", "A", "~", "~", "A"], cells) == ["c2", "c3", "c5"]


# -- the tables from a hand-made run ------------------------------------------------

def test_every_output_is_written(story):
    for name in OUTPUTS:
        assert (story / name).stat().st_size > 0, name


def test_drift_row_and_change_point_of_the_pair_bug(story):
    row = _drift(story, "pairs.hflip", "python", "pair_consistency")
    assert [row[c] for c in (OLD, TV07, TV08, NEW)] == ["A", DISAGREE, DISAGREE, DISAGREE]
    assert row["changes_at"] == TV07
    row = _drift(story, "pairs.hflip", "torch", "pair_consistency")
    assert [row[c] for c in (OLD, TV07, TV08, NEW)] == [DISAGREE, "A", "A", "A"]
    row = _drift(story, "augment.pipeline", "full", "output")
    assert [row[c] for c in (OLD, TV07, TV08, NEW)] == ["A", "A", "B", "B"]
    assert row["changes_at"] == TV08
    assert list(_csv(story, "drift.csv").columns) == [
        "scenario", "seeding", "metric", "kind", OLD, TV07, TV08, NEW, "changes_at"]


def test_drift_leaves_attribution_rows_to_sources(story):
    assert not _csv(story, "drift.csv")["metric"].str.startswith("rng.").any()


def test_code_identity_rows_are_neither_drift_nor_change_points(tmp_path):
    """A user scenario gated off in the oldest cell: its code hash is not a change
    `n/a -> A` (what `source.sha256` gave in report.md before)."""
    from resultrows import Text
    out = everywhere(OLD, "call.mine.train", None, seedings=("all",), status="n/a",
                     detail="needs torch>=1.6; cell has 1.5.0")
    for cell in (TV07, NEW):
        out += everywhere(cell, "call.mine.train",
                          {"loss": 0.5, "code.sha256": Text("0123456789abcdef"),
                           "source.sha256": Text("fedcba9876543210")}, seedings=("all",))
    run = write_run(tmp_path / "run", out)
    assert cli.main(["report", str(run)]) == 0
    drift = _csv(run, "drift.csv")
    assert set(drift["metric"]) == {"loss"}
    report = (run / "report.md").read_text()
    assert "sha256" not in report
    assert "`call.mine.train` `status` under `all`: n/a → ok" in report  # one event, not per metric


def test_a_not_applicable_scenario_shows_n_a_for_its_metrics(story):
    row = _drift(story, "loader.shuffle_generator", "full", "order")
    assert [row[c] for c in (OLD, TV07, TV08, NEW)] == ["n/a", "A", "A", "A"]


def test_reproducibility(story):
    table = _csv(story, "reproducibility.csv")
    verdict = {(r.scenario, r.seeding, r.cell): r.reproducible for r in table.itertuples()}
    assert verdict[("pairs.hflip", "python", OLD)] == "yes"
    assert verdict[("pairs.hflip", "python", NEW)] == "no"
    assert verdict[("loader.shuffle_generator", "full", OLD)] == "n/a"
    differing = table[(table["scenario"] == "pairs.hflip") & (table["seeding"] == "python")
                      & (table["cell"] == NEW)]["differing"].iloc[0]
    assert differing == "pair_consistency"


def test_a_metric_only_full_reports_is_no_disagreement_elsewhere(tmp_path):
    """`rng.recipe` exists under `full` only: under `python` it is n/a, not a repeat that
    disagreed."""
    from resultrows import Text

    def metrics(seeding, repeat):
        out = {"order": "cafe"}
        if seeding == "full":
            out["rng.recipe"] = Text("worker_init_fn")
        return out
    run = write_run(tmp_path / "run", everywhere(OLD, "loader.workers", metrics,
                                                 seedings=("python", "full")))
    assert cli.main(["report", str(run)]) == 0
    table = _csv(run, "reproducibility.csv")
    assert list(table["reproducible"]) == ["yes", "yes"] and list(table["differing"]) == ["", ""]


def test_minimal_seeding_never_names_a_mode_that_leaves_a_drawn_generator_unseeded(story):
    table = _csv(story, "minimal_seeding.csv").set_index("scenario")
    assert table.loc["pairs.hflip", OLD] == "python"  # draws Python's random and NumPy
    # from tv 0.7 it draws torch and NumPy: `torch` reproduces it but leaves NumPy unseeded
    assert table.loc["pairs.hflip", NEW] == "full"
    assert table.loc["pairs.hflip", "changes_at"] == TV07
    assert table.loc["loader.shuffle_generator", OLD] == "n/a"
    assert table.loc["augment.pipeline", OLD] == "full"


def test_no_mode_reproduces_is_its_own_label(tmp_path):
    run = write_run(tmp_path / "run", everywhere(
        OLD, "flaky", lambda s, r: {"x": float(r)}, seedings=("none", "full")))
    assert cli.main(["report", str(run)]) == 0
    assert _csv(run, "minimal_seeding.csv").iloc[0][OLD] == advice.NO_MODE


def test_sources_show_the_draws_moving_from_random_to_torch(story):
    table = _csv(story, "sources.csv")
    assert set(table["seeding"]) == {"none", "python", "torch", "full"}  # every mode
    hflip = table[(table["scenario"] == "pairs.hflip") & (table["seeding"] == "python")] \
        .set_index("metric")
    assert list(hflip.index[:3]) == ["rng.python", "rng.numpy", "rng.torch"]
    assert [hflip.loc["rng.calls.random.random", c] for c in (OLD, TV07)] == ["400", "0"]
    assert [hflip.loc["rng.calls.torch.rand", c] for c in (OLD, TV07)] == ["0", "400"]
    assert hflip.loc["rng.calls.torch.rand", "changes_at"] == TV07
    assert hflip.loc["rng.numpy", "changes_at"] == ""


def test_sources_keep_only_the_top_calls(tmp_path):
    calls = {f"rng.calls.random.f{i}": i + 1 for i in range(10)}
    run = write_run(tmp_path / "run", everywhere(OLD, "s", calls, seedings=("full",)))
    assert cli.main(["report", str(run)]) == 0
    metrics = list(_csv(run, "sources.csv")["metric"])
    assert metrics == [f"rng.calls.random.f{i}" for i in range(9, 9 - model.TOP_CALLS, -1)]


def test_accuracy_table_from_the_training_scenario(tmp_path):
    def acc(seeding, repeat):
        if seeding == "python":
            return {"pixel_accuracy": 0.7 + repeat / 100}
        return {"pixel_accuracy": 0.9}
    run = write_run(tmp_path / "run", everywhere(
        OLD, model.ACCURACY_SCENARIO, {"pixel_accuracy": 0.91}, seedings=("python", "torch"))
        + everywhere(NEW, model.ACCURACY_SCENARIO, acc, seedings=("python", "torch")))
    assert cli.main(["report", str(run)]) == 0
    table = _csv(run, "accuracy.csv").set_index("cell")
    assert list(table.columns) == ["python", "torch", "torchvision", "python_seeding",
                                   "torch_seeding", "note"]
    assert table.loc[OLD, "python_seeding"] == "0.91"
    assert table.loc[NEW, "torch_seeding"] == "0.9"
    assert table.loc[NEW, "python_seeding"] == "0.715"  # mean of disagreeing repeats
    assert "repeats disagree" in table.loc[NEW, "note"]
    assert table.loc[NEW, "torchvision"] == "0.29.2"
    md = (run / "report.md").read_text()
    assert "| 1.5.0 | 0.6.0 | 3.8 | 0.9100 | 0.9100 |" in md
    assert "| ~0.7150 | 0.9000 |" in md
    assert "<svg" in (run / "report.html").read_text()


def test_accuracy_table_exists_with_a_note_when_the_scenario_is_absent(story):
    """The CSV keeps its shape; the reports leave the canonical section out (a run of the
    team's own code has no segmentation net to show)."""
    table = _csv(story, "accuracy.csv")
    assert list(table["cell"]) == [OLD, TV07, TV08, NEW]
    assert (table["note"] == f"{model.ACCURACY_SCENARIO} not in this run").all()
    assert "Accuracy" not in (story / "report.md").read_text()
    assert 'id="accuracy"' not in (story / "report.html").read_text()


# -- report.md -------------------------------------------------------------------

def _section(md, title):
    start = md.index(title)
    end = md.find("\n## ", start + 1)
    return md[start:end if end != -1 else None]


def test_report_md_opens_with_the_verdict_why_and_fix(story):
    md = (story / "report.md").read_text()
    assert md.index("## Verdict") < md.index("## All findings by upgrade step")
    verdict = _section(md, "## Verdict")
    first = verdict[verdict.index("1. "):verdict.index("\n\n", verdict.index("1. "))]
    assert first.startswith("1. **Broken** at torchvision 0.6.0 → 0.7.0")
    assert "`pairs.hflip` `pair_consistency` under `python`: 1.0 → 0.51…0.52" in " ".join(
        first.split())
    assert "`random.random` 400 → 0" in first and "`torch.rand` 0 → 400" in first
    assert "tv-0.7-flips-colorjitter-torch-rng" in first  # the catalog's cause, linked
    assert "torch.manual_seed(seed)" in verdict


def test_report_md_reads_in_a_terminal(story):
    md = (story / "report.md").read_text()
    prose = [line for line in md.splitlines() if not line.startswith("|")]
    assert max(map(len, prose)) <= 200
    assert "\\>" not in md and "\\_" not in md  # no raw Markdown escapes


def test_report_md_lists_failures_and_install_holes(tmp_path):
    run = write_run(tmp_path / "run", everywhere(OLD, "s", {"a": 1.0})
                    + everywhere(TV07, "s", None, status="error", detail="RuntimeError: boom")
                    + install_failure(NEW, "install failed: torch==9.9 not found"))
    assert cli.main(["report", str(run)]) == 0
    row = _drift(run, "s", "python", "a")
    assert [row[c] for c in (OLD, TV07, NEW)] == ["A", "err", "err"]
    failures = _section((run / "report.md").read_text(), "## Cells that failed")
    assert f"`{NEW}`: **cell failed**: cell.install: install failed: torch==9.9" in failures
    assert f"`{TV07}`: **s: err under python**: RuntimeError: boom" in failures


def test_timeouts_show_as_timeout(tmp_path):
    run = write_run(tmp_path / "run", everywhere(OLD, "s", {"a": 1.0})
                    + everywhere(NEW, "s", None, status="timeout", detail="no result after 5s"))
    assert cli.main(["report", str(run)]) == 0
    assert _drift(run, "s", "python", "a")[NEW] == "timeout"


def test_markup_in_names_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    run = write_run(tmp_path / "run", everywhere(OLD, evil, {"m&<b>": 1.0, "x": "fp"})
                    + everywhere(NEW, evil, {"m&<b>": 2.0, "x": "fp"}))
    assert cli.main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "<script" not in page and "m&<b>" not in page and "m&amp;&lt;b&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    md = (run / "report.md").read_text()
    assert all(line.count("`") >= 2 for line in md.splitlines() if "<script>" in line)


def test_html_is_self_contained(story):
    """Nothing is fetched: no scripts, stylesheets, images or fonts from anywhere (links to
    a cause's release note are links, followed only when clicked)."""
    page = (story / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport"' in page
    for fetched in ("<script", "<link", "src=", "url(", "@import", "<img"):
        assert fetched not in page, fetched


# -- command line and bad input ------------------------------------------------------

def test_tolerance_options(tmp_path):
    run = write_run(tmp_path / "run", everywhere(OLD, "s", {"a": 1.0})
                    + everywhere(NEW, "s", {"a": 1.001}))
    assert cli.main(["report", str(run)]) == 0
    assert _drift(run, "s", "python", "a")[NEW] == "B"
    assert cli.main(["report", str(run), "--atol", "0.01"]) == 0
    assert _drift(run, "s", "python", "a")[NEW] == "A"
    assert cli.main(["report", str(run), "--rtol", "0.01"]) == 0
    assert _drift(run, "s", "python", "a")[NEW] == "A"


def _snapshot(run):
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


@pytest.mark.parametrize("damage, problem", [
    (lambda p: p.write_text(p.read_text()[:-30]), "truncated"),
    (lambda p: p.write_text(p.read_text().replace("\n1,t,", "\n7,t,", 1)), "schema_version '7'"),
    (lambda p: p.write_text(p.read_text() + p.read_text().splitlines()[1] + "\n"),
     "duplicated key"),
    (lambda p: p.write_text(p.read_text().replace(",1.0,ok,", ",1.O,ok,", 1)), "not a number"),
    (lambda p: p.write_text(""), "empty file"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(story, capsys, damage, problem):
    before = _snapshot(story)
    path = story / "cells" / f"{TV07}.csv"
    damage(path)
    capsys.readouterr()
    assert cli.main(["report", str(story)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and problem in err
    assert _snapshot(story) == before


@pytest.mark.parametrize("make", [
    lambda p: p / "nowhere",
    lambda p: p,                                            # no cells/
    lambda p: (p / "cells").mkdir() or p,                   # empty cells/
])
def test_missing_or_empty_run_exits_2(tmp_path, capsys, make):
    assert cli.main(["report", str(make(tmp_path))]) == 2
    assert capsys.readouterr().err.startswith("rngdrift report: ")
    assert not (tmp_path / "matrix.csv").exists()


def test_stray_files_are_noted_not_fatal(story, capsys):
    (story / "cells" / f"{NEW}.csv.tmp-99").write_text("half a fi")
    (story / "cells" / "README").write_text("hi")
    assert cli.main(["report", str(story)]) == 0
    err = capsys.readouterr().err
    assert "tmp-99: leftover temporary file" in err and "README: not a cell CSV" in err
    assert "leftover temporary file" in (story / "report.md").read_text()


def test_a_baseline_directory_with_only_matrix_csv(story):
    baseline = story.parent / "baseline"   # as harness.baseline leaves it: freezes, no CSVs
    (baseline / "cells").mkdir(parents=True)
    (baseline / "cells" / f"{OLD}.freeze.txt").write_text("torch==1.5.0\n")
    shutil.copy(story / "matrix.csv", baseline / "matrix.csv")
    before = (baseline / "matrix.csv").stat().st_mtime_ns
    assert cli.main(["report", str(baseline)]) == 0
    assert (baseline / "matrix.csv").stat().st_mtime_ns == before  # read, not rewritten
    assert (baseline / "drift.csv").read_text() == (story / "drift.csv").read_text()


def test_module_entry_point(story):
    proc = subprocess.run([sys.executable, "-m", "rngdrift", "report", str(story)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "4 cells" in proc.stdout


# -- a real two-cell run ---------------------------------------------------------------

@pytest.mark.slow
def test_reports_and_compare_from_a_real_two_cell_run(cell_python, tmp_path, capsys):
    run = tmp_path / "real"
    for cell in (OLD_CELL, NEW_CELL):
        run_cell(cell_python(cell), run / "cells" / f"{cell}.csv", "--only", "pairs.*",
                 "--only", "loader.*", "--repeats", "2", "--jobs", "2", cell=cell)
    assert cli.main(["report", str(run)]) == 0
    for name in OUTPUTS:
        assert (run / name).is_file(), name
    md = (run / "report.md").read_text()
    verdict = _section(md, "## Verdict")
    assert "**Broken**" in verdict and "`pairs.hflip` `pair_consistency` under `python`" in verdict
    assert "`random.random` 400 → 0" in verdict and "torch.manual_seed(seed)" in verdict
    hflip = _drift(run, "pairs.hflip", "python", "pair_consistency")
    assert hflip[OLD_CELL] == "A" and hflip["changes_at"] == NEW_CELL

    out = tmp_path / "cmp"
    assert cli.main(["compare", str(run), str(run), "--out", str(out)]) == 0
    edited = tmp_path / "edited"
    shutil.copytree(run, edited)
    matrix = edited / "matrix.csv"
    table = list(csv.reader(io.StringIO(matrix.read_text())))
    col = {name: i for i, name in enumerate(table[0])}
    for row in table[1:]:  # one reproducible value, both repeats: a plain change
        if (row[col["cell"]], row[col["scenario"]], row[col["seeding"]], row[col["metric"]]) == (
                OLD_CELL, "pairs.hflip", "full", "pair_consistency"):
            row[col["value"]] = "0.123"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(table)
    matrix.write_text(buf.getvalue())
    assert cli.main(["compare", str(run), str(edited)]) == 1
    changed = pd.read_csv(edited / "compare.csv", dtype=str, keep_default_na=False)
    assert changed[["category", "cell", "scenario", "seeding", "candidate"]].values.tolist() == [
        ["changed", OLD_CELL, "pairs.hflip", "full", "0.123"]]


@pytest.mark.parametrize("value, shown", [
    ("A 0.981506", "A"), ("~ 0.45…0.5", "~"), ("n/a needs torch>=1.6; cell has 1.5.0", "n/a"),
    ("err ValueError: boom (at f.py:1)", "err"), ("timeout after 120 s", "timeout"), ("B", "B")])
def test_a_heatmap_cell_shows_its_label_and_keeps_the_rest_on_hover(value, shown):
    from _rngdrift.harness.report import html_page
    cell = html_page._short(value)
    assert cell.endswith(">" + shown.replace(">", "&gt;"))
    assert ("title=" in cell) == (value != shown)
