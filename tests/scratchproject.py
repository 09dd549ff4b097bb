"""A team's repository as a new user of rngdrift has one: a small pytest suite, a
requirements.txt, and a torch bump in its last commit.

    make(where)   ->  a git repository with two commits:
        HEAD~1  requirements.txt: torch==1.5.0, torchvision==0.6.0
        HEAD    requirements.txt: torch==1.6.0, torchvision==0.7.0

Its code: ``segdata.py``, a segmentation dataset that reseeds ``random`` before the
image and again before the mask (the idiom torchvision 0.7 broke); ``scenarios/``, the
team's own package of that name, which the tests import; ``tests/test_data.py`` (the
mask follows its image) and ``tests/test_train.py`` (one training step's loss, pinned
to what torch 1.5 gives). Used by the end-to-end tests and the benchmark's check stage.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

OLD_PINS = "torch==1.5.0\ntorchvision==0.6.0\n"
NEW_PINS = "torch==1.6.0\ntorchvision==0.7.0\n"
# mse_loss after one SGD step of tests/test_train.py, as torch 1.5.0 computes it (and 1.6.0:
# the default init and torch.randn did not change between them).
PINNED_LOSS = 2.088438034057617

FILES = {
    "scenarios/__init__.py": '"""The team\'s own scenarios package (not rngdrift\'s)."""\n'
                             'OWNER = "team"\n',
    "scenarios/shapes.py": '''"""Test images: an off-centre bright square, so every flip shows."""
import numpy as np
from PIL import Image


def make_image(index, size=32):
    pixels = np.zeros((size, size), dtype=np.uint8)
    top, left = 2 + index % 7, 3 + (index * 5) % 11
    pixels[top:top + 9, left:left + 13] = 200
    return Image.fromarray(pixels)
''',
    "segdata.py": '''"""Image/mask pairs augmented alike: reseed Python's random before each of them."""
import random

import numpy as np
from PIL import Image
from torchvision import transforms

from scenarios.shapes import make_image


class SegmentationPairs:
    def __init__(self, count=24):
        self.count = count
        self.augment = transforms.Compose([transforms.RandomHorizontalFlip(),
                                           transforms.RandomVerticalFlip()])

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        image = make_image(index)
        mask = Image.fromarray(((np.asarray(image) > 127) * 255).astype(np.uint8))
        seed = random.randint(0, 2 ** 31)
        random.seed(seed)
        image = self.augment(image)
        random.seed(seed)
        mask = self.augment(mask)
        return np.asarray(image), np.asarray(mask)
''',
    "conftest.py": "# the repository root on sys.path for the tests (pytest's rootdir conftest)\n",
    "tests/test_data.py": '''from scenarios import OWNER
from segdata import SegmentationPairs


def test_scenarios_is_our_own_package():
    assert OWNER == "team"


def test_masks_follow_their_images():
    pairs = SegmentationPairs()
    for index in range(len(pairs)):
        image, mask = pairs[index]
        assert ((image > 127) == (mask > 127)).all(), "mask %d does not match" % index
''',
    "tests/test_train.py": f'''import pytest
import torch


def test_one_training_step_loss():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    inputs, targets = torch.randn(16, 4), torch.randn(16, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.nn.functional.mse_loss(model(inputs), targets).backward()
    optimizer.step()
    loss = torch.nn.functional.mse_loss(model(inputs), targets).item()
    assert loss == pytest.approx({PINNED_LOSS!r}, rel=1e-6)
''',
}


def _git(where: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Team", "GIT_AUTHOR_EMAIL": "team@example.org",
           "GIT_COMMITTER_NAME": "Team", "GIT_COMMITTER_EMAIL": "team@example.org",
           "HOME": str(where), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    return subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def make(where: Path) -> Path:
    """The repository at ``where`` (made), HEAD on the torch 1.6 commit."""
    where.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_text(text)
    _git(where, "init", "-q", "-b", "main")
    (where / "requirements.txt").write_text(OLD_PINS)
    _git(where, "add", "-A")
    _git(where, "commit", "-q", "-m", "segmentation pairs and their tests")
    (where / "requirements.txt").write_text(NEW_PINS)
    _git(where, "commit", "-q", "-am", "Bump torch from 1.5.0 to 1.6.0, torchvision to 0.7.0")
    return where
