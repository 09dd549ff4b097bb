"""--call, --script, --pytest, --dataset and --pairs in real cells (torch 1.5/tv 0.6 and
the newest), on the unmodified examples/ files, one run per cell; then the report over
the two. Also a script that hangs or exits non-zero, files that import each other, a
path that registers nothing, and a loader's own worker_init_fn under `full` with
spawned workers."""
from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from conftest import NEW_CELL, OLD_CELL, ROOT, build_cell, run_cell, value
from _rngdrift.harness import cli
from _rngdrift.harness.cell import schema

pytestmark = pytest.mark.slow

MODES = ("python", "torch", "full")
ARGS = ["--call", "examples/data.py:preview_batch",
        "--script", "python examples/train.py --epochs 2",
        "--metric", r"accuracy=Accuracy: \d+/\d+ \(([0-9.]+)%\)",
        "--pytest", "examples/test_model.py",
        "--dataset", "examples/data.py:noisy_points",
        "--pairs", "examples/data.py:segmentation_pairs",
        "--user-only", "--workdir", str(ROOT), "--seeding", ",".join(MODES), "--repeats", "2"]
SCRIPT, CALL = "script.train", "call.data.preview_batch"
DATASET, PAIRS = "dataset.data.noisy_points", "datapairs.data.segmentation_pairs"
TEST = "pytest.examples.test_model."


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """{cell: rows} and the run directory holding both cells' CSVs."""
    run_dir = tmp_path_factory.mktemp("usercode")
    rows = {}
    for cell in (OLD_CELL, NEW_CELL):
        rows[cell] = run_cell(build_cell(cell, pytest=True),
                              run_dir / "cells" / f"{cell}.csv", *ARGS, cell=cell)
    return rows, run_dir


def _status(rows):
    return {(r.scenario, r.seeding, r.repeat): (r.status, r.detail)
            for r in rows if r.metric == schema.STATUS_METRIC}


def _values(rows, scenario, seeding, metric):
    return [value(rows, scenario, seeding, metric, repeat) for repeat in ("1", "2")]


def test_every_entry_point_runs_in_both_cells(run):
    rows, _ = run
    for cell, cell_rows in rows.items():
        status = _status(cell_rows)
        names = {s for s, _, _ in status}
        assert {SCRIPT, CALL, DATASET, PAIRS} <= names, cell
        tests = sorted(n[len(TEST):] for n in names if n.startswith(TEST))
        assert tests == sorted([
            "test_dropout_repeats_with_the_same_seed", "test_dropout_drops_about_p[0.1]",
            "test_dropout_drops_about_p[0.5]", "test_masks_follow_their_images",
            "test_loss_goes_down", "test_vmap_matches_a_loop",
            "test_python_shuffle_is_seeded_by_random_seed"]), cell
        # a test pytest skips (torch.func before torch 2.0) is n/a with pytest's reason
        skipped = {TEST + "test_vmap_matches_a_loop"} if cell == OLD_CELL else set()
        assert {v for (name, _, _), v in status.items() if name in skipped} <= {
            ("n/a", "skipped: torch.func is torch 2.0+")}, cell
        assert {v for (name, _, _), v in status.items() if name not in skipped} == {("ok", "")}, \
            (cell, status)
        assert len(status) == len(names) * len(MODES) * 2
        # every one that ran has its code identity and attribution rows
        for name in names - skipped:
            metrics = {r.metric for r in cell_rows if r.scenario == name}
            assert schema.CODE_METRIC in metrics and "rng.torch" in metrics, (cell, name)


def test_a_call_gives_a_fingerprint_with_shape_and_dtype(run):
    rows, _ = run
    for cell_rows in rows.values():
        assert value(cell_rows, CALL, "full", "value.shape") == "8x3x48x48"
        assert value(cell_rows, CALL, "full", "value.dtype") == "torch.float32"
    # torchvision's transforms draw differently: the same seed, other augmentations
    assert value(rows[OLD_CELL], CALL, "full", "value") != value(rows[NEW_CELL], CALL, "full",
                                                                 "value")


