"""The seeding modes as records (harness.cell.modes): a partial order by what they
apply, the generators each seeds, where their lines go, and what runs by default."""
from __future__ import annotations

import itertools

import pytest

from _rngdrift.harness.cell import modes, schema
from _rngdrift.harness.cell.modes import Place

NAMES = modes.NAMES


def test_every_row_name_is_a_record_and_the_default_run_is_the_five_classic_modes():
    assert schema.MODES == NAMES
    assert schema.DEFAULT_MODES == ("none", "python", "torch", "all", "full")
    assert all(not modes.get(n).default for n in NAMES if modes.get(n).recipe)


@pytest.mark.parametrize("name, seeds", [
    ("none", set()), ("numpy", {"numpy"}), ("python", {"python", "numpy"}), ("torch", {"torch"}),
    ("all", {"python", "numpy", "torch", "cuda"}), ("full", {"python", "numpy", "torch", "cuda"}),
    ("python-torch", {"python", "numpy"}), ("workers", {"python", "numpy", "torch", "cuda"}),
    ("ranks", {"python", "numpy", "torch", "cuda"}),
    ("generator", {"python", "numpy", "torch", "cuda"})])
def test_what_each_mode_seeds_at_start_up(name, seeds):
    assert modes.get(name).seeds == seeds


def test_modes_are_ordered_by_what_they_apply_not_by_position():
    get = modes.get
    assert get("all").covers(get("python")) and get("all").covers(get("torch"))
    assert get("full").covers(get("all")) and not get("all").covers(get("full"))
    assert get("python").covers(get("numpy")) and get("python").covers(get("none"))
    assert get("full").covers(get("workers"))  # full's recipe includes the worker_init_fn
    # incomparable pairs: neither covers the other
    for a, b in (("numpy", "torch"), ("python", "torch"), ("python-torch", "all"),
                 ("ranks", "full"), ("python-torch", "workers")):
        assert not get(a).covers(get(b)) and not get(b).covers(get(a)), (a, b)
    # a partial order: reflexive, antisymmetric, transitive
    records = modes.MODES
    for a in records:
        assert a.covers(a)
    for a, b in itertools.permutations(records, 2):
        assert not (a.covers(b) and b.covers(a))
    for a, b, c in itertools.permutations(records, 3):
        if a.covers(b) and b.covers(c):
            assert a.covers(c)


def test_weakest_first_puts_every_mode_after_the_ones_it_covers():
    order = modes.weakest_first(list(reversed(NAMES)))
    for i, name in enumerate(order):
        for later in order[i + 1:]:
            assert not modes.get(name).covers(modes.get(later)) or name == later


def test_a_recipe_adds_exactly_its_fix_to_the_mode_it_builds_on():
    added = modes.get("workers").added_to(modes.get("all"))
    assert [ln.place for ln in added] == [Place.WORKER_INIT]
    added = modes.get("python-torch").added_to(modes.get("python"))
    assert [(ln.place, ln.generator) for ln in added] == [(Place.RANDOM_SEED, "torch")]
    added = modes.get("generator").added_to(modes.get("all"))
    assert [(ln.place, ln.torch) for ln in added] == [(Place.LOADER, ">=1.6")]
    assert modes.get("full").covers(modes.get("generator"))
    added = modes.get("ranks").added_to(modes.get("full"))
    assert [(ln.place, ln.torch) for ln in added] == [(Place.PER_RANK, ">=1.6")]


def test_lines_that_need_a_torch_release_say_so():
    gated = {ln.code: ln.torch for m in modes.MODES for ln in m.lines if ln.torch}
    assert all("generator=" in code or "deterministic" in code for code in gated)


def test_the_numpy_mode_is_one_record():
    """Issue 21: adding a mode touches its record (and tests), nothing else."""
    numpy = modes.get("numpy")
    assert numpy.seeds == {"numpy"} and not numpy.recipe and not numpy.default
    assert [ln.code for ln in numpy.lines] == ["np.random.seed(seed)"]
