"""check --blame's planning and bisection (harness.envs.blame), its environments' pins,
releases and rows (blamerun) and what it says (blametext): no installs, a fake
``observe`` standing in for building and running an environment."""
import json

import pytest

from _rngdrift.harness.envs import blame, blamerun, blametext, build
from _rngdrift.harness.results.frames import Observation

OLD = {"torch": "1.5.0", "torchvision": "0.6.0", "pillow": "7.0.0", "numpy": "1.19.5",
       "future": "0.18.2"}
NEW = {"torch": "1.6.0", "torchvision": "0.7.0", "pillow": "9.0.0", "numpy": "1.21.6",
       "future": "0.18.3"}
DECLARED = {"torch", "torchvision", "pillow", "numpy"}


def ok(value):
    return Observation("ok", (value,), "", 2)


FLIP = ("pairs.hflip", "python", "pair_consistency")
CALLS = ("pairs.hflip", "python", "rng.calls.random.random")
BYTES = ("augment.resize", "all", "output")
ROWS = {FLIP: ("number", ok(1.0), Observation("ok", (0.5, 0.25), "", 2)),
        CALLS: ("count", ok(400), ok(0)),
        BYTES: ("fingerprint", ok("aa"), ok("bb"))}


def test_plan_moves_torch_with_torchvision_and_leaves_undeclared_packages_to_uv():
    groups, followers = blame.plan(OLD, NEW, DECLARED)
    assert [g.names for g in groups] == [("torch", "torchvision"), ("numpy",), ("pillow",)]
    assert groups[0].lead == "torchvision"
    assert groups[0].label == "torchvision 0.6.0 → 0.7.0 (with torch 1.5.0 → 1.6.0)"
    assert groups[2].label == "Pillow 7.0.0 → 9.0.0"
    assert followers == ["future"]
    assert blame.plan(OLD, OLD, DECLARED) == ([], [])


def test_plan_names_a_package_added_or_removed():
    groups, _ = blame.plan({"torch": "1.5.0"}, {"torch": "1.5.0", "scipy": "1.7.0"},
                           {"torch", "scipy"})
    assert [(g.names, g.old, g.new) for g in groups] == [(("scipy",), (None,), ("1.7.0",))]
    assert groups[0].label == "scipy (none) → 1.7.0"


@pytest.mark.parametrize("first", [1, 2, 5, 9])
def test_bisect_finds_the_first_position_that_moves_it_in_log_steps(first):
    asked = []

    def moved(i):
        asked.append(i)
        return i >= first
    low, high, refused, spent = blame.bisect(10, moved)
    assert (low, high, refused, spent) == (first - 1, first, [], False)
    assert len(asked) <= 4 and len(set(asked)) == len(asked)


def test_bisect_steps_around_a_release_uv_refuses():
    low, high, refused, _ = blame.bisect(6, lambda i: None if i in (2, 3) else i >= 3)
    assert (low, high) == (1, 4) and sorted(refused) == [2, 3]  # a range: said, not guessed
    low, high, refused, _ = blame.bisect(6, lambda i: None if i == 2 else i >= 4)
    assert (low, high, refused) == (3, 4, [2])


def test_bisect_stops_on_the_budget_with_the_range_it_had():
    def moved(i):
        if i != 4:  # the first midpoint answers, the next finds no budget
            raise blame.BudgetSpent()
        return True
    assert blame.bisect(10, moved) == (0, 4, [], True)


class Fake:
    """observe(): what each environment would measure; refuses what uv would."""

    def __init__(self, refuse=()):
        self.calls = []
        self.refuse = refuse

    def __call__(self, changes):
        self.calls.append(changes)
        pins = {**OLD, **changes}
        if any(pins.get(k) == v for k, v in self.refuse):
            return "numpy==2.0.0 depends on python>=3.9"
        out = {FLIP: ("number", ok(1.0)), CALLS: ("count", ok(400)), BYTES: ("fingerprint", ok("aa"))}
        if pins["torchvision"] >= "0.7.0":
            out[FLIP] = ("number", Observation("ok", (0.5, 0.75), "", 2))
            out[CALLS] = ("count", ok(0))
        if pins["pillow"] >= "8.3.0":
            out[BYTES] = ("fingerprint", ok("bb"))
        return out


