import json

from _rngdrift.harness.matrix import compat


def test_default_matrix_brackets_the_history():
    ids = [c.id for c in compat.DEFAULT]
    assert ids[0] == "py3.7-torch1.2.0-tv0.4.0"
    assert ids[-1] == "py3.11-torch2.15.0-tv0.29.2"
    for pair in ["torch1.3.1-tv0.4.2", "torch1.5.0-tv0.6.0", "torch1.6.0-tv0.7.0",
                 "torch1.10.0-tv0.11.1", "torch2.0.1-tv0.15.2", "torch2.12.1-tv0.27.1"]:
        assert any(pair in i for i in ids), pair
    assert ids == compat.order(reversed(ids))
    assert compat.PROBLEM is None and compat.MISSING_WAYPOINTS == []


def test_python_is_the_oldest_supported_from_3_8_else_3_7():
    assert compat.python_for("1.2.0") == "3.7"
    assert compat.python_for("1.3.1") == "3.7"
    assert compat.python_for("1.5.0") == "3.8"
    assert compat.python_for("2.6.0") == "3.9"
    assert compat.python_for("2.11.0") == "3.10"
    assert compat.python_for("2.15.0") == "3.11"


def test_pins_hold_numpy_and_pillow_per_python_and_fix_old_setuptools():
    for cell in compat.all_cells():
        reqs = cell.requirements
        if cell.torchvision.startswith("0.4."):  # imports PIL.PILLOW_VERSION
            assert (cell.numpy, cell.pillow) == ("1.21.6", "8.4.0"), cell.id
        elif cell.python == "3.7":  # the newest NumPy and Pillow with Python 3.7 wheels
            assert (cell.numpy, cell.pillow) == ("1.21.6", "9.5.0"), cell.id
        else:
            assert (cell.numpy, cell.pillow) == (compat.NUMPY, compat.PILLOW), cell.id
        assert f"numpy=={cell.numpy}" in reqs and f"pillow=={cell.pillow}" in reqs
        assert ("setuptools<70" in reqs) == cell.torch.startswith(("1.", "2.1."))


def test_every_cell_python_has_wheels_of_both_in_the_lock():
    torch = {t["version"]: t for t in compat.LOCK["torch"]}
    tv = {t["version"]: t for t in compat.LOCK["torchvision"]}
    for cell in compat.all_cells():
        assert cell.python in torch[cell.torch]["pythons"], cell.id
        assert cell.python in tv[cell.torchvision]["pythons"], cell.id
        assert tv[cell.torchvision]["torch"] == cell.torch, cell.id


def test_ids_parse_back_with_their_pins_and_unknown_ids_sort_last():
    for cell in (compat.DEFAULT[0], compat.DEFAULT[3]):
        assert compat.parse_id(cell.id) == cell
    assert compat.parse_id("py3.7-torch1.2.0-tv0.4.0").pillow == "8.4.0"
    assert compat.parse_id("nonsense") is None
    cell = compat.DEFAULT[3]
    assert compat.order(["zzz", cell.id, "py3.8-torch1.5.0-tv0.6.0"]) == [
        "py3.8-torch1.5.0-tv0.6.0", cell.id, "zzz"]
    # a cell on a Python the lock has no pins for gets the matrix's
    assert compat.parse_id("py3.99-torch9.9.9-tv9.9.9").numpy == compat.NUMPY


def test_exhaustive_has_the_newest_patch_of_every_torchvision_minor():
    versions = [c.torchvision for c in compat.EXHAUSTIVE]
    assert len(versions) == len(set(versions))
    minors = {v.rsplit(".", 1)[0] for v in versions}
    assert minors == {f"0.{n}" for n in range(4, 30)}
    assert "0.4.2" in versions and "0.8.2" in versions and "0.11.3" in versions
    assert compat.EXHAUSTIVE[-1] == compat.DEFAULT[-1]  # both end at the newest pair


def test_patches_hold_every_pair_from_the_oldest_supported_torch():
    ids = [c.id for c in compat.PATCHES]
    assert "py3.8-torch1.7.0-tv0.8.0" in ids and "py3.8-torch1.7.0-tv0.8.1" in ids
    assert all(compat._version(c.torch) >= (1, 2) for c in compat.PATCHES)
    assert {c.id for c in compat.DEFAULT + compat.EXHAUSTIVE} <= set(ids)


def test_a_lock_with_a_newer_release_adds_it_to_the_default_matrix():
    data = json.loads(json.dumps(compat.LOCK))
    data["cells"].append({"python": "3.12", "torch": "2.16.0", "torchvision": "0.30.0",
                          "numpy": "1.26.4", "pillow": "10.4.0", "requirements": []})
    cells, missing = compat.default_cells(data)
    assert missing == []
    assert cells[-1] == compat.Cell("3.12", "2.16.0", "0.30.0", "1.26.4", "10.4.0")
    # the previous newest (not a waypoint) makes way for it
    assert cells[:-1] == compat.DEFAULT[:-1]
    assert compat.exhaustive_cells(data)[-1].torchvision == "0.30.0"


def test_a_lock_made_before_the_newest_release_ends_at_the_previous_one():
    data = json.loads(json.dumps(compat.LOCK))
    data["cells"] = [c for c in data["cells"] if c["torch"] != "2.15.0"]
    cells, missing = compat.default_cells(data)
    assert missing == []
    assert cells[-1].id == "py3.10-torch2.14.1-tv0.29.1"
    assert "py3.11-torch2.15.0-tv0.29.2" not in [c.id for c in cells]


def test_waypoints_missing_from_the_lock_are_named():
    data = json.loads(json.dumps(compat.LOCK))
    data["cells"] = [c for c in data["cells"] if c["torch"] != "1.6.0"]
    cells, missing = compat.default_cells(data)
    assert missing == ["torch 1.6.0/torchvision 0.7.0"]
    assert "py3.8-torch1.6.0-tv0.7.0" not in [c.id for c in cells]


def test_an_unreadable_lock_is_one_line_naming_the_fix(tmp_path):
    bad = tmp_path / "matrix.lock.json"
    bad.write_text("{")
    for path in (bad, tmp_path / "missing.json"):
        try:
            compat.read_lock(path)
        except ValueError as exc:
            assert "nox -s lock" in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError("read_lock accepted " + str(path))
