"""Environments as data (harness.matrix.envs): cells with named pins, --vary, the
environments between two pin sets, and resolving them with uv."""
import subprocess

import pytest

from _rngdrift.harness.errors import UserError
from _rngdrift.harness.matrix import compat, envs
from _rngdrift.harness.runs import runoptions

OLD = compat.Cell("3.8", "1.5.0", "0.6.0")
NEW = compat.Cell("3.11", "2.15.0", "0.29.2")


# -- cell ids with named pins ------------------------------------------------------------

def test_a_cell_id_names_its_pins_sorted_and_parses_back():
    cell = compat.Cell("3.8", "1.5.0", "0.6.0",
                       pins=(("Pillow", "9.5.0"), ("albumentations", "1.4.18")))
    assert cell.id == "py3.8-torch1.5.0-tv0.6.0-albumentations1.4.18-pillow9.5.0"
    assert cell.pillow == "9.5.0" and cell.numpy == OLD.numpy
    assert "pillow==9.5.0" in cell.requirements and "albumentations==1.4.18" in cell.requirements
    assert "pillow==10.4.0" not in cell.requirements
    assert compat.parse_id(cell.id) == cell
    assert cell.base_id == OLD.id


@pytest.mark.parametrize("name,version,written", [
    ("pytorch-lightning", "1.3.0", "pytorch_lightning1.3.0"),
    ("h5py", "3.1.0", "h5py3.1.0"),
    ("PyQt5", "5.15.0", "pyqt5_5.15.0"),           # a name ending in a digit
    ("opencv_python_headless", "4.11.0.86", "opencv_python_headless4.11.0.86"),
    ("numpy", "2.0.0rc1", "numpy2.0.0rc1"),
])
def test_every_package_name_round_trips_through_an_id(name, version, written):
    cell = compat.Cell("3.11", "2.15.0", "0.29.2", pins=((name, version),))
    assert cell.id == f"{NEW.id}-{written}"
    assert compat.parse_id(cell.id) == cell


@pytest.mark.parametrize("text", [
    "py3.8-torch1.5.0-tv0.6.0-pillow9.5.0-albumentations1.4.18",  # pins out of order
    "py3.8-torch1.5.0-tv0.6.0-pillow9.5.0-pillow10.4.0",          # a package twice
    "py3.8-torch1.5.0-tv0.6.0-torch1.6.0",                        # the pair's own field
    "py3.8-torch1.5.0-tv0.6.0-pillow",                            # no version
])
def test_ids_that_are_not_the_one_id_of_a_cell_do_not_parse(text):
    assert compat.parse_id(text) is None


def test_cells_of_one_pair_sort_together_by_their_pins():
    ids = [f"{NEW.id}-pillow11.0.0", f"{OLD.id}-pillow9.5.0", NEW.id, f"{OLD.id}-pillow10.4.0",
           f"{OLD.id}-pillow6.2.2", OLD.id]
    assert compat.order(ids) == [OLD.id, f"{OLD.id}-pillow6.2.2", f"{OLD.id}-pillow9.5.0",
                                 f"{OLD.id}-pillow10.4.0", NEW.id, f"{NEW.id}-pillow11.0.0"]


def test_steps_move_one_package_along_an_axis_and_the_pair_at_equal_pins():
    ids = [f"{OLD.id}-pillow{v}" for v in ("6.2.2", "9.5.0", "10.4.0")] + \
          [f"{NEW.id}-pillow{v}" for v in ("9.5.0", "10.4.0", "11.0.0")]
    steps = compat.steps(ids)
    assert (f"{OLD.id}-pillow6.2.2", f"{OLD.id}-pillow9.5.0") in steps
    assert (f"{OLD.id}-pillow9.5.0", f"{OLD.id}-pillow10.4.0") in steps
    assert (f"{OLD.id}-pillow9.5.0", f"{NEW.id}-pillow9.5.0") in steps
    assert (f"{OLD.id}-pillow10.4.0", f"{NEW.id}-pillow10.4.0") in steps
    assert (f"{NEW.id}-pillow10.4.0", f"{NEW.id}-pillow11.0.0") in steps
    # never a step that moves torch and Pillow at once (10.4.0 at 1.5 -> 9.5.0 at 2.15)
    assert (f"{OLD.id}-pillow10.4.0", f"{NEW.id}-pillow9.5.0") not in steps
    assert len(steps) == 6


def test_a_plain_cell_stands_in_the_pillow_axis_with_its_locks_pin():
    ids = [OLD.id, f"{OLD.id}-pillow9.5.0", f"{OLD.id}-pillow10.4.0"]
    # 10.4.0 is the lock's pin: the plain cell and -pillow10.4.0 are one environment
    assert compat.steps(ids) == [(f"{OLD.id}-pillow9.5.0", OLD.id)]


