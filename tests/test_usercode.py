"""The pieces behind --call, --script, --pytest, --dataset and --pairs, in this process:
resolving FILE:FUNCTION, parsing command lines, the fork a program runs in, the data
checks, the pair geometry and code identity. The same entry points in real cells:
tests/test_usercode_cells.py."""
from __future__ import annotations

import os
import random
import signal
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _rngdrift.harness.cell import (  # noqa: E402
    adopt, attribution, codeid, datachecks, forked, geometry, registry, scripts, seeding,
    testrun, tracing, usercode)
from _rngdrift.harness.cell.loader import UserCodeError  # noqa: E402


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# -- FILE:FUNCTION and module:FUNCTION ----------------------------------------------

@pytest.mark.usefixtures("fresh_registry")
def test_calls_by_file_and_by_module_become_scenarios(tmp_path):
    write(tmp_path / "project" / "__init__.py", "")
    write(tmp_path / "project" / "steps.py", "def step():\n    return {'loss': 0.5}\n")
    write(tmp_path / "checks.py", "import numpy as np\nimport rngdrift\n\ndef draw():\n"
          "    rngdrift.record('seen', 1.5)\n    return np.random.rand(2)\n")
    spec = {"workdir": str(tmp_path), "call": ["checks.py:draw", "project.steps:step"]}
    usercode.register(spec)
    draw, step = registry.SCENARIOS["call.checks.draw"], registry.SCENARIOS["call.project.steps.step"]
    assert draw.user and draw.code_files == [str(tmp_path / "checks.py")]
    assert draw.source == f"{tmp_path / 'checks.py'}:4"
    assert step.func(seeding.Context("all")) == {"loss": 0.5}
    assert set(draw.func(seeding.Context("all"))) == {"seen", "value", "value.shape",
                                                      "value.dtype"}
    import rngdrift
    assert not rngdrift.active()  # only while the call runs


@pytest.mark.usefixtures("fresh_registry")
@pytest.mark.parametrize("text,problem", [
    ("checks.py", "expected FILE.py:FUNCTION or module:FUNCTION"),
    ("missing.py:f", "missing.py: no such file"),
    ("checks.py:nope", "checks has no 'nope'"),
    ("checks.py:VALUE", "VALUE is a int, not a function"),
    ("no_such_module_here:f", "ModuleNotFoundError: No module named 'no_such_module_here' "
                              "(a package the cells lack?"),
    ("broken.py:f", "broken.py:2: ZeroDivisionError: division by zero"),
])
def test_a_bad_call_is_one_line_naming_it(tmp_path, text, problem):
    write(tmp_path / "checks.py", "VALUE = 3\n")
    write(tmp_path / "broken.py", "x = 1\ny = 1 / 0\n")
    with pytest.raises(UserCodeError) as info:
        usercode.register({"workdir": str(tmp_path), "call": [text]})
    assert str(info.value).startswith(f"--call {text!r}: ")
    assert problem in str(info.value) and "\n" not in str(info.value)


@pytest.mark.usefixtures("fresh_registry")
def test_the_same_call_twice_is_a_duplicate(tmp_path):
    write(tmp_path / "checks.py", "def f():\n    return 1\n")
    with pytest.raises(UserCodeError, match="registered twice"):
        usercode.register({"workdir": str(tmp_path), "call": ["checks.py:f", "checks.py:f"]})


def test_a_call_runs_where_nox_was_started_with_its_file_as_argv0(tmp_path):
    here = os.getcwd()
    with adopt.running_in(str(tmp_path), "/x/checks.py"):
        assert os.getcwd() == str(tmp_path) and sys.argv == ["/x/checks.py"]
    assert os.getcwd() == here and sys.argv[0] != "/x/checks.py"


# -- command lines -----------------------------------------------------------------

def test_script_command_lines(tmp_path):
    write(tmp_path / "train.py", "")
    assert scripts.parse("python train.py --epochs 1", str(tmp_path)) == \
        ("file", str(tmp_path / "train.py"), ["--epochs", "1"])
    assert scripts.parse("python3.8 -u train.py 'a b'", str(tmp_path))[2] == ["a b"]
    assert scripts.parse("train.py", str(tmp_path))[0] == "file"
    assert scripts.parse("python -m pkg.train --lr 0.1", str(tmp_path)) == \
        ("module", "pkg.train", ["--lr", "0.1"])
    for text, problem in (("python -O train.py", "interpreter option -O"),
                          ("python nothere.py", "no such file"), ("python", "no script"),
                          ("python 'train.py", "No closing quotation")):
        with pytest.raises(UserCodeError, match=problem):
            scripts.parse(text, str(tmp_path))


