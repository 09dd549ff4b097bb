"""In real cells: which generator a draw came from across torch 1.8.1 -> 1.9.0 (the
RandomSampler's own generator, pytorch/pytorch#52956), and a team's own loader, goals,
normalised pairs and a pinned-loss test suite at torch 1.5 and the newest. The code
under test is written as projects write it (a tutorial loader, a segmentation Dataset
with the random.seed recipe, a worker_init_fn that seeds every worker alike)."""
from __future__ import annotations

import textwrap

import pytest

from conftest import NEW_CELL, OLD_CELL, build_cell, run_cell

pytestmark = pytest.mark.slow
BEFORE_19, AT_19 = "py3.8-torch1.8.1-tv0.9.1", "py3.8-torch1.9.0-tv0.10.0"

TEAM = {
    "worker_bug.py": '''
        import numpy as np
        import torch
        from torch.utils.data import DataLoader, Dataset

        class NoisyCrops(Dataset):
            def __init__(self):
                self.data = torch.from_numpy(np.random.RandomState(0).rand(32, 1, 40, 40)).float()

            def __len__(self):
                return len(self.data)

            def __getitem__(self, index):
                top, left = np.random.randint(0, 9, size=2)
                return self.data[index][:, top:top + 32, left:left + 32]

        def worker_init_fn(worker_id):
            np.random.seed(42)  # the bug: every worker, every epoch the same stream

        def fixed_worker_init_fn(worker_id):
            np.random.seed((torch.initial_seed() + worker_id) % 2 ** 32)

        def buggy_loader():
            return DataLoader(NoisyCrops(), batch_size=4, shuffle=True, num_workers=2,
                              worker_init_fn=worker_init_fn)

        def fixed_loader():
            return DataLoader(NoisyCrops(), batch_size=4, shuffle=True, num_workers=2,
                              worker_init_fn=fixed_worker_init_fn)

        def tutorial_loader():  # no worker_init_fn, as the tutorials have it
            return DataLoader(NoisyCrops(), batch_size=4, shuffle=True, num_workers=2)
    ''',
    "segdata.py": '''
        import random

        import numpy as np
        import torch
        import torchvision.transforms as transforms
        from PIL import Image
        from torch.utils.data import DataLoader, Dataset

        def _blobs(seed, size=64):
            rng = np.random.RandomState(seed)
            labels = np.kron((rng.rand(8, 8) > 0.5).astype(np.uint8), np.ones((8, 8), np.uint8))
            grey = np.where(labels == 1, 220, 35)[..., None] + rng.randint(-20, 21, (size, size, 3))
            return (Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8), "RGB"),
                    Image.fromarray(labels * 255, "L"))

        class Segmentation(Dataset):
            def __init__(self):
                self.samples = [_blobs(100 + i) for i in range(8)]
                self.geometry = transforms.Compose([transforms.RandomHorizontalFlip(),
                                                    transforms.RandomRotation(20)])
                self.normalize = transforms.Normalize([0.485, 0.456, 0.406],
                                                      [0.229, 0.224, 0.225])

            def __len__(self):
                return len(self.samples)

            def __getitem__(self, index):
                image, mask = self.samples[index]
                seed = np.random.randint(2147483647)
                random.seed(seed)
                image = self.normalize(transforms.ToTensor()(self.geometry(image)))
                random.seed(seed)
                mask = torch.from_numpy(np.array(self.geometry(mask), dtype=np.int64) // 255)
                return image, mask

        def pairs():
            return Segmentation()

        def train_loader():
            return DataLoader(Segmentation(), batch_size=2, shuffle=True, num_workers=2)
    ''',
    "evaluate.py": '''
        import rngdrift
        import torch

        def evaluate():
            torch.manual_seed(0)
            scores = torch.rand(100)
            rngdrift.record("val", {"loss": float(scores.mean())}, goal="down")
            return {"accuracy": float((scores > 0.5).float().mean())}

        def order():
            torch.manual_seed(0)
            loader = torch.utils.data.DataLoader(list(range(32)), batch_size=8, shuffle=True)
            return [int(i) for batch in loader for i in batch]
    ''',
    "test_training.py": '''
        import numpy as np
        import rngdrift
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        def train():
            torch.manual_seed(20170629)
            x = torch.from_numpy(np.random.RandomState(0).randn(64, 8)).float()
            y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
            loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
            model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                                        torch.nn.Linear(16, 2))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            for _ in range(3):
                for xb, yb in loader:
                    optimizer.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(xb), yb)
                    loss.backward()
                    optimizer.step()
            return loss.item()

        def test_loss_is_pinned():  # recorded at torch 1.8.1, as projects pin them
            loss = rngdrift.record("final_loss", train(), goal="down")
            np.testing.assert_allclose(loss, 0.5685162544250488, rtol=1e-5)
    ''',
}


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    root = tmp_path_factory.mktemp("team")
    for name, text in TEAM.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def _rows(rows):
    """{(scenario, metric): value} of the one seeding mode and repeat run."""
    return {(r.scenario, r.metric): r.value for r in rows}