def releases(group):
    return {"torchvision": [{"torch": "1.5.1", "torchvision": "0.6.1"}],
            "pillow": [{"pillow": v} for v in ("7.1.0", "7.2.0", "8.0.1", "8.1.0", "8.3.0",
                                               "8.4.0")],
            "numpy": [{"numpy": "1.20.3"}]}[group.lead]


def run(observe, budget=20, rows=ROWS):
    groups, followers = blame.plan(OLD, NEW, DECLARED)
    return blame.Blame(OLD, rows, groups, observe, releases, budget, followers).run()


def test_each_row_is_blamed_on_the_one_package_that_moves_it_and_its_first_release():
    fake = Fake()
    result = run(fake)
    by_key = {r.key: r for r in result.rows}
    assert {k: (r.verdict, r.groups[0].lead) for k, r in by_key.items()} == {
        FLIP: ("blamed", "torchvision"), CALLS: ("blamed", "torchvision"),
        BYTES: ("blamed", "pillow")}
    assert by_key[FLIP].first == "0.7.0 with torch 1.6.0" and by_key[FLIP].exact
    assert by_key[FLIP].last_same == "0.6.1 with torch 1.5.1"
    assert (by_key[BYTES].first, by_key[BYTES].last_same) == ("8.3.0", "8.1.0")
    numpy = next(g for g in result.groups if g.group.lead == "numpy")
    assert numpy.tried and not numpy.moved and not numpy.refused
    # every environment once: 3 groups alone, tv 0.6.1, and Pillow's bisection
    assert len(fake.calls) == len({frozenset(c.items()) for c in fake.calls}) == result.built
    assert {"pillow": "7.1.0"} not in fake.calls  # bisected, not walked
    lines = "\n".join(blametext.section(result, blamerun.Cost(built=result.built), "old", 0))
    assert ("**torchvision 0.6.0 → 0.7.0 (with torch 1.5.0 → 1.6.0): first at 0.7.0 with "
            "torch 1.6.0; 0.6.1 with torch 1.5.1 does not change it**") in lines
    assert "**Pillow 7.0.0 → 9.0.0: first at 8.3.0; 8.1.0 does not change it**" in lines
    assert "- NumPy 1.19.5 → 1.21.6 changes nothing here" in lines
    assert "future" in lines  # the follower is said


def test_a_package_that_cannot_move_alone_is_said_with_uvs_reason():
    result = run(Fake(refuse=[("numpy", "1.21.6")]))
    numpy = next(g for g in result.groups if g.group.lead == "numpy")
    assert numpy.refused == "numpy==2.0.0 depends on python>=3.9"
    lines = "\n".join(blametext.section(result, blamerun.Cost(), "old", 0))
    assert ("NumPy 1.19.5 → 1.21.6: not installable alone with the old side's other pins: "
            "numpy==2.0.0 depends on python>=3.9") in lines


def test_a_row_only_the_whole_bump_moves_is_not_pinned_on_anyone():
    rows = {("s", "all", "m"): ("count", ok(1), ok(2))}

    def observe(changes):
        if changes.get("numpy") == "1.21.6" and refuse:
            return "no"
        return {("s", "all", "m"): ("count", ok(1))}
    refuse = False
    result = run(observe, rows=rows)
    assert result.rows[0].verdict == blame.TOGETHER and not result.rows[0].groups
    refuse = True
    result = run(observe, rows=rows)
    assert result.rows[0].verdict == blame.UNDETERMINED


def test_a_row_two_packages_each_move_is_said_to_be_moved_by_both():
    rows = {("s", "all", "m"): ("count", ok(1), ok(2))}

    def observe(changes):
        moved = "torch" in changes or "pillow" in changes
        return {("s", "all", "m"): ("count", ok(2 if moved else 1))}
    result = run(observe, rows=rows)
    assert result.rows[0].verdict == blame.SEVERAL
    assert {g.lead for g in result.rows[0].groups} == {"torchvision", "pillow"}


