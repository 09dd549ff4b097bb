"""Attribution where real code draws, in real cells: DataLoader workers forked,
spawned and persistent, from torch 1.5 to the newest (issue: which generator moved
inside workers, under every seeding mode)."""
from __future__ import annotations

import textwrap

import pytest

from conftest import NEW_CELL, OLD_CELL, ROOT, run_cell

pytestmark = pytest.mark.slow
TV07_CELL = "py3.8-torch1.6.0-tv0.7.0"

SPAWN_DATASET = textwrap.dedent("""
    import random
    import torch

    class Draws(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, index):
            return torch.tensor([random.random(), float(torch.rand(1))])
""")
SPAWN_SCENARIO = textwrap.dedent("""
    from torch.utils.data import DataLoader
    from _rngdrift.harness.cell.registry import scenario
    from spawn_dataset import Draws

    @scenario("attr.spawn_workers")
    def spawn_workers(ctx):
        loader = DataLoader(Draws(), batch_size=2, num_workers=2,
                            multiprocessing_context="spawn")
        return {"items": sum(len(batch) for batch in loader)}
""")


def _rows(rows, scenario, seeding="python", repeat="1"):
    return {r.metric: r.value for r in rows
            if (r.scenario, r.seeding, r.repeat) == (scenario, seeding, repeat)}


@pytest.fixture(scope="module")
def loader_pairs(cell_python, tmp_path_factory):
    """examples/loader_pairs.py in the torch 1.5, 1.6 and newest cells."""
    out = {}
    for cell in (OLD_CELL, TV07_CELL, NEW_CELL):
        out[cell] = run_cell(cell_python(cell), tmp_path_factory.mktemp(cell) / "c.csv",
                             "--scenarios", str(ROOT / "examples" / "loader_pairs.py"),
                             "--only", "example.loader_pairs.*", "--seeding", "python,all",
                             "--repeats", "1", cell=cell)
    return out


def test_worker_draws_move_from_random_to_torch_at_torchvision_0_7(loader_pairs):
    old = _rows(loader_pairs[OLD_CELL], "example.loader_pairs.workers")
    tv07 = _rows(loader_pairs[TV07_CELL], "example.loader_pairs.workers")
    new = _rows(loader_pairs[NEW_CELL], "example.loader_pairs.workers")
    assert old["rng.worker.calls.random.random"] == "128"
    assert "rng.worker.calls.torch.rand" not in old
    for moved in (tv07, new):
        assert moved["rng.worker.calls.torch.rand"] == "128"
        assert "rng.worker.calls.random.random" not in moved
    assert old["rng.worker.processes"] == tv07["rng.worker.processes"] == "2"
    # the workers drew; the scenario's own process only drew the workers' base seed
    assert old["rng.python"] == "0" and old["rng.worker.python"] == "1"
    assert float(old["pair_consistency"]) == 1.0 > float(tv07["pair_consistency"])


def test_persistent_workers_report_once_each(loader_pairs):
    persistent = _rows(loader_pairs[NEW_CELL], "example.loader_pairs.persistent_workers", "all")
    assert persistent["rng.worker.processes"] == "2"
    assert persistent["rng.worker.calls.torch.rand"] == "128"
    assert _rows(loader_pairs[OLD_CELL], "example.loader_pairs.persistent_workers")[
        "status"] == "n/a"


@pytest.mark.parametrize("cell", [OLD_CELL, NEW_CELL])
def test_spawned_workers_report_too(cell, cell_python, tmp_path):
    (tmp_path / "spawn_dataset.py").write_text(SPAWN_DATASET)
    (tmp_path / "spawn_scenario.py").write_text(SPAWN_SCENARIO)
    rows = run_cell(cell_python(cell), tmp_path / "c.csv", "--scenarios",
                    str(tmp_path / "spawn_scenario.py"), "--only", "attr.*",
                    "--seeding", "torch", "--repeats", "1", cell=cell)
    got = _rows(rows, "attr.spawn_workers", "torch")
    assert got["items"] == "8"
    assert got["rng.worker.processes"] == "2"
    assert got["rng.worker.calls.random.random"] == got["rng.worker.calls.torch.rand"] == "8"
