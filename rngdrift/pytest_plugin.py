"""The ``rngdrift_record`` fixture, in the spirit of pytest-regressions' fixtures::

    def test_training_converges(rngdrift_record):
        loss = train(epochs=2)
        rngdrift_record("loss", loss)       # a row in every cell under rngdrift
        assert loss < 0.5

Outside rngdrift it records nothing. ``pip install`` of rngdrift registers this
plugin with pytest (entry point ``pytest11``); in the cells rngdrift loads it with
``-p rngdrift.pytest_plugin``.
"""
import pytest

from rngdrift import record


@pytest.fixture
def rngdrift_record():
    """``rngdrift_record(name, value)``: see ``rngdrift.record``."""
    return record