def test_the_budget_bounds_the_environments_and_what_is_left_is_said():
    fake = Fake()
    result = run(fake, budget=4)  # 3 alone + tv 0.6.1; Pillow's bisection gets nothing
    assert result.built == 4 == len(fake.calls) and result.spent
    pillow = next(r for r in result.rows if r.key == BYTES)
    assert not pillow.exact and (pillow.last_same, pillow.first) == ("7.0.0", "9.0.0")
    lines = "\n".join(blametext.section(result, blamerun.Cost(built=4), "old", 0))
    assert "somewhere after 7.0.0, by 9.0.0 (not narrowed further)" in lines
    assert "The budget ran out" in lines and "--blame-budget" in lines
    result = run(Fake(), budget=1)
    assert [g.tried for g in result.groups] == [True, False, False]
    assert "not tried (the budget ran out)" in "\n".join(
        blametext.section(result, blamerun.Cost(), "old", 0))


def test_blame_files_hold_every_row_and_the_cost():
    result = run(Fake())
    cost = blamerun.Cost(built=result.built, runs=12, wall_s=3.2)
    files = blametext.files(result, cost, [], ["a", "b"], 2)
    lines = files["blame.csv"].splitlines()
    assert lines[0].split(",")[:7] == ["scenario", "seeding", "metric", "kind", "before",
                                       "after", "verdict"]
    assert len(lines) == 1 + len(ROWS)
    data = json.loads(files["blame.json"])
    assert data["cost"]["environments_built"] == result.built and data["noise_rows"] == 2
    flip = next(r for r in data["rows"] if r["metric"] == "pair_consistency")
    assert (flip["package"], flip["from"], flip["to"], flip["first_at"]) == (
        "torchvision", "0.6.0", "0.7.0", "0.7.0 with torch 1.6.0")
    assert flip["after"] == "2 values over the repeats"


def test_an_intermediate_environment_keeps_the_old_pins_but_the_moved_and_the_followers():
    old = build.Resolved("3.8", "/py", ("torch==1.5.0", "torchvision==0.6.0", "numpy==1.19.5",
                                        "future==0.18.2", "-e /work/mine"))
    probes = blamerun.Probes(old, ["future"], _Opts(), build_path(), build_path(),
                             build_path(), [], ROWS)
    assert probes.requirements({"numpy": "1.21.6", "scipy": "1.7.0"}) == [
        "torch==1.5.0", "torchvision==0.6.0", "numpy==1.21.6", "-e /work/mine", "scipy==1.7.0"]
    resolved = build.Resolved("3.8", "/py", ("torch==1.5.0", "torchvision==0.6.0"))
    assert probes.cell_id(resolved, {"pillow": "9.0.0"}) == "py3.8-torch1.5.0-tv0.6.0-pillow9.0.0"


class _Opts:
    seeding = "python,all"
    repeats = 2


def build_path():
    from pathlib import Path
    return Path("/nonexistent")


def test_a_probe_is_filled_as_the_report_fills_a_grid():
    probe = {("s", "python", "status"): ("text", ok("ok")),
             ("t", "all", "status"): ("text", Observation("error", (), "boom", 2))}
    rows = {("s", "python", "rng.calls.torch.rand"): ("count", ok(0), ok(400)),
            ("s", "python", "rng.generator.torch.rand"): ("text", Observation("n/a"), ok("x")),
            ("t", "all", "out"): ("fingerprint", ok("a"), ok("b")),
            ("u", "all", "out"): ("fingerprint", ok("a"), ok("b"))}
    filled = blamerun.fill(probe, rows)
    assert filled[("s", "python", "rng.calls.torch.rand")][1].values == (0,)
    assert filled[("s", "python", "rng.generator.torch.rand")][1].state == "n/a"
    assert filled[("t", "all", "out")][1].state == "error"
    assert ("u", "all", "out") not in filled  # not run: not seen


def test_the_narrowed_options_match_only_the_changed_scenarios():
    import dataclasses
    from _rngdrift.harness.runs import runoptions
    opts = runoptions.parse([], "r")
    rows = {("pytest.tests.test_x.test_y[a*b]", "all", "m"): None,
            ("pairs.hflip", "python", "m"): None}
    narrowed = blamerun.narrowed(opts, rows, "r-blame")
    assert narrowed.only == ("pairs.hflip", "pytest.tests.test_x.test_y[[]a[*]b]")
    assert narrowed.seeding == "python,all" or narrowed.seeding == "all,python"
    import fnmatch
    assert fnmatch.fnmatchcase("pytest.tests.test_x.test_y[a*b]", narrowed.only[1])
    assert not fnmatch.fnmatchcase("pytest.tests.test_x.test_yXab", narrowed.only[1])
    assert dataclasses.replace(narrowed, only=opts.only, seeding=opts.seeding,
                               run_id=opts.run_id) == opts


