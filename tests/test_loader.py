"""harness.cell.loader: loading users' scenario files and packages, and the one-line
errors for bad user code."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import OLD_CELL, ROOT
from _rngdrift.harness.matrix import interpreters
from _rngdrift.harness.cell import codeid, loader, registry
from _rngdrift.harness.cell.registry import scenario

pytestmark = pytest.mark.usefixtures("fresh_registry")
HEADER = "from rngdrift import scenario\n"


def write(path: Path, text: str, header: bool = False) -> Path:
    """Write a (dedented) module; ``header`` prepends the scenario import."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((HEADER if header else "") + textwrap.dedent(text))
    return path


def user_error(paths) -> str:
    with pytest.raises(loader.UserCodeError) as info:
        loader.load_paths([str(p) for p in paths])
    message = str(info.value)
    assert "\n" not in message
    return message


# -- loading user files and packages ------------------------------------------

def test_load_file_registers_and_hashes(tmp_path):
    path = write(tmp_path / "rng_checks.py", """
        import _helper_next_to_it as helper

        @scenario("my.check", torch=">=1.6")
        def check(ctx):
            return {"value": helper.VALUE}
    """, header=True)
    write(tmp_path / "_helper_next_to_it.py", "VALUE = 3\n")
    loader.load_paths([str(path)])
    sc = registry.SCENARIOS["my.check"]
    assert sc.func(None) == {"value": 3}
    assert sc.requires == {"torch": ">=1.6"}
    assert sc.module == "rng_checks"  # its own name: functions pickle for spawned workers
    assert sc.source == f"{path}:{sc.func.__code__.co_firstlineno}"
    assert sc.code_files == [str(path)]
    helper = tmp_path / "_helper_next_to_it.py"
    assert codeid.closure(sc.code_files) == sorted([str(path), str(helper)])
    assert codeid.of_scenario(sc) == hashlib.sha256("\n".join(sorted(
        f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}" for p in (path, helper))
    ).encode()).hexdigest()[:16]
    assert sys.path[0] == str(tmp_path)  # first, as for a script: the team's names win


def test_same_file_twice_loads_once(tmp_path):
    path = write(tmp_path / "checks.py", "scenario('my.once')(lambda ctx: {})\n", header=True)
    loader.load_paths([str(path), str(tmp_path / "." / "checks.py")])
    assert list(registry.SCENARIOS) == ["my.once"]


def test_two_files_with_one_stem_do_not_clash(tmp_path):
    a = write(tmp_path / "a" / "checks.py", "scenario('my.a')(lambda ctx: {})\n", header=True)
    b = write(tmp_path / "b" / "checks.py", "scenario('my.b')(lambda ctx: {})\n", header=True)
    loader.load_paths([str(a), str(b)])
    assert registry.SCENARIOS["my.a"].module != registry.SCENARIOS["my.b"].module


def test_load_package_with_relative_imports(tmp_path):
    package = tmp_path / "teamchecks"
    write(package / "__init__.py", "")
    write(package / "_common.py", "SIZE = 8\n")
    write(package / "augment.py", """
        from ._common import SIZE

        @scenario("team.augment")
        def augment(ctx):
            return {"size": SIZE}
    """, header=True)
    write(package / "sub" / "__init__.py", "")
    write(package / "sub" / "train.py", """
        from teamchecks._common import SIZE  # absolute imports work too

        @scenario("team.train")
        def train(ctx):
            return {"size": SIZE}
    """, header=True)
    write(package / "_private.py", "scenario('team.private')(lambda ctx: {})\n", header=True)
    loader.load_paths([str(package)])
    assert sorted(registry.SCENARIOS) == ["team.augment", "team.train"]
    assert registry.SCENARIOS["team.train"].func(None) == {"size": 8}
    assert all(codeid.of_scenario(sc) for sc in registry.SCENARIOS.values())
    # the closure follows relative and absolute imports to the package's own files
    train = registry.SCENARIOS["team.train"]
    codeid.of_scenario(train)
    assert {Path(p).name for p in train.code_closure} == {"__init__.py", "train.py",
                                                          "_common.py"}


def test_load_plain_directory_loads_its_files(tmp_path):
    write(tmp_path / "checks" / "one.py", "scenario('dir.one')(lambda ctx: {})\n", header=True)
    write(tmp_path / "checks" / "two.py", "scenario('dir.two')(lambda ctx: {})\n", header=True)
    write(tmp_path / "checks" / "_skip.py", "raise RuntimeError('helpers are not loaded')\n")
    loader.load_paths([str(tmp_path / "checks")])
    assert sorted(registry.SCENARIOS) == ["dir.one", "dir.two"]