def test_a_run_without_pins_steps_through_its_cells_in_order():
    ids = [c.id for c in compat.DEFAULT]
    assert compat.steps(reversed(ids)) == list(zip(ids, ids[1:]))


# -- --vary -----------------------------------------------------------------------------

def test_an_axis_parses_sorted_versions_and_a_normal_name():
    axis = envs.Axis.parse("Pillow=11.0.0,9.5.0, 10.4.0")
    assert axis == envs.Axis("pillow", ("9.5.0", "10.4.0", "11.0.0"))


@pytest.mark.parametrize("text,words", [
    ("pillow", "PACKAGE=VERSION"),
    ("pillow=", "PACKAGE=VERSION"),
    ("=9.5.0", "PACKAGE=VERSION"),
    ("torch=1.5.0", "the matrix's own axis"),
    ("torchvision=0.6.0", "the matrix's own axis"),
    ("pillow=>=9", "not an exact release"),
    ("pillow=9.5.0,9.5.0", "listed twice"),
])
def test_a_bad_axis_is_one_clear_line(text, words):
    with pytest.raises(UserError, match=words):
        envs.Axis.parse(text)


def test_varied_runs_each_cell_once_per_version_one_package_at_a_time():
    cells = envs.varied([OLD, NEW], [envs.Axis.parse("pillow=9.5.0,10.4.0"),
                                     envs.Axis.parse("albumentations=1.4.21")])
    assert [c.id for c in cells] == [
        f"{OLD.id}-albumentations1.4.21", f"{OLD.id}-pillow9.5.0", f"{OLD.id}-pillow10.4.0",
        f"{NEW.id}-albumentations1.4.21", f"{NEW.id}-pillow9.5.0", f"{NEW.id}-pillow10.4.0"]
    # the albumentations cells keep the lock's Pillow
    assert cells[0].pillow == OLD.pillow
    assert envs.varied([OLD], []) == [OLD]


def test_vary_axes_are_read_from_the_options_after_the_double_dash():
    axes = runoptions.vary_axes(["--only", "pillow.*", "--vary", "pillow=9.5.0",
                                 "--vary=pillow=10.4.0", "--vary", "numpy=1.24.4"])
    assert axes == [envs.Axis("pillow", ("9.5.0", "10.4.0")), envs.Axis("numpy", ("1.24.4",))]
    args = runoptions.parse(["--vary", "pillow=9.5.0"], "run")
    assert args.vary == (envs.Axis("pillow", ("9.5.0",)),)
    assert runoptions.parse(args.to_argv(), "other").vary == args.vary  # to_argv round trip
    with pytest.raises(UserError):
        runoptions.parse(["--vary", "torch=1.6.0"], "run")


# -- environments between two pin sets ---------------------------------------------------

def test_an_env_is_its_python_and_pins_in_any_order():
    a = envs.Env.make("3.8", {"torch": "1.5.0", "Pillow": "9.5.0"})
    assert a == envs.Env.make("3.8", [("pillow", "9.5.0"), ("torch", "1.5.0")])
    assert a.get("PIL".lower()) is None and a.get("pillow") == "9.5.0"
    assert a.requirements == ["pillow==9.5.0", "torch==1.5.0", "setuptools<70"]


def test_an_env_and_its_cell_name_only_what_the_lock_does_not_pin():
    env = envs.Env.of(OLD).moved({"pillow": "9.5.0", "albumentations": "1.4.18"})
    assert env.cell().id == f"{OLD.id}-albumentations1.4.18-pillow9.5.0"
    assert envs.Env.of(OLD).cell() == OLD
    with pytest.raises(ValueError, match="needs torch"):
        envs.Env.make("3.8", {"pillow": "9.5.0"}).cell()


def test_torch_and_torchvision_move_as_one_group_python_alone():
    a = envs.Env.of(OLD)
    b = envs.Env.of(NEW).moved({"pillow": "11.0.0", "albumentations": "1.4.21"})
    assert envs.groups(a, b) == [("albumentations",), ("pillow",), ("python",),
                                 ("torch", "torchvision")]
    singles = dict(envs.one_at_a_time(a, b))
    assert singles[("pillow",)] == a.moved({"pillow": "11.0.0"})
    assert singles[("torch", "torchvision")].get("torchvision") == "0.29.2"
    assert singles[("python",)].python == "3.11" and singles[("python",)].pins == a.pins


def fake_resolver(rule):
    """A resolver that refuses environments for which ``rule(env)`` returns a reason."""
    asked = []

    def resolve(env):
        asked.append(env)
        reason = rule(env)
        return envs.Resolution(env, reason is None, reason or "")
    resolve.asked = asked
    return resolve


def test_a_path_moves_one_group_a_step_when_every_step_installs():
    a = envs.Env.of(OLD)
    b = a.moved({"torch": "1.6.0", "torchvision": "0.7.0", "numpy": "1.18.5"})
    steps = envs.path(a, b, fake_resolver(lambda env: None))
    assert [s.group for s in steps] == [("numpy",), ("torch", "torchvision")]
    assert steps[-1].env == b and all(not s.refused for s in steps)


