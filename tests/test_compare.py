"""harness.compare: categories, tolerance, --fail-on, exit codes, outputs, bad input."""
import re
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from _rngdrift.harness import cli
from _rngdrift.harness.results import compare
from _rngdrift.harness.cell import schema
from resultrows import NEW, OLD, TV07, everywhere, install_failure, meta, write_run


def _base_rows(value=1.0, fp="fp1", flaky=False, cells=(OLD, NEW)):
    out = []
    for cell in cells:
        def metrics(seeding, repeat):
            number = value + repeat if flaky else value
            return {"score": number, "output": fp, "rng.calls.torch.rand": 4}
        out += everywhere(cell, "s", metrics, seedings=("python", "full"))
        out += everywhere(cell, "t", {"count": 3}, seedings=("python", "full"))
    return out


def _run(tmp_path, name, all_rows, merged=True):
    run = write_run(tmp_path / name, all_rows)
    if merged:
        assert cli.main(["report", str(run)]) == 0
    return run


def _result(out):
    return pd.read_csv(out / "compare.csv", dtype=str, keep_default_na=False)


def _categories(out):
    return sorted(_result(out)["category"])


@pytest.fixture
def baseline(tmp_path):
    return _run(tmp_path, "base", _base_rows())


def test_identical_runs_exit_0_and_write_into_the_candidate(tmp_path, baseline, capsys):
    candidate = _run(tmp_path, "cand", _base_rows())
    before = {p.name: p.read_bytes() for p in baseline.iterdir() if p.is_file()}
    assert cli.main(["compare", str(baseline), str(candidate)]) == 0
    assert "No differences" in capsys.readouterr().out
    assert _result(candidate).empty
    assert (candidate / "compare.md").is_file()
    assert {p.name: p.read_bytes() for p in baseline.iterdir() if p.is_file()} == before


def test_a_number_beyond_the_tolerance_changed(tmp_path, baseline):
    candidate = _run(tmp_path, "cand", _base_rows(value=1.001))
    assert cli.main(["compare", str(baseline), str(candidate)]) == 1
    result = _result(candidate)
    assert set(result["category"]) == {"changed"}
    assert set(result["metric"]) == {"score"} and len(result) == 4  # 2 cells x 2 seedings
    row = result.iloc[0]
    assert (row.baseline, row.candidate) == ("1.0", "1.001")
    assert row.detail.startswith("|diff| = 0.001")


def test_a_number_within_the_tolerance_did_not(tmp_path, baseline):
    candidate = _run(tmp_path, "cand", _base_rows(value=1.0 + 1e-8))
    assert cli.main(["compare", str(baseline), str(candidate)]) == 0
    far = _run(tmp_path, "far", _base_rows(value=1.001))
    assert cli.main(["compare", str(baseline), str(far), "--atol", "0.01"]) == 0
    assert cli.main(["compare", str(baseline), str(far), "--rtol", "0.01"]) == 0


def test_fingerprints_compare_exactly(tmp_path, baseline):
    candidate = _run(tmp_path, "cand", _base_rows(fp="fp2"))
    assert cli.main(["compare", str(baseline), str(candidate), "--atol", "1e9"]) == 1
    assert set(_result(candidate)["metric"]) == {"output"}


def test_lost_and_gained_reproducibility(tmp_path, baseline):
    flaky = _run(tmp_path, "flaky", _base_rows(flaky=True))
    assert cli.main(["compare", str(baseline), str(flaky)]) == 1
    result = _result(flaky)
    assert set(result["category"]) == {"lost-repro"}
    assert result.iloc[0]["candidate"] == "2.0 | 3.0"
    assert cli.main(["compare", str(baseline), str(flaky), "--fail-on", "changed"]) == 0
    out = tmp_path / "back"
    assert cli.main(["compare", str(flaky), str(baseline), "--out", str(out)]) == 0  # informational
    assert set(_result(out)["category"]) == {"gained-repro"}


def test_random_on_both_sides_is_not_a_change(tmp_path):
    a = _run(tmp_path, "a", _base_rows(flaky=True))
    b = _run(tmp_path, "b", _base_rows(value=5.0, flaky=True))
    assert cli.main(["compare", str(a), str(b)]) == 0