def test_the_script_reports_what_it_prints_and_records(run):
    rows, _ = run
    for cell_rows in rows.values():
        assert 50.0 < float(value(cell_rows, SCRIPT, "python", "accuracy")) <= 100.0
        assert float(value(cell_rows, SCRIPT, "python", "test_loss")) > 0
        assert value(cell_rows, SCRIPT, "python", "weights.fc1.weight.shape") == "64x16"
        assert value(cell_rows, SCRIPT, "python", "rng.worker.numpy") == "1"
        assert value(cell_rows, SCRIPT, "python", "rng.calls.torch.manual_seed") == "1"
    # The script seeds torch only. Before torch 1.9 its workers' NumPy jitter comes from
    # the unseeded parent state: weights differ run to run; from 1.9 they repeat.
    old = _values(rows[OLD_CELL], SCRIPT, "torch", "weights.fc1.weight")
    new = _values(rows[NEW_CELL], SCRIPT, "torch", "weights.fc1.weight")
    assert old[0] != old[1] and new[0] == new[1]
    assert len(set(_values(rows[OLD_CELL], SCRIPT, "python", "weights.fc1.weight"))) == 1


def test_the_dataset_check_finds_numpy_draws_repeated_across_workers(run):
    rows, _ = run
    for seeding in ("python", "torch"):
        assert value(rows[OLD_CELL], DATASET, seeding, "duplicate_fraction") == "1.0"
        assert value(rows[OLD_CELL], DATASET, seeding, "epoch_repeat") == "1.0"
        assert value(rows[NEW_CELL], DATASET, seeding, "duplicate_fraction") == "0.0"
        assert value(rows[NEW_CELL], DATASET, seeding, "epoch_repeat") == "0.0"
    # full's recipe (a worker_init_fn seeding NumPy per worker) fixes it everywhere
    for cell_rows in rows.values():
        assert value(cell_rows, DATASET, "full", "duplicate_fraction") == "0.0"
        assert value(cell_rows, DATASET, "full", "rng.worker.numpy") == "1"


def test_the_pairs_check_finds_masks_leaving_their_images(run):
    rows, _ = run
    for seeding in MODES:
        assert value(rows[OLD_CELL], PAIRS, seeding, "pair_consistency") == "1.0"
        assert float(value(rows[OLD_CELL], PAIRS, seeding, "geometry_agreement")) > 0.8
        assert float(value(rows[NEW_CELL], PAIRS, seeding, "pair_consistency")) < 0.3
        assert float(value(rows[NEW_CELL], PAIRS, seeding, "geometry_agreement")) < 0.4
    # ... because the transforms' draws moved from random to torch
    old = {r.metric for r in rows[OLD_CELL] if r.scenario == PAIRS}
    new = {r.metric for r in rows[NEW_CELL] if r.scenario == PAIRS}
    assert "rng.calls.random.uniform" in old and "rng.calls.torch.Tensor.uniform_" not in old
    assert "rng.calls.torch.Tensor.uniform_" in new and "rng.calls.random.uniform" not in new


def test_pytest_outcomes_and_recorded_values(run):
    rows, _ = run
    masks, vmap, loss = (TEST + "test_masks_follow_their_images", TEST + "test_vmap_matches_a_loop",
                         TEST + "test_loss_goes_down")
    for seeding in MODES:
        assert value(rows[OLD_CELL], masks, seeding, "passed") == "1"
        assert value(rows[NEW_CELL], masks, seeding, "passed") == "0"
        # the test's own line, with the values its assert compared
        assert value(rows[NEW_CELL], masks, seeding, "failure").startswith(
            "AssertionError (examples/test_model.py:43): assert ")
        assert value(rows[OLD_CELL], vmap, seeding, "status") == "n/a"
        assert value(rows[NEW_CELL], vmap, seeding, "passed") == "1"
    assert not [r for cell_rows in rows.values() for r in cell_rows if r.metric == "outcome"]
    for cell_rows in rows.values():
        assert value(cell_rows, loss, "full", "passed") == "1"
        assert float(value(cell_rows, loss, "full", "last_loss")) <= \
            float(value(cell_rows, loss, "full", "first_loss"))