def test_a_path_says_which_moves_cannot_install_and_moves_them_together():
    def wheels(env):  # torch 1.5 has no Python 3.11 wheels, torch 2.15 none for 3.8
        if env.get("torch") == "1.5.0" and env.python == "3.11":
            return "torch 1.5.0 has no cp311 wheels"
        if env.get("torch") == "2.15.0" and env.python == "3.8":
            return "torch 2.15.0 has no cp38 wheels"
        if env.get("pillow") == "11.0.0" and env.python == "3.8":
            return "pillow 11.0.0 needs Python >= 3.9"
        return None
    a = envs.Env.of(OLD)
    b = envs.Env.of(NEW).moved({"pillow": "11.0.0"})
    steps = envs.path(a, b, fake_resolver(wheels))
    assert [s.group for s in steps] == [("python", "torch", "torchvision"), ("pillow",)]
    refused = {r.detail for r in steps[0].refused}
    assert refused == {"pillow 11.0.0 needs Python >= 3.9", "torch 1.5.0 has no cp311 wheels",
                       "torch 2.15.0 has no cp38 wheels"}
    assert steps[-1].env == b


def test_a_path_that_cannot_move_at_all_ends_with_everything_moved_and_the_reasons():
    a = envs.Env.of(OLD)
    b = a.moved({"pillow": "11.0.0", "numpy": "2.0.0"})
    steps = envs.path(a, b, fake_resolver(lambda env: "no" if env != a else None))
    assert len(steps) == 1 and steps[0].group == ("numpy", "pillow") and steps[0].env == b
    assert len(steps[0].refused) == 3  # numpy, pillow, both


def test_releases_between_are_what_a_bisection_walks():
    versions = ["1.4.18", "1.4.19", "1.4.2", "1.4.20", "1.4.21", "1.4.22", "2.0.0rc1", "2.0.0"]
    assert envs.releases_between(versions, "1.4.18", "1.4.22") == ["1.4.19", "1.4.20", "1.4.21"]
    assert envs.releases_between(versions, "1.4.22", "1.4.18") == ["1.4.19", "1.4.20", "1.4.21"]


def test_the_resolver_asks_uv_once_per_environment_and_keeps_its_reason():
    calls = []

    def run(cmd, input, **kwargs):
        calls.append((cmd, input))
        if "pillow==11.0.0" in input:
            return subprocess.CompletedProcess(cmd, 1, "", (
                "warning: A managed Python download is available\n"
                "error: No solution found when resolving dependencies\n"
                "  cause: Because pillow==11.0.0 has no usable wheels, we can conclude ...\n"
                "hint: Wheels are required for `pillow`\n"))
        return subprocess.CompletedProcess(cmd, 0, "numpy==1.24.4\ntorch==1.5.0\n"
                                                   "    # via torchvision\n", "")
    resolve = envs.Resolver(uv="/bin/uv", run=run, find_python=lambda xy: None)
    a = envs.Env.of(OLD)
    assert resolve(a).ok and ("torch", "1.5.0") in resolve(a).resolved
    bad = resolve(a.moved({"pillow": "11.0.0"}))
    assert not bad.ok
    assert bad.detail == ("Because pillow==11.0.0 has no usable wheels, we can conclude ... "
                          "Wheels are required for `pillow`")
    assert len(calls) == 2
    cmd = calls[0][0]
    assert cmd[:3] == ["/bin/uv", "pip", "compile"] and "--only-binary" in cmd
    assert cmd[cmd.index("--python-version") + 1] == "3.8"


@pytest.mark.slow
def test_uv_says_which_real_environments_cannot_be_installed():
    """Against the real index: Pillow 11 needs Python 3.9, albumentations 1.4.21 too;
    1.4.18 installs beside torch 1.5 on 3.8."""
    resolve = envs.Resolver()
    old = envs.Env.of(OLD)
    assert resolve(old.moved({"albumentations": "1.4.18"})).ok
    refused = resolve(old.moved({"albumentations": "1.4.21"}))
    assert not refused.ok and "3.9" in refused.detail
    assert not resolve(old.moved({"pillow": "11.0.0"})).ok


def test_the_result_key_covers_a_varied_pin():
    from _rngdrift.harness.runs import resultkey
    args = runoptions.parse([], "run")
    plain, pillow = OLD, envs.varied([OLD], [envs.Axis.parse("pillow=9.5.0")])[0]
    same = envs.varied([OLD], [envs.Axis.parse(f"pillow={OLD.pillow}")])[0]
    key = resultkey.key_for(plain, args, platform="x")
    assert resultkey.key_for(pillow, args, platform="x").changed(key) == ["pins"]
    # the lock's own Pillow named in the id is the same environment: the same key
    assert resultkey.key_for(same, args, platform="x").digest == key.digest
