"""harness.cell.limits: memory sizes and the default limit per child."""
import pytest

from _rngdrift.harness.cell import limits

@pytest.mark.parametrize("text, expected", [
    ("8G", 8 << 30), ("512m", 512 << 20), ("1.5GiB", 3 << 29), ("1048576", 1 << 20),
    ("none", None), ("0", None), ("off", None)])
def test_parse_size(text, expected):
    assert limits.parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "8X", "-1G", ""])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="use a number with K, M, G or T"):
        limits.parse_size(text)


def test_default_memory_limit_leaves_room_for_every_job_and_the_host():
    assert limits.default_memory_limit(2, total=24 << 30) == 8 << 30
    assert limits.default_memory_limit(0, total=16 << 30) == 8 << 30
    assert limits.default_memory_limit(4, total=8 << 30) == 4 << 30  # the floor CUDA needs
    assert limits.default_memory_limit(2, total=2 << 30) == 2 << 30  # never above RAM
    assert limits.default_memory_limit(2, total=0) is None