def test_rows_that_vanish_fail_and_rows_that_appear_do_not(tmp_path, baseline):
    fewer = [r for r in _base_rows() if r.metric != "output"]
    candidate = _run(tmp_path, "fewer", fewer)
    assert cli.main(["compare", str(baseline), str(candidate)]) == 1
    assert set(_categories(candidate)) == {"vanished"}
    out = tmp_path / "more"
    assert cli.main(["compare", str(candidate), str(baseline), "--out", str(out)]) == 0
    assert set(_categories(out)) == {"appeared"}
    assert cli.main(["compare", str(candidate), str(baseline), "--out", str(out),
                         "--fail-on", "appeared"]) == 1


def test_missing_and_new_cells_are_listed_and_shared_cells_compared(tmp_path, baseline):
    candidate = _run(tmp_path, "cand", _base_rows(cells=(OLD, TV07)))
    assert cli.main(["compare", str(baseline), str(candidate)]) == 1
    result = _result(candidate)
    assert list(result["category"]) == ["missing-cell", "new-cell"]
    assert list(result["cell"]) == [NEW, TV07]
    assert cli.main(["compare", str(baseline), str(candidate), "--fail-on", "new-cell"]) == 1
    assert cli.main(["compare", str(baseline), str(candidate), "--fail-on", "changed"]) == 0


def test_a_scenario_that_starts_failing_is_one_row_per_run(tmp_path, baseline):
    rows = [r for r in _base_rows() if not (r.cell == NEW and r.scenario == "s")]
    rows += everywhere(NEW, "s", None, seedings=("python", "full"), status="error",
                       detail="RuntimeError: boom")
    candidate = _run(tmp_path, "cand", rows)
    assert cli.main(["compare", str(baseline), str(candidate)]) == 1
    result = _result(candidate)
    assert list(result["metric"]) == ["status", "status"]  # the metrics' vanishing is implied
    assert set(result["category"]) == {"now-fails"}  # the report's word for it too
    assert set(result["candidate"]) == {"error"}
    assert set(result["detail"]) == {"RuntimeError: boom"}


def test_a_cell_that_failed_to_install_is_one_row(tmp_path, baseline):
    rows = [r for r in _base_rows() if r.cell != NEW] + install_failure(NEW)
    candidate = _run(tmp_path, "cand", rows)
    assert cli.main(["compare", str(baseline), str(candidate)]) == 1
    result = _result(candidate)
    assert len(result) == 1
    row = result.iloc[0]
    assert (row.category, row.cell, row.scenario) == ("now-fails", NEW, "cell.install")
    assert (row.baseline, row.candidate) == ("ok", "error")


def test_a_changed_pin_fails_even_when_no_value_moved(tmp_path, baseline):
    rows = [r._replace(numpy="1.26.0") if r.cell == OLD else r for r in _base_rows()]
    candidate = _run(tmp_path, "cand", rows)
    assert cli.main(["compare", str(baseline), str(candidate)]) == 1
    result = _result(candidate)
    assert list(result["category"]) == ["pins-changed"]
    assert (result.iloc[0]["metric"], result.iloc[0]["baseline"], result.iloc[0]["candidate"]) \
        == ("numpy", "1.24.4", "1.26.0")


def test_timing_is_never_compared(tmp_path, baseline):
    rows = [r._replace(value="99.0") if r.kind == "timing" else r for r in _base_rows()]
    assert cli.main(["compare", str(baseline), str(_run(tmp_path, "cand", rows))]) == 0


def test_inputs_may_be_matrix_files_or_unmerged_run_directories(tmp_path, baseline):
    unmerged = _run(tmp_path, "raw", _base_rows(value=2.0), merged=False)
    assert not (unmerged / "matrix.csv").exists()
    out = tmp_path / "out"
    assert cli.main(["compare", str(baseline / "matrix.csv"), str(unmerged), "--out", str(out)]) == 1
    assert not (unmerged / "matrix.csv").exists()  # merged on the fly, nothing written there
    assert set(_categories(out)) == {"changed"}


def test_never_writes_into_the_baseline(tmp_path, baseline, capsys):
    assert cli.main(["compare", str(baseline), str(baseline)]) == 0
    assert not (baseline / "compare.csv").exists()
    assert "not writing into the baseline" in capsys.readouterr().err
    assert cli.main(["compare", str(baseline), str(baseline), "--out", str(baseline)]) == 2


def test_fail_on_all_and_none(tmp_path, baseline):
    candidate = _run(tmp_path, "cand", _base_rows(value=3.0))
    assert cli.main(["compare", str(baseline), str(candidate), "--fail-on", "none"]) == 0
    assert cli.main(["compare", str(baseline), str(candidate), "--fail-on", "all"]) == 1
    # a bad option value is one line and exit 2, like any other bad input
    assert cli.main(["compare", str(baseline), str(candidate), "--fail-on", "changd"]) == 2


