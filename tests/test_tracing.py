import random
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import tracing  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def installed():
    tracing.install()


def test_counts_calls_by_api_inside_the_block_only():
    random.random()
    with tracing.counting() as counter:
        random.random()
        random.random()
        np.random.randint(5)
        torch.rand(2)
        torch.empty(3).uniform_()
        torch.nn.functional.dropout(torch.ones(4), 0.5, training=True)
    random.random()
    assert counter.counts == {
        "random.random": 2, "numpy.random.randint": 1, "torch.rand": 1,
        "torch.Tensor.uniform_": 1, "torch.nn.functional.dropout": 1}


def test_torchvision_transform_draws_are_attributed():
    torchvision = pytest.importorskip("torchvision")
    from PIL import Image
    image = Image.new("RGB", (8, 8))
    with tracing.counting() as counter:
        torchvision.transforms.RandomHorizontalFlip()(image)
    # torchvision >= 0.7 draws from torch; 0.6 drew from random.random.
    assert counter.counts == {"torch.rand": 1}


def test_install_is_idempotent_and_keeps_behaviour():
    tracing.install()
    torch.manual_seed(0)
    a = torch.rand(3)
    original = torch.rand.__rngdrift_original__
    assert not hasattr(original, "__rngdrift_original__")
    torch.manual_seed(0)
    assert torch.equal(original(3), a)


def test_a_seed_call_is_counted_and_is_not_a_draw():
    from _rngdrift.harness.cell import rngstate
    draws = rngstate.Draws()
    with tracing.counting(draws) as counter:
        for seed in range(5):
            torch.manual_seed(seed)
            random.seed(seed)
            random.random()
    assert counter.counts == {"torch.manual_seed": 5, "random.seed": 5, "random.random": 5}
    assert draws.result() == {"python": 1, "numpy": 0, "torch": 0}


def test_a_first_import_during_a_scenario_is_set_apart(tmp_path, monkeypatch):
    from _rngdrift.harness.cell import rngstate
    (tmp_path / "drawing_on_import.py").write_text(
        "import random, numpy\nX = random.random()\nG = numpy.random.default_rng()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    draws = rngstate.Draws()
    with tracing.counting(draws) as counter:
        import drawing_on_import  # noqa: F401
        torch.rand(1)
    assert counter.counts == {"torch.rand": 1}
    assert counter.import_counts == {"random.random": 1, "numpy.random.default_rng": 1}
    assert draws.result() == {"python": 0, "numpy": 0, "torch": 1}


# -- which generator: the global one or the program's own -------------------------------

# A program drawing from every kind of generator: run with rngdrift counting ("on") and
# without, its output must not change.
STREAMS = textwrap.dedent("""
    import random, sys
    import numpy as np
    if sys.argv[1] == "on":  # what tracing.install does for own generators (no torch)
        from _rngdrift.harness.cell import owndraws
        owndraws.install(lambda name: None, [True], ("random", "randint", "choice", "sample",
                         "gauss", "getrandbits"), ("randint", "choice", "default_rng"))
    class OnlyRandom(random.Random):  # overrides random() alone (Python 3.7 minds)
        def random(self):
            return super().random()
    random.seed(1)
    out = [random.randint(0, 10 ** 6), random.choice(range(999)), random.sample(range(99), 3)]
    mine = random.Random(2)
    out += [mine.randint(0, 10 ** 6), mine.gauss(0, 1), OnlyRandom(3).randint(0, 10 ** 9)]
    state = np.random.RandomState(4)
    out += state.randint(0, 100, 5).tolist() + state.choice(50, 5, replace=False).tolist()
    generator = np.random.default_rng(5)
    out += generator.integers(0, 100, 5).tolist() + generator.choice(50, 3).tolist()
    print(out)
""")

def test_a_generator_argument_makes_a_torch_draw_own():
    own = torch.Generator()
    own.manual_seed(3)
    with tracing.counting() as counter:
        torch.randperm(5)
        torch.randperm(5, generator=own)
        torch.rand(2, generator=torch.default_generator)  # random_split's default: global
        torch.empty(3).uniform_(generator=own)
        torch.poisson(torch.ones(2), own)  # by position
        torch.nn.functional.dropout(torch.ones(4), 0.5, training=True)
    assert counter.counts["torch.randperm"] == 2
    assert counter.uses == {"torch.randperm": "global+own", "torch.rand": "global",
                            "torch.Tensor.uniform_": "own", "torch.poisson": "own",
                            "torch.nn.functional.dropout": "global"}


def test_own_python_and_numpy_generators_count_under_the_module_names():
    mine = random.Random(1)
    with tracing.counting() as counter:
        random.uniform(0, 1)           # the module: global (its inner self.random() is not a call)
        mine.uniform(0, 1)             # an instance: own, once
        mine.shuffle(list(range(5)))
        np.random.randint(5)
        state = np.random.RandomState(0)
        state.randint(5)
        state.choice(5, 3, replace=False)  # calls self.permutation inside: one call
        seeded = np.random.default_rng(0)
        seeded.integers(5)
        random.SystemRandom().random()  # OS entropy: nothing to reproduce, not counted
    assert counter.counts == {
        "random.uniform": 2, "random.shuffle": 1, "numpy.random.randint": 2,
        "numpy.random.choice": 1, "numpy.random.default_rng": 1, "numpy.random.integers": 1}
    assert counter.uses == {
        "random.uniform": "global+own", "random.shuffle": "own",
        "numpy.random.randint": "global+own", "numpy.random.choice": "own",
        "numpy.random.default_rng": "own", "numpy.random.integers": "own"}


def test_the_standard_librarys_temporary_names_are_not_the_programs_draws():
    import tempfile
    with tracing.counting() as counter:
        with tempfile.NamedTemporaryFile():
            pass
    assert counter.counts == {}


def test_counting_own_generators_keeps_their_streams_and_types():
    """The same numbers with and without rngdrift, in a fresh interpreter each (the
    wrapping must change no stream), and NumPy's own classes still pass isinstance."""
    import pickle
    import subprocess
    import sys
    from conftest import ROOT
    runs = [subprocess.run([sys.executable, "-c", STREAMS, state], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout for state in ("off", "on")]
    assert runs[0] == runs[1] and runs[0].startswith("[")
    assert isinstance(np.random.mtrand._rand, np.random.RandomState)
    assert isinstance(np.random.default_rng(0), np.random.Generator)
    assert type(pickle.loads(pickle.dumps(np.random.RandomState(0)))).__name__ == "RandomState"