def test_the_freeze_file_names_the_users_code_and_pytest(run):
    _, run_dir = run
    for cell in (OLD_CELL, NEW_CELL):
        lines = (run_dir / "cells" / f"{cell}.freeze.txt").read_text().splitlines()
        assert "# pytest: examples/test_model.py" in lines
        assert "# script: python examples/train.py --epochs 2" in lines
        code = [l for l in lines if l.startswith("# code: ")]
        assert [l.split()[2].rsplit("/", 1)[1] for l in code] == [
            "data.py", "test_model.py", "train.py"]
        pytest_line = [l for l in lines if l.startswith("pytest==")]
        assert len(pytest_line) == 1, cell
        if cell == OLD_CELL:  # Python 3.8: the 8.3 line, the last that supports it
            assert pytest_line[0].startswith("pytest==8.3.")


def test_the_report_shows_the_changes_with_attribution(run):
    rows, run_dir = run
    assert cli.main(["report", str(run_dir)]) == 0
    report = (run_dir / "report.md").read_text()
    verdict = report[:report.index("## All findings by upgrade step")]
    # goals: a test that passed and fails now, and image/mask pairs that stopped matching,
    # are broken; NumPy draws no longer repeated across workers are good news
    assert "**Broken**" in verdict
    assert f"`{TEST}test_masks_follow_their_images` `passed` under `python`: 1 → 0" in report
    assert f"`{PAIRS}` `pair_consistency` under `python`: 1.0 → 0.0" in report
    assert f"`{DATASET}` `duplicate_fraction`" in report and "Fixed upstream" in report
    assert "sha256" not in report
    # why, for the user's own code: the known torchvision change its draws fit
    assert "tv-0.8-transforms-torch-rng" in verdict or "tv-0.7-flips-colorjitter-torch-rng" in verdict
    assert "`random.uniform`" in verdict and "`torch." in verdict


# -- failures, files that import each other, the worker_init_fn merge ---------------------

OWN_INIT = '''
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, Dataset, get_worker_info

    from _rngdrift.harness.cell.registry import scenario


    def own_init(worker_id):
        get_worker_info().dataset.tag = 10 + worker_id


    class Tagged(Dataset):
        tag = 0

        def __len__(self):
            return 4

        def __getitem__(self, index):
            return torch.tensor([float(self.tag), float(np.random.rand())])


    @scenario("merge.own_init", timeout=300)
    def merge(ctx):
        loader = DataLoader(Tagged(), num_workers=2, multiprocessing_context="{context}",
                            **ctx.loader_kwargs(worker_init_fn=own_init, batch_size=1))
        items = [tuple(batch[0].tolist()) for batch in loader]
        return {{"tags": ",".join("%d" % tag for tag, _ in items),
                 "distinct_draws": len(set(draw for _, draw in items))}}
'''


@pytest.mark.parametrize("cell,context", [(OLD_CELL, "spawn"), (NEW_CELL, "fork")])
def test_a_loaders_own_worker_init_fn_is_chained(tmp_path, cell, context):
    """Under `full` the recipe's worker seeding runs and then the loader's own function,
    also in spawned workers (the chain pickles); other modes pass it through as it is."""
    path = tmp_path / "merge_checks.py"
    path.write_text(textwrap.dedent(OWN_INIT.format(context=context)))
    rows = run_cell(build_cell(cell), tmp_path / "out.csv", "--scenarios", str(path),
                    "--user-only", "--seeding", "none,full", "--repeats", "1", cell=cell)
    assert {r.status for r in rows if r.metric == "status"} == {"ok"}, rows
    for seeding in ("none", "full"):
        assert value(rows, "merge.own_init", seeding, "tags") == "10,11,10,11"
    assert value(rows, "merge.own_init", "full", "distinct_draws") == "4"
    recipe = value(rows, "merge.own_init", "full", "rng.recipe")
    assert recipe == ("worker_init_fn+own" if cell == OLD_CELL else "generator,worker_init_fn+own")


