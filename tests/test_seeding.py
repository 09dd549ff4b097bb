import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from harness.cell import seeding  # noqa: E402


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


@pytest.mark.parametrize("mode, python_fixed, torch_fixed", [
    ("none", False, False), ("python", True, False), ("torch", False, True),
    ("all", True, True), ("full", True, True),
])
def test_each_mode_seeds_exactly_its_generators(mode, python_fixed, torch_fixed):
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    seeding.reseed(mode)
    first = _draws()
    random.seed(2), np.random.seed(2), torch.manual_seed(2)
    seeding.reseed(mode)
    second = _draws()
    assert (first[0] == second[0]) is python_fixed
    assert (first[1] == second[1]) is python_fixed  # numpy goes with python
    assert (first[2] == second[2]) is torch_fixed


def test_child_env_sets_hash_seed_only_for_full():
    base = {"PYTHONHASHSEED": "123", "CUBLAS_WORKSPACE_CONFIG": ":16:8", "KEEP": "1"}
    for mode in ("none", "python", "torch", "all"):
        env = seeding.child_env(mode, base)
        assert "PYTHONHASHSEED" not in env and "CUBLAS_WORKSPACE_CONFIG" not in env
        assert env["KEEP"] == "1"
    full = seeding.child_env("full", base)
    assert full["PYTHONHASHSEED"] == str(seeding.SEED)
    assert full["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_context_reseed_follows_the_mode():
    ctx = seeding.Context("python")
    ctx.reseed(5)
    a = random.random()
    ctx.reseed(5)
    assert random.random() == a
    assert ctx.seeds_python and not ctx.seeds_torch


def test_loader_kwargs_only_under_full():
    assert seeding.Context("all").loader_kwargs() == {}
    kwargs = seeding.Context("full").loader_kwargs()
    assert callable(kwargs["worker_init_fn"])
    assert kwargs["generator"].initial_seed() == seeding.SEED