def _damage_matrix(run, edit):
    path = run / "matrix.csv"
    path.write_text(edit(path.read_text()))
    return path


@pytest.mark.parametrize("edit, problem", [
    (lambda t: t[:-25], "truncated"),
    (lambda t: t.replace("\n1,t,", "\n3,t,", 1), "schema_version '3'"),
    (lambda t: t + t.splitlines()[1] + "\n", "duplicated key"),
    (lambda t: t.replace(",count,3,", ",count,three,", 1), "not an integer"),
    (lambda t: "", "empty file"),
])
def test_bad_input_exits_2_naming_the_file(tmp_path, baseline, capsys, edit, problem):
    candidate = _run(tmp_path, "cand", _base_rows())
    path = _damage_matrix(candidate, edit)
    capsys.readouterr()
    assert cli.main(["compare", str(baseline), str(candidate)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and problem in err
    assert not (candidate / "compare.csv").exists()


def test_reordered_rows_are_the_same_run_and_reordered_columns_are_bad_input(
        tmp_path, baseline, capsys):
    lines = (baseline / "matrix.csv").read_text().splitlines(keepends=True)
    shuffled = _run(tmp_path, "shuffled", _base_rows())
    (shuffled / "matrix.csv").write_text(lines[0] + "".join(reversed(lines[1:])))
    assert cli.main(["compare", str(baseline), str(shuffled)]) == 0
    swapped = _run(tmp_path, "swapped", _base_rows())
    frame = pd.read_csv(baseline / "matrix.csv", dtype=str, keep_default_na=False)
    columns = list(frame.columns)
    columns[0], columns[1] = columns[1], columns[0]
    frame[columns].to_csv(swapped / "matrix.csv", index=False)
    capsys.readouterr()
    assert cli.main(["compare", str(baseline), str(swapped)]) == 2
    assert "header is not the schema's columns (wrong order)" in capsys.readouterr().err


def test_windows_line_endings_and_a_bom_are_read(tmp_path, baseline):
    text = (baseline / "matrix.csv").read_text()
    edited = _run(tmp_path, "excel", _base_rows())
    (edited / "matrix.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert cli.main(["compare", str(baseline), str(edited)]) == 0


def test_missing_input_exits_2(tmp_path, baseline, capsys):
    assert cli.main(["compare", str(baseline), str(tmp_path / "nope")]) == 2
    assert "no such run directory" in capsys.readouterr().err


def test_md_escapes_values(tmp_path):
    evil = "<img src=x>|`"
    a = _run(tmp_path, "a", everywhere(OLD, "s", {"note": evil + "1"}))
    from resultrows import Text
    b = _run(tmp_path, "b", everywhere(OLD, "s", {"note": Text("<img src=x>|`2")}))
    assert cli.main(["compare", str(a), str(b)]) == 1
    md = (b / "compare.md").read_text()
    assert re.search(r"(?<!&lt;)<img", md) is None and "&lt;img src=x>" in md


def test_module_entry_point_exit_codes(tmp_path, baseline):
    changed = _run(tmp_path, "cand", _base_rows(value=7.0))
    run = [sys.executable, "-m", "rngdrift", "compare"]
    same = subprocess.run(run + [str(baseline), str(_run(tmp_path, "same", _base_rows()))],
                          cwd=ROOT, capture_output=True, text=True)
    differs = subprocess.run(run + [str(baseline), str(changed)], cwd=ROOT, capture_output=True,
                             text=True)
    bad = subprocess.run(run + [str(baseline), str(tmp_path / "nope")], cwd=ROOT,
                         capture_output=True, text=True)
    assert (same.returncode, differs.returncode, bad.returncode) == (0, 1, 2)
    assert "| `changed` | 4 | yes |" in differs.stdout


def test_help_documents_the_categories_and_the_default():
    proc = subprocess.run([sys.executable, "-m", "rngdrift", "compare", "--help"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0
    for category in compare.CATEGORIES:
        assert category in proc.stdout
    assert "(default:changed,lost-repro,now-fails,vanished,missing-cell,pins-changed)" in \
        "".join(proc.stdout.split())


def test_the_rows_builder_matches_the_schema():
    assert set(meta(OLD)._fields) | {"scenario", "seeding", "repeat", "metric", "kind", "value",
                             "status", "detail"} == set(schema.COLUMNS)


def _pair_run(tmp_path, name, second, seeding="none", draws_torch=(1, 1)):
    """pairs.rotation in one cell: repeat 1 gives 0.0, repeat 2 ``second``."""
    def metrics(mode, repeat):
        return {"pair_consistency": 0.0 if repeat == 1 else second,
                "rng.python": 0, "rng.torch": draws_torch[repeat - 1]}
    return _run(tmp_path, name, everywhere(OLD, "pairs.rotation", metrics, seedings=(seeding,)))


@pytest.mark.parametrize("seeding", ["none", "python"])
def test_moves_where_an_unseeded_generator_is_drawn_are_listed_but_do_not_fail(tmp_path,
                                                                              seeding):
    base, cand = _pair_run(tmp_path, "base", 0.0, seeding), _pair_run(tmp_path, "cand", 0.01,
                                                                      seeding)
    assert cli.main(["compare", str(base), str(cand)]) == 0
    result = _result(cand)
    assert list(result["category"]) == ["unseeded"]
    assert "lost-repro" in result["detail"].iloc[0]
    assert cli.main(["compare", str(base), str(cand), "--fail-on", "unseeded"]) == 1


def test_seeded_draws_keep_their_category(tmp_path):
    base = _pair_run(tmp_path, "base", 0.0, "torch")
    cand = _pair_run(tmp_path, "cand", 0.01, "torch")
    assert cli.main(["compare", str(base), str(cand)]) == 1
    assert list(_result(cand)["category"]) == ["lost-repro"]


def test_a_scenario_that_starts_drawing_unseeded_is_a_regression(tmp_path):
    base = _pair_run(tmp_path, "base", 0.0, "python", draws_torch=(0, 0))
    cand = _pair_run(tmp_path, "cand", 0.01, "python", draws_torch=(1, 1))
    assert cli.main(["compare", str(base), str(cand)]) == 1
    assert "lost-repro" in set(_result(cand)["category"])


def test_a_cell_whose_pins_changed_fails_and_a_new_machine_does_not(tmp_path):
    base = _run(tmp_path, "base", _base_rows())
    moved = [r._replace(pillow="9.5.0") if r.cell == OLD else r for r in _base_rows()]
    elsewhere = [r._replace(platform="Linux CI runner", python=r.python + ".1")
                 for r in _base_rows()]
    pins, machine = _run(tmp_path, "pins", moved), _run(tmp_path, "machine", elsewhere)
    assert cli.main(["compare", str(base), str(pins)]) == 1
    assert set(_result(pins)["category"]) == {"pins-changed"}
    assert cli.main(["compare", str(base), str(machine)]) == 0
    assert set(_result(machine)["category"]) == {"env-changed"}


def _user_run(tmp_path, name, code, loss, status="ok"):
    from resultrows import Text
    out = []
    for cell in (OLD, NEW):
        out += everywhere(cell, "call.mine.train", {"loss": loss, "code.sha256": Text(code)},
                          seedings=("all",), status=status)
        out += everywhere(cell, "t", {"count": 3}, seedings=("all",))
    return _run(tmp_path, name, out)


def test_a_change_of_the_users_code_is_its_own_category_and_does_not_fail(tmp_path):
    base = _user_run(tmp_path, "base", "aaaa", 0.5)
    cand = _user_run(tmp_path, "cand", "bbbb", 0.25)
    assert cli.main(["compare", str(base), str(cand)]) == 0
    result = _result(cand)
    assert set(result["category"]) == {"code-changed"}
    assert sorted(result["metric"]) == ["code.sha256", "code.sha256", "loss", "loss"]
    loss = result[result["metric"] == "loss"].iloc[0]
    assert loss.detail.startswith("changed with its code")
    assert "| `code-changed` | 4 | no |" in (cand / "compare.md").read_text()
    assert cli.main(["compare", str(base), str(cand), "--fail-on", "code-changed"]) == 1


def test_without_a_code_change_the_same_move_is_a_change(tmp_path):
    base = _user_run(tmp_path, "base", "aaaa", 0.5)
    cand = _user_run(tmp_path, "cand", "aaaa", 0.25)
    assert cli.main(["compare", str(base), str(cand)]) == 1
    assert set(_result(cand)["category"]) == {"changed"}


def test_a_scenario_that_fails_after_its_code_changed_still_fails(tmp_path):
    base = _user_run(tmp_path, "base", "aaaa", 0.5)
    cand = _user_run(tmp_path, "cand", "bbbb", 0.5, status="error")
    assert cli.main(["compare", str(base), str(cand)]) == 1
    assert set(_result(cand)["category"]) == {"now-fails"}