def test_metric_patterns_read_the_last_match():
    patterns = [scripts.parse_metric("accuracy=Accuracy: ([0-9.]+)%"),
                scripts.parse_metric("phase=^phase \\w+$"), scripts.parse_metric("gone=nothing")]
    output = "Accuracy: 50.0%\nphase warmup\nAccuracy: 91.5%\nphase done\n"
    assert scripts.read_metrics(output, patterns) == {"accuracy": 91.5, "phase": "phase done"}
    for text in ("accuracy", "=x", "a=(", "status=x"):
        if text == "status=x":
            assert scripts.parse_metric(text)[0] == "value.status"
            continue
        with pytest.raises(UserCodeError):
            scripts.parse_metric(text)


def test_pytest_node_ids_become_scenario_names():
    assert testrun.scenario_name("tests/test_model.py::TestA::test_b[1-x]") == \
        "pytest.tests.test_model.TestA.test_b[1-x]"
    assert testrun.scenario_name("test_a.py::test_p[a, b]") == "pytest.test_a.test_p[a_ b]"
    long = testrun.scenario_name("t.py::test_" + "x" * 300)
    assert len(long) == 200 and "~" in long
    assert testrun.scenario_name("t.py::test_" + "x" * 300) == long  # stable


# -- the fork a script or test runs in -------------------------------------------------

def test_a_fork_returns_what_the_program_gave():
    def body():
        print("hello")
        import rngdrift
        rngdrift.record("loss", 0.25)
        return {"ok": 1}
    outcome = forked.run(body, echo=False)
    assert outcome.result == {"ok": 1} and outcome.code == 0 and outcome.error is None
    assert outcome.output == "hello\n" and dict(outcome.recorded) == {"loss": 0.25}


@pytest.mark.parametrize("exit_with,code,said", [
    (0, 0, ""), (3, 3, ""), ("usage: train.py DATA", 1, "usage: train.py DATA\n")])
def test_a_fork_exits_as_a_program_does(exit_with, code, said):
    def body():
        sys.exit(exit_with)
    outcome = forked.run(body, echo=False)
    assert (outcome.code, outcome.output) == (code, said)
    assert (forked.failure(outcome) is None) == (code == 0)


def test_a_fork_that_raises_or_dies():
    def raises():
        print("step 1")
        raise ValueError("lr must be > 0")
    outcome = forked.run(raises, echo=False)
    assert outcome.code == 1 and outcome.error.startswith("ValueError: lr must be > 0 (at ")
    assert forked.failure(outcome).startswith("script raised ValueError: lr must be > 0")
    assert forked.failure(outcome).endswith("; output: step 1")

    def dies():
        os.kill(os.getpid(), signal.SIGKILL)
    outcome = forked.run(dies, echo=False)
    assert outcome.code == -signal.SIGKILL and outcome.result is None
    assert forked.failure(outcome, "pytest") == "pytest killed by SIGKILL; output: (none)"


def test_a_fork_starts_from_the_seeded_state_and_counts_as_the_scenario():
    """Python reseeds `random` in a forked child; the program must see the mode's seeding
    all the same, and its draws are the scenario's own rows."""
    tracing.install()
    attribution.install()
    random.seed(5), torch.manual_seed(5)
    expected = (random.random(), float(torch.rand(1)))
    random.seed(5), torch.manual_seed(5)
    with attribution.Attribution() as counted:
        outcome = forked.run(lambda: (random.random(), float(torch.rand(1))), echo=False)
    assert tuple(outcome.result) == expected
    assert (random.random(), float(torch.rand(1))) == expected  # the parent drew nothing
    rows = {name: value for name, _, value in counted.rows()}
    assert rows["rng.python"] == "1" and rows["rng.torch"] == "1"
    assert rows["rng.calls.random.random"] == "1" and rows["rng.calls.torch.rand"] == "1"
    assert rows["rng.numpy"] == "0"


# -- the data checks --------------------------------------------------------------------

SHARED_STATE = np.random.RandomState(0)  # every worker starts with a copy of it


class _Draws(torch.utils.data.Dataset):
    """Item i: i and a draw from ``source`` (None: a fixed value)."""

    def __init__(self, source):
        self.source = source

    def __len__(self):
        return 20

    def __getitem__(self, index):
        draw = self.source() if self.source else 0.5
        return torch.tensor([float(index), draw])


def _shared():
    return float(SHARED_STATE.rand())


def _numpy_global():
    return float(np.random.rand())


@pytest.mark.parametrize("source,duplicates,repeats", [
    (_shared, 1.0, 1.0),        # one generator state copied into every worker, every epoch
    (_numpy_global, 0.0, 0.0),  # NumPy's global generator: torch >= 1.9 seeds it per worker
])
def test_duplicate_draws_across_workers_and_epochs(source, duplicates, repeats):
    out = datachecks.check(seeding.Context("all"), _Draws(source))
    assert out["random_items"] == 1
    assert (out["duplicate_fraction"], out["epoch_repeat"]) == (duplicates, repeats)
    assert out["items"] != out["worker_items"] or source is _shared


