"""--loader: a team's own DataLoader checked as it is (harness/cell/loaderchecks.py), the
--goal option, and pair geometry on normalised images. In this process; the same in
real cells: tests/test_loader_cells.py."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torchvision.transforms as T  # noqa: E402  (imported here: forked workers inherit it)
import torchvision.transforms.functional as TF  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

from _rngdrift.harness.cell import (  # noqa: E402
    datachecks, geometry, loaderchecks, registry, seeding, usercode)
from _rngdrift.harness.cell.loader import UserCodeError  # noqa: E402


class Jitter(Dataset):
    """Item i: i and a NumPy draw (the global generator, as most tutorials draw)."""

    def __len__(self):
        return 24

    def __getitem__(self, index):
        return torch.tensor([float(index), float(np.random.rand())])


def one_seed_for_all(worker_id):
    np.random.seed(1234)  # the bug: meant 1234 + worker_id


def seed_per_worker(worker_id):
    np.random.seed((torch.initial_seed() + worker_id) % 2 ** 32)


@pytest.mark.parametrize("init,duplicates,repeats", [
    (one_seed_for_all, 1.0, 1.0),  # every worker, every epoch: the same NumPy stream
    (seed_per_worker, 0.0, 0.0),
])
def test_a_worker_init_fn_that_gives_every_worker_one_seed_is_seen(init, duplicates, repeats):
    loader = DataLoader(Jitter(), batch_size=4, shuffle=True, num_workers=2,
                        worker_init_fn=init)
    out = loader_check(loader)
    assert out["random_items"] == 1
    assert (out["duplicate_fraction"], out["epoch_repeat"]) == (duplicates, repeats)
    assert out.goals == {"duplicate_fraction": "down", "epoch_repeat": "down"}
    assert "pair_consistency" not in out  # (index, draw) rows are no image/mask pairs


def loader_check(loader, **kwargs):
    torch.manual_seed(0)
    return loaderchecks.check(loader, **kwargs)


def test_without_workers_only_epochs_are_compared_and_the_items_are_the_loaders():
    loader = DataLoader(Jitter(), batch_size=4, shuffle=False)
    out = loader_check(loader)
    assert "duplicate_fraction" not in out and out["epoch_repeat"] == 0.0
    np.random.seed(0)
    first = list(loader)[:loaderchecks.BATCHES]
    np.random.seed(0)
    assert loaderchecks.check(loader)["items"] == datachecks.fingerprint(first)


def test_a_loader_whose_items_never_vary_has_nothing_to_repeat():
    fixed = DataLoader(torch.arange(12.0).view(6, 2), batch_size=2, num_workers=2)
    out = loader_check(fixed)
    assert out["random_items"] == 0 and "epoch_repeat" not in out and not out.goals


class Segmentation(Dataset):
    """The canonical image/mask pair, rotated together (``joint``) or each on its own,
    then ``Normalize``d as torchvision's tutorials do."""

    def __init__(self, joint=True, normalize=True):
        from _rngdrift.scenarios._data import image_and_mask
        self.image, self.mask = image_and_mask()
        self.joint, self.normalize = joint, normalize

    def __len__(self):
        return 8

    def __getitem__(self, index):
        angle = float(torch.randint(-30, 31, (1,)))
        image = TF.to_tensor(TF.rotate(self.image, angle))
        mask = TF.rotate(self.mask, angle if self.joint else float(torch.randint(-30, 31, (1,))))
        if self.normalize:
            image = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(image)
        return image, torch.from_numpy(np.array(mask)).long()


@pytest.mark.parametrize("joint", [True, False])
def test_pairs_are_found_in_batches_and_checked_on_normalised_images(joint):
    loader = DataLoader(Segmentation(joint), batch_size=2, shuffle=True, num_workers=2)
    out = loader_check(loader)
    assert out.goals["pair_consistency"] == "up" == out.goals["geometry_agreement"]
    if joint:
        assert out["pair_consistency"] == 1.0 and out["geometry_agreement"] > 0.8
    else:
        assert out["pair_consistency"] < 0.3 and out["geometry_agreement"] < 0.4


def test_normalised_pairs_match_as_their_0_to_1_originals_do():
    """Normalize(mean, std) puts luminance outside [0, 1]: it used to be read as 0-255 and
    every pair failed."""
    plain = [Segmentation(normalize=False)[0] for _ in range(6)]
    normalised = [Segmentation(normalize=True)[0] for _ in range(6)]
    assert geometry.value_scale([image for image, _ in normalised]) == geometry.NORMALISED
    assert geometry.value_scale([image for image, _ in plain]) == geometry.UNIT
    for image, mask in plain + normalised:
        assert geometry.same_geometry(image, mask)
        assert not geometry.same_geometry(image, mask.flip(-1))
    # a crop showing a single level (one cell of the pattern): the scale's absolute midpoint
    from _rngdrift.scenarios._data import image_and_mask
    image, mask = image_and_mask()
    image = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(TF.to_tensor(image))
    mask = torch.from_numpy(np.array(mask) > 127)
    for top in range(0, 64, 8):
        cell = (slice(top, top + 8), slice(0, 8))
        one = geometry.same_geometry(image[(slice(None),) + cell], mask[cell],
                                     scale=geometry.NORMALISED)
        other = geometry.same_geometry(image[(slice(None),) + cell], ~mask[cell],
                                       scale=geometry.NORMALISED)
        assert (one, other) == (True, False)