def test_package_named_like_an_existing_one_is_refused(tmp_path):
    write(tmp_path / "json" / "__init__.py", "scenario('x.y')(lambda ctx: {})\n", header=True)
    message = user_error([tmp_path / "json"])
    assert "package name 'json' is already taken by" in message and "rename" in message
    assert registry.SCENARIOS == {}


@pytest.mark.parametrize("name,reason", [
    ("missing.py", "no such file or directory"),
    ("notes.txt", "not a Python file"),
    ("empty_dir", "no Python files"),
])
def test_bad_paths(tmp_path, name, reason):
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "empty_dir").mkdir()
    assert user_error([tmp_path / name]) == f"{tmp_path / name}: {reason}" + (
        " (expected a .py file or a directory)" if name == "notes.txt" else "") + (
        " in this directory" if name == "empty_dir" else "")


# -- files that import each other ----------------------------------------------

SHARED = textwrap.dedent("""
    @scenario("shared.{name}")
    def {name}(ctx):
        return {{"value": 1}}
""")


@pytest.mark.parametrize("order", ["helper first", "helper last"])
def test_scenario_files_may_import_each_other(tmp_path, order):
    """Two scenario files share a helper that registers scenarios itself; every file
    is given on the command line. Each file runs once, whatever the order."""
    helper = write(tmp_path / "common.py", SHARED.format(name="common") +
                   "\nRUNS = globals().get('RUNS', 0) + 1\n", header=True)
    a = write(tmp_path / "a.py", "import common\n" + SHARED.format(name="a"), header=True)
    b = write(tmp_path / "b.py", "from common import common as shared\n"
              + SHARED.format(name="b"), header=True)
    paths = [helper, a, b] if order == "helper first" else [a, b, helper]
    loader.load_paths([str(p) for p in paths])
    assert sorted(registry.SCENARIOS) == ["shared.a", "shared.b", "shared.common"]
    module = loader.loaded_from(str(helper))
    assert module.RUNS == 1 and sys.modules["common"] is module
    # a's code identity covers the helper it imports; the helper's does not cover a
    assert {Path(p).name for p in codeid.closure(registry.SCENARIOS["shared.a"].code_files)} \
        == {"a.py", "common.py"}
    assert codeid.closure(registry.SCENARIOS["shared.common"].code_files) == [str(helper)]


def test_a_directory_of_files_sharing_a_helper_loads_each_once(tmp_path):
    folder = tmp_path / "checks"
    write(folder / "helpers.py", SHARED.format(name="helpers"), header=True)
    write(folder / "one.py", "from helpers import helpers\n" + SHARED.format(name="one"),
          header=True)
    write(folder / "two.py", "import helpers\n" + SHARED.format(name="two"), header=True)
    loader.load_paths([str(folder)])
    assert sorted(registry.SCENARIOS) == ["shared.helpers", "shared.one", "shared.two"]


def test_a_file_named_like_a_library_module_stays_private(tmp_path):
    path = write(tmp_path / "json.py", SHARED.format(name="json"), header=True)
    loader.load_paths([str(path)])
    import json
    assert hasattr(json, "dumps")  # the standard library's, not the user's file
    assert registry.SCENARIOS["shared.json"].module.startswith("rngdrift_user_json")


def test_the_same_file_run_under_two_names_is_named_as_such(tmp_path):
    path = write(tmp_path / "twice.py", SHARED.format(name="twice"), header=True)
    import importlib.util
    for name in ("first_name", "second_name"):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        if name == "first_name":
            spec.loader.exec_module(module)
        else:
            with pytest.raises(registry.DuplicateScenario) as info:
                spec.loader.exec_module(module)
    assert str(info.value) == (f"scenario 'shared.twice' registered twice: {path}:3 ran twice, "
                               "as modules first_name and second_name (import it by one name)")


# -- paths that register nothing -------------------------------------------------

def test_a_file_that_registers_nothing_is_an_error(tmp_path):
    path = write(tmp_path / "utils.py", "def helper():\n    return 1\n")
    assert user_error([path]) == (f"{path}: registers no scenario (no @scenario(...) function "
                                  "in it); to run a plain function, use --call FILE:FUNCTION")


@pytest.mark.parametrize("name,source", [
    ("test_model.py", "def helper():\n    return 1\n"),
    ("checks.py", "import torch\n\n\ndef test_loss():\n    assert 1\n"),
])
def test_a_pytest_file_gets_a_hint(tmp_path, name, source):
    path = write(tmp_path / name, source)
    assert user_error([path]) == (f"{path}: registers no scenario (no @scenario(...) function "
                                  f"in it); it looks like a pytest file: run it with --pytest "
                                  f"{path}")


def test_a_directory_that_registers_nothing_is_an_error(tmp_path):
    write(tmp_path / "tests" / "test_a.py", "def test_a():\n    pass\n")
    assert user_error([tmp_path / "tests"]).endswith(
        f"it looks like a pytest file: run it with --pytest {tmp_path / 'tests'}")


