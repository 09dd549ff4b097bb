"""benchmarks/logs.py: what uv's logs and cache, a nox log and a cell CSV say."""
from __future__ import annotations

import pytest

from benchmarks import logs
from _rngdrift.harness.matrix import compat
from _rngdrift.harness.cell import schema

OLD_ID = compat.DEFAULT[0].id

# --- timing rows


META = schema.cell_meta(run_id="bench", cell=OLD_ID, python="3.8", torch="1.5.0",
                        torchvision="0.6.0", numpy="1.24.4", pillow="10.4.0",
                        platform="linux", device="cpu")


def timing(scenario, value, kind="timing", metric="seconds"):
    """A row as schema.read_csv returns it (a Row, every field text)."""
    return schema.metric_row(META, scenario, "none", 1, metric, kind, value)


def test_family_seconds_sums_timing_rows_by_family():
    rows = [timing("augment.hflip", "0.5"), timing("augment.crop", "0.25"),
            timing("loader.workers", "2.0"), timing("augment.hflip", "0.5"),
            timing("augment.hflip", "9", kind="number", metric="seconds"),
            timing("augment.hflip", "ok", kind="text", metric="status"),
            timing("train.tiny", "")]
    assert logs.family_seconds(rows) == {"augment": 1.25, "loader": 2.0}


# --- what uv fetched


def test_selected_wheels_keeps_the_last_choice_per_package():
    log = "\n".join([
        "DEBUG Selecting: torch==1.5.0 [compatible] (torch-1.5.0-cp38-cp38-manylinux1_x86_64.whl)",
        "DEBUG Selecting: Pillow==10.4.0 [compatible] (pillow-10.4.0-cp38-cp38-manylinux_2_28_x86_64.whl)",
        "DEBUG Selecting: numpy==1.25.0 [compatible] (numpy-1.25.0-cp38-cp38-manylinux_2_17_x86_64.whl)",
        "DEBUG Selecting: numpy==1.24.4 [compatible] (numpy-1.24.4-cp38-cp38-manylinux_2_17_x86_64.whl)",
        "Would download 3 packages"])
    assert logs.selected_wheels(log) == [
        "numpy-1.24.4-cp38-cp38-manylinux_2_17_x86_64.whl",
        "pillow-10.4.0-cp38-cp38-manylinux_2_28_x86_64.whl",
        "torch-1.5.0-cp38-cp38-manylinux1_x86_64.whl"]


def test_downloaded_wheels_reads_uv_http_pointers(tmp_path):
    pkg = tmp_path / "wheels-v8" / "pypi" / "torch"
    pkg.mkdir(parents=True)
    url = ("https://files.pythonhosted.org/packages/2e/4a/ab/"
           "torch-1.10.0-cp38-cp38-manylinux1_x86_64.whl")
    (pkg / "1.10.0-cp38-cp38-manylinux1_x86_64.http").write_bytes(
        b"\x00\x10vMbO\x00Sha256@ab0c,torch-1.10.0-cp38-cp38-manylinux1_x86_64.whl\x00"
        + url.encode() + b"\x00\x01")
    (pkg / "1.10.2-cp38-cp38-manylinux1_x86_64.msgpack").write_bytes(b"metadata only")
    assert logs.downloaded_wheels(tmp_path) == {
        "torch-1.10.0-cp38-cp38-manylinux1_x86_64.whl": url}


def test_wheel_project_normalizes():
    assert logs.wheel_project("MarkupSafe-2.1.5-cp38-cp38-x.whl") == "markupsafe"
    assert logs.wheel_project("nvidia_cudnn_cu12-9.1-py3-none-x.whl") == "nvidia-cudnn-cu12"


# --- nox logs


NOX_LOG = """\
nox > Running session matrix(py3.8-torch1.5.0-tv0.6.0)
nox > Session matrix(py3.8-torch1.5.0-tv0.6.0) was successful in 10 seconds.
nox > Session matrix(py3.11-torch2.15.0-tv0.29.2) failed in 2 minutes.
nox > Session matrix(py3.8-torch1.6.0-tv0.7.0) was successful in a moment.
nox > Session report was successful in 3 seconds.
nox > Ran multiple sessions:
rc=1 wall=512s
"""


def test_parse_nox_log():
    parsed = logs.parse_nox_log(NOX_LOG)
    assert parsed["rc"] == 1 and parsed["wall"] == 512.0
    assert parsed["sessions"] == [
        ("matrix(py3.8-torch1.5.0-tv0.6.0)", "successful", 10.0),
        ("matrix(py3.11-torch2.15.0-tv0.29.2)", "failed", 120.0),
        ("matrix(py3.8-torch1.6.0-tv0.7.0)", "successful", 0.5),
        ("report", "successful", 3.0)]
    assert logs.session_cell("matrix(py3.8-torch1.5.0-tv0.6.0)") == "py3.8-torch1.5.0-tv0.6.0"
    assert logs.session_cell("report") is None


def test_parse_nox_log_unfinished_run_has_no_wall():
    assert logs.parse_nox_log(NOX_LOG.replace("rc=1 wall=512s\n", ""))["wall"] is None


@pytest.mark.parametrize("text,seconds", [("a second", 1.0), ("59 seconds", 59.0),
                                          ("a minute", 60.0), ("3 minutes", 180.0),
                                          ("an hour", 3600.0), ("soon", None), (None, None)])
def test_natural_seconds(text, seconds):
    assert logs.natural_seconds(text) == seconds