@pytest.fixture(scope="module")
def sampler_step(team, tmp_path_factory):
    """A shuffled DataLoader, a test pinning a loss and the canonical loader scenarios,
    at torch 1.8.1 and 1.9.0."""
    out = {}
    for cell in (BEFORE_19, AT_19):
        out[cell] = _rows(run_cell(
            build_cell(cell, pytest=True), tmp_path_factory.mktemp(cell) / "c.csv",
            "--only", "loader.shuffle_global", "--only", "call.*", "--only", "pytest.*",
            "--call", "evaluate.py:order", "--pytest", "test_training.py",
            "--workdir", str(team), "--seeding", "all", "--repeats", "1", cell=cell))
    return out


def test_the_sampler_draws_as_often_at_torch_1_9_but_from_its_own_generator(sampler_step):
    before, after = sampler_step[BEFORE_19], sampler_step[AT_19]
    for scenario in ("loader.shuffle_global", "call.evaluate.order",
                     "pytest.test_training.test_loss_is_pinned"):
        key = (scenario, "rng.calls.torch.randperm")
        assert before[key] == after[key], scenario
        assert before[(scenario, "rng.generator.torch.randperm")] == "global", scenario
        assert after[(scenario, "rng.generator.torch.randperm")] == "own", scenario
        # the seed of that generator is drawn from the global one, at both versions
        assert before[(scenario, "rng.generator.torch.Tensor.random_")] == "global"
        assert after[(scenario, "rng.generator.torch.Tensor.random_")] == "global"
    assert before[("call.evaluate.order", "value")] != after[("call.evaluate.order", "value")]


def test_a_pinned_loss_fails_at_torch_1_9_naming_its_line_and_values(sampler_step):
    test = "pytest.test_training.test_loss_is_pinned"
    before, after = sampler_step[BEFORE_19], sampler_step[AT_19]
    assert (before[(test, "passed")], after[(test, "passed")]) == ("1", "0")
    assert (test, "failure") not in before and (test, "outcome") not in after
    assert after[(test, "failure")].startswith(
        "AssertionError (test_training.py:25): Not equal to tolerance rtol=1e-05, atol=0 | "
        "Mismatched elements: 1 / 1 (100%) | Max absolute difference: 0.0566")
    assert before[(test, "goal.passed")] == "up" and after[(test, "goal.final_loss")] == "down"


@pytest.fixture(scope="module")
def team_cells(team, tmp_path_factory):
    out = {}
    for cell in (OLD_CELL, NEW_CELL):
        out[cell] = _rows(run_cell(
            build_cell(cell), tmp_path_factory.mktemp(cell) / "c.csv",
            "--loader", "worker_bug.py:buggy_loader", "--loader", "worker_bug.py:fixed_loader",
            "--loader", "worker_bug.py:tutorial_loader", "--dataset", "worker_bug.py:buggy_loader",
            "--pairs", "segdata.py:pairs", "--loader", "segdata.py:train_loader",
            "--call", "evaluate.py:evaluate", "--goal", "accuracy=up",
            "--workdir", str(team), "--user-only", "--seeding", "all", "--repeats", "1",
            cell=cell))
    return out


def test_a_worker_seeding_bug_is_seen_in_every_cell_and_the_fix_in_none(team_cells):
    for cell, rows in team_cells.items():
        for scenario in ("dataloader.worker_bug.buggy_loader", "dataset.worker_bug.buggy_loader"):
            assert rows[(scenario, "duplicate_fraction")] == "1.0", (cell, scenario)
            assert rows[(scenario, "epoch_repeat")] == "1.0", (cell, scenario)
            assert rows[(scenario, "goal.duplicate_fraction")] == "down"
        assert rows[("dataloader.worker_bug.fixed_loader", "duplicate_fraction")] == "0.0", cell
    # without a worker_init_fn: the NumPy-in-workers bug of torch < 1.9, fixed upstream
    tutorial = ("dataloader.worker_bug.tutorial_loader", "duplicate_fraction")
    assert (team_cells[OLD_CELL][tutorial], team_cells[NEW_CELL][tutorial]) == ("1.0", "0.0")


def test_normalised_pairs_match_while_random_seed_steers_the_transforms(team_cells):
    old, new = team_cells[OLD_CELL], team_cells[NEW_CELL]
    for scenario in ("datapairs.segdata.pairs", "dataloader.segdata.train_loader"):
        assert float(old[(scenario, "pair_consistency")]) >= 0.9, scenario
        assert float(new[(scenario, "pair_consistency")]) <= 0.2, scenario
        assert new[(scenario, "goal.pair_consistency")] == "up"


def test_goals_from_the_command_line_and_from_record(team_cells):
    for rows in team_cells.values():
        assert rows[("call.evaluate.evaluate", "goal.accuracy")] == "up"
        assert rows[("call.evaluate.evaluate", "goal.val.loss")] == "down"
        assert ("dataloader.worker_bug.buggy_loader", "goal.accuracy") not in rows


@pytest.mark.parametrize("cell", ["py3.7-torch1.3.1-tv0.4.2", OLD_CELL, NEW_CELL])
def test_counting_own_generators_keeps_every_stream_in_the_cells(cell, tmp_path):
    """Python 3.7 picks random's _randbelow algorithm per call: the one Python where
    wrapping random.Random could change a stream (tests/test_tracing.py runs this on the
    host's Python)."""
    import subprocess
    from conftest import ROOT
    from test_tracing import STREAMS
    python = build_cell(cell)
    runs = [subprocess.run([str(python), "-c", STREAMS, state], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout for state in ("off", "on")]
    assert runs[0] == runs[1] and runs[0].startswith("[")