def test_scripts_that_fail_or_hang_and_files_that_import_each_other(tmp_path):
    (tmp_path / "exits.py").write_text("print('loading data')\nraise SystemExit(3)\n")
    (tmp_path / "hangs.py").write_text("import time\n\ndef wait():\n    while True:\n"
                                       "        time.sleep(0.1)\n\nwait()\n")
    checks = tmp_path / "checks"
    checks.mkdir()
    header = "from rngdrift import scenario\n"
    (checks / "common.py").write_text(header + "@scenario('shared.common')\ndef common(ctx):\n"
                                      "    return {'x': 1}\n")
    (checks / "a.py").write_text(header + "import common\n\n@scenario('shared.a')\n"
                                 "def a(ctx):\n    return common.common(ctx)\n")
    rows = run_cell(build_cell(OLD_CELL), tmp_path / "out.csv", "--scenarios", str(checks),
                    "--script", "python exits.py", "--script", "python hangs.py",
                    "--workdir", str(tmp_path), "--user-only", "--seeding", "all",
                    "--repeats", "1", "--timeout", "8", cell=OLD_CELL)
    status = {r.scenario: (r.status, r.detail) for r in rows if r.metric == "status"}
    assert status["shared.a"] == status["shared.common"] == ("ok", "")
    assert status["script.exits"] == ("error", "script exited with code 3; output: loading data")
    assert status["script.hangs"][0] == "timeout"
    assert status["script.hangs"][1].endswith("was at hangs.py:5 in wait < hangs.py:7 in <module>")


def test_a_path_that_registers_nothing_stops_the_cell_with_one_line(tmp_path):
    path = tmp_path / "test_things.py"
    path.write_text("def test_one():\n    assert True\n")
    proc = subprocess.run(
        [str(build_cell(OLD_CELL)), "-m", "_rngdrift.harness.cell", "--out", str(tmp_path / "x.csv"),
         "--cell", OLD_CELL, "--scenarios", str(path)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == (f"rngdrift: {path}: registers no scenario (no @scenario(...) function "
                           f"in it); it looks like a pytest file: run it with --pytest {path}\n")
    assert not (tmp_path / "x.csv").exists()


def test_a_script_with_backward_after_a_call_with_backward_on_torch_1_5(tmp_path):
    """torch 1.5 refuses backward() in a fork of a process that ran backward(): scripts
    (forked) run before the in-process calls in every child."""
    (tmp_path / "steps.py").write_text(textwrap.dedent("""
        import torch

        def step():
            w = torch.ones(3, requires_grad=True)
            (w * torch.rand(3)).sum().backward()
            return w.grad

        if __name__ == "__main__":
            step()
    """))
    rows = run_cell(build_cell(OLD_CELL), tmp_path / "out.csv", "--call", "steps.py:step",
                    "--script", "python steps.py", "--workdir", str(tmp_path), "--user-only",
                    "--seeding", "all", "--repeats", "1", cell=OLD_CELL)
    status = [(r.scenario, r.status, r.detail) for r in rows if r.metric == "status"]
    assert status == [("script.steps", "ok", ""), ("call.steps.step", "ok", "")]


def test_pytest_outcomes_a_file_that_cannot_be_collected_and_pytest_options(tmp_path):
    (tmp_path / "test_new_api.py").write_text("from torch.func import vmap\n\n\n"
                                              "def test_vmap():\n    assert vmap\n")
    (tmp_path / "test_kinds.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.xfail(reason="known")
        def test_known():
            assert False

        def test_needs_a_fixture(missing_fixture):
            pass

        def test_left_out():
            pass
    """))
    rows = run_cell(build_cell(OLD_CELL, pytest=True), tmp_path / "out.csv",
                    "--pytest", ". -k 'not left_out'", "--workdir", str(tmp_path), "--user-only",
                    "--seeding", "all", "--repeats", "1", cell=OLD_CELL)
    status = {r.scenario: (r.status, r.detail) for r in rows if r.metric == "status"}
    assert status == {
        "pytest.test_kinds.test_known": ("ok", ""),
        "pytest.test_kinds.test_needs_a_fixture": ("ok", ""),
        "pytest.test_new_api": ("error", "pytest could not collect test_new_api.py: "
                                         "ModuleNotFoundError: No module named 'torch.func'")}
    assert value(rows, "pytest.test_kinds.test_known", "all", "passed") == "1"  # xfailed
    assert value(rows, "pytest.test_kinds.test_needs_a_fixture", "all", "passed") == "0"
    assert value(rows, "pytest.test_kinds.test_needs_a_fixture", "all", "failure") == \
        "error in setup: FixtureLookupError (test_kinds.py:8): fixture 'missing_fixture' not found"