# -- one-line errors for user code ---------------------------------------------

def test_import_error_points_at_the_innermost_user_line(tmp_path):
    path = write(tmp_path / "broken.py", """
        def helper():
            return {}["missing"]

        TABLE = helper()
    """, header=True)
    assert user_error([path]) == f"{path}:4: KeyError: 'missing'"


def test_error_raised_inside_a_library_names_both_places(tmp_path):
    path = write(tmp_path / "broken_lib.py", """
        import json

        CONFIG = json.loads("{not json")
    """)
    message = user_error([path])
    assert message.startswith(f"{path}:4: JSONDecodeError: Expecting property name")
    assert "(raised at " in message and "json" in message.split("(raised at ")[1]


def test_missing_module_suggests_cell_requirements(tmp_path):
    path = write(tmp_path / "needs_pkg.py", "import rngdrift_no_such_package\n")
    assert user_error([path]) == (
        f"{path}:1: ModuleNotFoundError: No module named 'rngdrift_no_such_package' "
        "(a package the cells lack? name it in --cell-requirements)")


def test_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path / "typo.py", "x = 1\ndef f(:\n    pass\n")
    assert user_error([path]).startswith(f"{path}:2: SyntaxError: ")


def test_exit_at_import_is_an_error_not_an_exit(tmp_path):
    path = write(tmp_path / "script.py", "import sys\nsys.exit('usage: script.py DATA')\n")
    assert user_error([path]) == f"{path}:2: SystemExit: usage: script.py DATA"


def test_duplicate_of_a_canonical_name_names_both_files(tmp_path):
    scenario("pairs.hflip")(lambda ctx: {})
    path = write(tmp_path / "dup.py", """
        @scenario("pairs.hflip")
        def mine(ctx):
            return {}
    """, header=True)
    message = user_error([path])
    assert message.startswith("scenario 'pairs.hflip' registered twice: at ")
    assert message.endswith(f" and at {path}:3")
    assert f"{Path(__file__).name}:" in message


def test_duplicate_across_user_files(tmp_path):
    a = write(tmp_path / "a.py", "\n\nscenario('my.same')(lambda ctx: {})\n", header=True)
    b = write(tmp_path / "b.py", "scenario('my.same')(lambda ctx: {})\n", header=True)
    assert user_error([a, b]) == \
        f"scenario 'my.same' registered twice: at {a}:4 and at {b}:2"


@pytest.mark.slow
def test_cell_prints_one_line_and_exits_2(tmp_path, cell_python):
    path = write(tmp_path / "broken.py", "import torch\n\nMODEL = torch.nn.Linear(2, 2)\n"
                                         "OUT = MODEL(torch.zeros(3))\n")
    proc = subprocess.run(
        [str(cell_python(OLD_CELL)), "-m", "_rngdrift.harness.cell", "--out", str(tmp_path / "x.csv"),
         "--cell", OLD_CELL, "--scenarios", str(path)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"rngdrift: {path}:4: RuntimeError: "), proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "(raised at " in proc.stderr and "torch/nn/" in proc.stderr
    assert not (tmp_path / "x.csv").exists()


# -- syntax the oldest cell's Python cannot run ---------------------------------

def _python(xy):
    exe = interpreters.find(xy)
    if exe is None:
        pytest.skip(interpreters.missing_hint(xy))
    return exe


def _check(python, *paths):
    return subprocess.run(
        [str(python), "-m", "_rngdrift.harness.cell.loader", "--check", *map(str, paths),
         "--context", "cell test"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True)


@pytest.mark.parametrize("xy,source,line", [
    ("3.7", "x = 1\nif (n := 10) > 5:\n    pass\n", 2),                   # walrus: 3.8+
    ("3.7", "x = 1\ny = 2\nprint(f'{x=}')\n", 3),                         # f'{x=}': 3.8+
    ("3.8", "def f(v):\n    match v:\n        case 1:\n            return 1\n", 2),  # 3.10+
])
def test_syntax_too_new_for_the_cell_python(tmp_path, xy, source, line):
    python = _python(xy)
    good = write(tmp_path / "fine.py", "x = [i for i in range(3)]\n")
    path = write(tmp_path / "modern.py", source)
    proc = _check(python, good, path)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"rngdrift: {path}:{line}: SyntaxError: ")
    assert f"(Python {xy}." in lines[0] and "cannot compile it; cell test)" in lines[0]
    # The host's newer Python compiles the same file: the check is the cell's.
    assert _check(sys.executable, path).returncode == 0


def test_syntax_check_passes_the_examples_on_the_oldest_python():
    python = _python("3.7")
    proc = _check(python, ROOT / "examples")
    assert proc.returncode == 0, proc.stderr
    assert loader.check_syntax([str(ROOT / "examples")]) == []
