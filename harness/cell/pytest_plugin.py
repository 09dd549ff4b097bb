"""The ``rngdrift_record`` fixture inside the cells, loaded by its private name
(``-p _rngdrift.harness.cell.pytest_plugin``): a team's own ``rngdrift`` package, if
they have one, stays theirs. Outside the cells the public ``rngdrift.pytest_plugin``
gives the same fixture."""
import pytest

from .sink import record


@pytest.fixture
def rngdrift_record():
    """``rngdrift_record(name, value)``: see ``rngdrift.record``."""
    return record