LOCK = {"torch": [{"version": "1.5.0", "pythons": ["3.8"]}, {"version": "1.5.1", "pythons": ["3.8"]},
                  {"version": "1.6.0", "pythons": ["3.8"]}, {"version": "1.7.0", "pythons": ["3.9"]}],
        "cells": [{"python": "3.8", "torch": "1.5.0", "torchvision": "0.6.0"},
                  {"python": "3.7", "torch": "1.5.1", "torchvision": "0.6.1"},
                  {"python": "3.8", "torch": "1.5.1", "torchvision": "0.6.1"},
                  {"python": "3.8", "torch": "1.6.0", "torchvision": "0.7.0"},
                  {"python": "3.9", "torch": "1.7.0", "torchvision": "0.8.0"}]}


def test_torch_releases_come_from_the_locks_pairs_with_wheels_for_the_python():
    group = blame.Group(("torch", "torchvision"), ("1.5.0", "0.6.0"), ("1.7.0", "0.8.0"))
    assert blamerun.Releases("3.8", lock=LOCK)(group) == [
        {"torch": "1.5.1", "torchvision": "0.6.1"}, {"torch": "1.6.0", "torchvision": "0.7.0"}]
    assert blamerun.Releases("3.9", lock=LOCK)(group) == []


def test_a_packages_releases_come_from_the_index_with_wheels_for_the_python():
    def wheel(version, tag):
        return {"filename": f"pillow-{version}-{tag}-manylinux_2_28_x86_64.whl",
                "url": f"https://x/pillow-{version}.whl", "requires-python": ">=3.7"}
    page = {"files": [wheel("7.0.0", "cp38-cp38"), wheel("7.1.0", "cp38-cp38"),
                      wheel("8.0.0", "cp39-cp39"), wheel("8.1.0rc1", "cp38-cp38"),
                      {"filename": "pillow-8.2.0.tar.gz", "url": "https://x/s"},
                      wheel("8.3.0", "cp38-cp38"), wheel("9.0.0", "cp38-cp38")]}

    def fetch(url, headers):
        assert url == "https://pypi.org/simple/pillow/"
        return json.dumps(page).encode(), {"content-type": "application/vnd.pypi.simple.v1+json"}
    group = blame.Group(("pillow",), ("7.0.0",), ("9.0.0",))
    assert blamerun.Releases("3.8", fetch=fetch, lock=LOCK)(group) == [
        {"pillow": "7.1.0"}, {"pillow": "8.3.0"}]


@pytest.mark.parametrize("argv,said", [
    (["--blame", "--blame-budget", "0"], "--blame-budget: '0': give a whole number"),
    (["--blame-budget", "3"], "--blame-budget bounds --blame: give --blame too"),
])
def test_a_bad_budget_is_said_and_exit_2(argv, said, capsys, tmp_path, monkeypatch):
    from _rngdrift.harness import cli
    monkeypatch.chdir(tmp_path)
    try:
        code = cli.main(["check", "--from", "torch==1.5.0", "--to", "torch==1.6.0", *argv])
    except SystemExit as exc:  # argparse's own error, as for --fail-on
        code = exc.code
    assert code == 2
    assert said in capsys.readouterr().err.strip().splitlines()[-1]


def test_rows_with_no_declared_package_moved_are_not_blamed_on_a_bump():
    groups, followers = blame.plan({"torch": "1.5.0", "future": "0.18.2"},
                                   {"torch": "1.5.0", "future": "0.18.3"}, {"torch"})
    result = blame.Blame({}, ROWS, groups, Fake(), releases, 5, followers).run()
    lines = "\n".join(blametext.section(result, blamerun.Cost(), "old", 0))
    assert "No package either side declares moved (only future, which uv chose)" in lines
    assert "No single package" not in lines
    assert result.built == 0
