from harness import compat


def test_default_matrix_brackets_the_history():
    ids = [c.id for c in compat.DEFAULT]
    assert ids[0] == "py3.8-torch1.5.0-tv0.6.0"
    assert ids[-1] == "py3.11-torch2.15.0-tv0.29.2"
    for pair in ["torch1.6.0-tv0.7.0", "torch2.0.1-tv0.15.2", "torch2.12.1-tv0.27.1"]:
        assert any(pair in i for i in ids), pair
    assert ids == compat.order(reversed(ids))


def test_python_is_the_oldest_supported_from_3_8():
    assert compat.python_for("1.5.0") == "3.8"
    assert compat.python_for("2.6.0") == "3.9"
    assert compat.python_for("2.11.0") == "3.10"
    assert compat.python_for("2.15.0") == "3.11"


def test_pins_hold_numpy_and_pillow_and_fix_old_setuptools():
    for cell in compat.all_cells():
        reqs = cell.requirements
        assert f"numpy=={compat.NUMPY}" in reqs and f"pillow=={compat.PILLOW}" in reqs
        assert ("setuptools<70" in reqs) == cell.torch.startswith("1.")


def test_every_cell_python_has_torch_wheels():
    for cell in compat.all_cells():
        assert cell.python in compat.TORCH_PYTHONS[cell.torch], cell.id


def test_ids_parse_back_and_unknown_ids_sort_last():
    cell = compat.DEFAULT[3]
    assert compat.parse_id(cell.id) == cell
    assert compat.parse_id("nonsense") is None
    assert compat.order(["zzz", cell.id, "py3.8-torch1.5.0-tv0.6.0"]) == [
        "py3.8-torch1.5.0-tv0.6.0", cell.id, "zzz"]


def test_exhaustive_has_every_torchvision_minor():
    versions = [c.torchvision for c in compat.EXHAUSTIVE]
    assert len(versions) == len(set(versions))
    minors = {v.rsplit(".", 1)[0] for v in versions}
    assert minors == {f"0.{n}" for n in range(5, 30)}
    assert compat.EXHAUSTIVE[-1] == compat.DEFAULT[-1]  # both end at the newest pair
