"""harness.cell.registry: registration, version gating and selection."""
from __future__ import annotations

import os

import pytest

from _rngdrift.harness.cell import registry
from _rngdrift.harness.cell.registry import scenario

pytestmark = pytest.mark.usefixtures("fresh_registry")


# -- registration and version gating ---------------------------------------

def test_decorator_registers_with_requirements():
    @scenario("mine.one", torch=">=1.8", torchvision=">=0.9,<0.15", cuda=True, timeout=5)
    def one(ctx):
        return {}

    sc = registry.SCENARIOS["mine.one"]
    assert sc.func is one and sc.family == "mine" and sc.timeout == 5 and sc.cuda
    assert sc.requires == {"torch": ">=1.8", "torchvision": ">=0.9,<0.15"}
    assert sc.source == f"{__file__}:{one.__code__.co_firstlineno}"
    assert sc.code_files is None  # only user files loaded by path get a code identity


INSTALLED = {"python": "3.8.18", "torch": "1.5.0", "torchvision": "0.6.0", "numpy": "1.24.4",
             "cuda": False}


@pytest.mark.parametrize("kwargs,reason", [
    ({}, None),
    ({"torch": ">=1.5"}, None),
    ({"torch": ">=1.8"}, "needs torch>=1.8; cell has 1.5.0"),
    ({"torchvision": ">=0.3,<0.7"}, None),
    ({"torchvision": ">=0.7"}, "needs torchvision>=0.7; cell has 0.6.0"),
    ({"python": ">=3.9"}, "needs python>=3.9; cell has 3.8.18"),
    ({"cuda": True}, "no CUDA device"),
])
def test_unmet(kwargs, reason):
    scenario("gated", **kwargs)(lambda ctx: {})
    assert registry.SCENARIOS["gated"].unmet(INSTALLED) == reason


def test_unmet_when_package_missing():
    scenario("gated", numpy=">=1.20")(lambda ctx: {})
    assert registry.SCENARIOS["gated"].unmet({"python": "3.8"}) == \
        "needs numpy >=1.20; not installed"


@pytest.mark.parametrize("name, why", [
    ("", "empty scenario name"), (" padded", "white space"), ("a,b", "comma"),
    (None, "must be a string"), ("a\rb", "control character"), ("a\u2028b", "control character"),
    ("-x.dash", "starts with '-'"), ("=HYPERLINK(1)", "starts with '='"),
    ("cell.evil", "whole-cell rows"), ("x" * 201, "201 characters")])
def test_a_bad_name_makes_that_scenario_an_error_and_nothing_else(name, why):
    scenario(name)(lambda ctx: {})
    scenario("fine.one")(lambda ctx: {})
    (stand_in,) = [n for n in registry.SCENARIOS if n != "fine.one"]
    assert stand_in.startswith("invalid.") and registry.name_problem(stand_in, "scenario") is None
    assert why in registry.SCENARIOS[stand_in].invalid
    assert "rename it" in registry.SCENARIOS[stand_in].invalid
    assert registry.SCENARIOS["fine.one"].invalid is None


def test_bad_version_spec_is_refused_at_registration():
    with pytest.raises(registry.RegistrationError, match=r"bad torch version spec '1\.8'"):
        scenario("mine.x", torch="1.8")


def test_duplicate_names_name_both_locations():
    def first(ctx):
        return {}

    def second(ctx):
        return {}

    scenario("mine.dup")(first)
    with pytest.raises(registry.DuplicateScenario) as info:
        scenario("mine.dup")(second)
    message = str(info.value)
    here = os.path.relpath(__file__) if __file__.startswith(os.getcwd()) else __file__
    assert f"at {here}:{first.__code__.co_firstlineno} and at " \
           f"{here}:{second.__code__.co_firstlineno}" in message
    assert registry.SCENARIOS["mine.dup"].func is first


# -- selection ---------------------------------------------------------------

NAMES = ["pairs.hflip", "pairs.rotation", "loader.shuffle_global", "example.seg_pairs.reseed_random",
         "example.train.mlp", "cuda.index_add"]


@pytest.mark.parametrize("only,skip,expected", [
    ((), (), NAMES),
    (("example.*",), (), ["example.seg_pairs.reseed_random", "example.train.mlp"]),
    (("example.*",), ("*.train.*",), ["example.seg_pairs.reseed_random"]),
    ((), ("cuda.*", "pairs.*"), ["loader.shuffle_global", "example.seg_pairs.reseed_random",
                                 "example.train.mlp"]),
    (("pairs.hflip", "loader.*"), (), ["pairs.hflip", "loader.shuffle_global"]),
    (("*rotation",), (), ["pairs.rotation"]),
    (("Pairs.*",), (), []),  # case-sensitive, like scenario names
    (("nothing.*",), (), []),
])
def test_select(only, skip, expected):
    assert registry.select(NAMES, only, skip) == expected


def test_a_gate_on_another_distribution_reads_what_is_installed():
    scenario("gated.stack", requires={"Typing_Extensions": ">=3.7"})(lambda ctx: {})
    scenario("gated.absent", requires={"albumentations-not-here": ">=1.4.21"})(lambda ctx: {})
    scenario("gated.newer", requires={"typing-extensions": ">=999"})(lambda ctx: {})
    assert registry.SCENARIOS["gated.stack"].requires == {"typing-extensions": ">=3.7"}
    assert registry.SCENARIOS["gated.stack"].unmet({"python": "3.8"}) is None
    assert registry.SCENARIOS["gated.absent"].unmet({}) == \
        "needs albumentations-not-here >=1.4.21; not installed"
    assert registry.SCENARIOS["gated.newer"].unmet({}).startswith("needs typing-extensions>=999; "
                                                                  "cell has ")
