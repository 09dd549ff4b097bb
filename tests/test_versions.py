import pytest

from _rngdrift.harness.cell import versions


@pytest.mark.parametrize("text, parsed", [
    ("1.5.0", (1, 5, 0)), ("1.5.0+cu101", (1, 5, 0)), ("2.0.0a0", (2, 0, 0)),
    ("0.29.2", (0, 29, 2)), ("garbage", ()),
])
def test_parse(text, parsed):
    assert versions.parse(text) == parsed


@pytest.mark.parametrize("version, spec, ok", [
    ("0.6.0", ">=0.7", False), ("0.7.0", ">=0.7", True), ("0.7", ">=0.7.0", True),
    ("0.15.2", ">=0.8,<0.15", False), ("0.14.1", ">=0.8,<0.15", True),
    ("1.10.0", ">1.9", True), ("1.9.0", "==1.9", True), ("1.9.1", "!=1.9.1", False),
    ("2.15.0+cpu", "<=2.15", True),
])
def test_satisfies(version, spec, ok):
    assert versions.satisfies(version, spec) is ok


def test_bad_clause_is_an_error():
    with pytest.raises(ValueError, match="bad version clause"):
        versions.satisfies("1.0", "~1.0")