def test_a_dataset_that_does_not_draw_reports_no_duplicates():
    out = datachecks.check(seeding.Context("none"), _Draws(None))
    assert out["random_items"] == 0 and "duplicate_fraction" not in out
    assert out["items"] == out["worker_items"]


def test_data_checks_that_do_not_apply():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([1])
    with pytest.raises(registry.NotApplicable, match="IterableDataset"):
        datachecks.check(seeding.Context("none"), Stream())
    with pytest.raises(registry.NotApplicable, match="empty"):
        datachecks.check(seeding.Context("none"), [])
    with pytest.raises(registry.NotApplicable, match=r"\(image, mask\) pairs"):
        datachecks.check(seeding.Context("none"), _Draws(None), pairs=True)


class _Pairs(torch.utils.data.Dataset):
    """The canonical image/mask pair, flipped together (``joint``) or each on its own."""

    def __init__(self, joint):
        from _rngdrift.scenarios._data import image_and_mask
        self.image, self.mask = image_and_mask()
        self.joint = joint

    def __len__(self):
        return 4

    def __getitem__(self, index):
        import torchvision.transforms.functional as TF
        angle = float(torch.randint(-30, 31, (1,)))
        image = TF.rotate(self.image, angle)
        mask = TF.rotate(self.mask, angle if self.joint else float(torch.randint(-30, 31, (1,))))
        return TF.to_tensor(image), torch.from_numpy(np.array(mask))


@pytest.mark.parametrize("joint", [True, False])
def test_pair_consistency_and_geometry_agreement(joint):
    out = datachecks.check(seeding.Context("all"), _Pairs(joint), pairs=True)
    if joint:
        assert out["pair_consistency"] == 1.0 and out["geometry_agreement"] > 0.8
    else:
        assert out["pair_consistency"] < 0.3 and out["geometry_agreement"] < 0.4


def test_same_geometry_reads_pil_tensors_and_arrays_alike():
    from _rngdrift.scenarios._data import image_and_mask
    image, mask = image_and_mask()
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1) / 255.0
    labels = torch.from_numpy(np.array(mask) > 127)
    flipped = np.asarray(mask)[:, ::-1].copy()
    assert geometry.same_geometry(image, mask)
    assert geometry.same_geometry(tensor, labels)
    assert geometry.same_geometry(np.asarray(image), np.asarray(mask))
    assert not geometry.same_geometry(tensor, torch.from_numpy(flipped))
    assert geometry.geometry_agreement([(image, mask)] * 3) == 1.0  # nothing random


# -- code identity ------------------------------------------------------------------

def test_code_closure_follows_the_users_imports_only(tmp_path):
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "model.py", "from . import layers\nimport numpy\n")
    write(tmp_path / "pkg" / "layers.py", "import os\n")
    write(tmp_path / "train.py", """
        import json
        import torch
        from pkg.model import *
        from _rngdrift.harness.cell import schema

        def later():
            import helpers
    """)
    write(tmp_path / "helpers.py", "")
    write(tmp_path / "unrelated.py", "")
    files = codeid.closure([str(tmp_path / "train.py")], extra=[str(tmp_path)])
    assert [Path(f).relative_to(tmp_path).as_posix() for f in files] == [
        "helpers.py", "pkg/__init__.py", "pkg/layers.py", "pkg/model.py", "train.py"]


def test_code_digest_is_over_names_and_contents_not_places(tmp_path):
    for folder in ("a", "b"):
        write(tmp_path / folder / "train.py", "import helper\n")
        write(tmp_path / folder / "helper.py", "X = 1\n")
    digests = [codeid.digest(codeid.closure([str(tmp_path / f / "train.py")],
                                            extra=[str(tmp_path / f)])) for f in ("a", "b")]
    assert digests[0] == digests[1] and len(digests[0]) == 16
    write(tmp_path / "b" / "helper.py", "X = 2\n")
    assert codeid.digest(codeid.closure([str(tmp_path / "b" / "train.py")],
                                        extra=[str(tmp_path / "b")])) != digests[0]


# -- the zygote's control socket carries long fork requests -------------------------------

def test_a_long_control_message_arrives_whole():
    import socket
    import threading
    from _rngdrift.harness.cell import protocol
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    message = {"argv": ["--scenario=pytest.tests.test_%d" % i for i in range(20000)]}
    sender = threading.Thread(target=protocol.send_message, args=(ours, message))
    sender.start()
    got, _ = protocol.recv_message(theirs, timeout=10)
    sender.join()
    assert got == message