def test_a_classification_loader_has_no_pairs_unless_asked():
    labelled = DataLoader([(torch.rand(3, 8, 8), 1)] * 6, batch_size=2)
    assert "pair_consistency" not in loader_check(labelled)
    with pytest.raises(registry.NotApplicable, match=r"\(image, mask\) pairs"):
        loader_check(DataLoader(Jitter(), batch_size=2), pairs=True)


def test_an_iterable_dataset_is_not_applicable():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([torch.zeros(1)])
    with pytest.raises(registry.NotApplicable, match="IterableDataset"):
        loader_check(DataLoader(Stream()))


def test_collated_batches_come_apart_into_items():
    batch = [torch.arange(6).view(3, 2), {"mask": torch.zeros(3, 4, 4)}, ["a.png", "b.png", "c.png"]]
    items = loaderchecks._split(batch, 3)
    assert len(items) == 3 and items[2][2] == "c.png"
    assert torch.equal(items[1][0], torch.tensor([2, 3])) and items[1][1]["mask"].shape == (4, 4)


# -- --loader, a DataLoader given to --dataset/--pairs, --goal ---------------------------

FACTORIES = textwrap.dedent("""
    import numpy as np
    import rngdrift
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Jitter(Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, index):
            return torch.tensor([float(index), float(np.random.rand())])

    def buggy_loader():
        def init(worker_id):
            np.random.seed(7)
        return DataLoader(Jitter(), batch_size=2, num_workers=2, worker_init_fn=init)

    def dataset():
        return Jitter()

    def evaluate():
        rngdrift.record("val", {"loss": 0.5, "acc": 0.9})
        return {"accuracy": 0.75, "name": "model"}
""")


def _register(tmp_path, **options):
    (tmp_path / "team.py").write_text(FACTORIES)
    spec = dict({"workdir": str(tmp_path)}, **options)
    usercode.register(spec)
    return registry.SCENARIOS


@pytest.mark.usefixtures("fresh_registry")
def test_the_teams_loader_runs_as_written_under_loader_and_dataset(tmp_path):
    scenarios = _register(tmp_path, loader=["team.py:buggy_loader"],
                          dataset=["team.py:buggy_loader"])
    for name in ("dataloader.team.buggy_loader", "dataset.team.buggy_loader"):
        out = scenarios[name].func(seeding.Context("full"))
        assert out["duplicate_fraction"] == 1.0, name  # the recipe's worker_init_fn unused


@pytest.mark.usefixtures("fresh_registry")
def test_loader_given_a_dataset_says_what_to_use(tmp_path):
    scenarios = _register(tmp_path, loader=["team.py:dataset"])
    with pytest.raises(registry.ScenarioFailed, match=r"--loader wants a DataLoader; dataset\(\) "
                       r"returned a Jitter \(a Dataset\? use --dataset or --pairs\)"):
        scenarios["dataloader.team.dataset"].func(seeding.Context("all"))


@pytest.mark.usefixtures("fresh_registry")
def test_goals_from_the_command_line_reach_the_numbers_they_name(tmp_path):
    scenarios = _register(tmp_path, call=["team.py:evaluate"],
                          goal=["accuracy=up", "val=down", "name=up", "missing=up"])
    out = scenarios["call.team.evaluate"].func(seeding.Context("all"))
    assert out.goals == {"accuracy": "up", "val.loss": "down", "val.acc": "down"}


@pytest.mark.usefixtures("fresh_registry")
@pytest.mark.parametrize("goal,problem", [
    ("accuracy", "expected NAME=up or NAME=down"),
    ("accuracy=higher", "expected NAME=up or NAME=down"),
    ("seconds=down", "rngdrift's own"),
])
def test_a_bad_goal_is_one_line(tmp_path, goal, problem):
    with pytest.raises(UserCodeError, match=problem):
        _register(tmp_path, call=["team.py:evaluate"], goal=[goal])


@pytest.mark.usefixtures("fresh_registry")
def test_a_goal_without_a_call_script_or_test_is_refused(tmp_path):
    with pytest.raises(UserCodeError, match="--goal gives goals to the metrics of --call"):
        _register(tmp_path, dataset=["team.py:dataset"], goal=["accuracy=up"])
