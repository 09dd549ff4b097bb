"""rngdrift's helper for your own code: values the matrix should compare.

    import rngdrift

    rngdrift.record("val_loss", loss)          # returns ``loss`` unchanged
    rngdrift.record("accuracy", acc, goal="up")  # higher is right: a drop is *broken*

Under rngdrift (``--script``, ``--pytest``, ``--call``) each recorded value becomes
rows of the cell CSV, as a returned metric does: numbers are compared with a
tolerance; tensors, arrays and images are fingerprinted (with their shape and
dtype); lists, tuples and dicts are taken apart. The last value recorded under a
name wins. ``goal="up"`` or ``"down"`` says the value measures correctness and which
way is good (a ``goal.<name>`` row), as ``--goal NAME=up`` does from the command line.
Anywhere else ``record`` does nothing, so a script that calls it runs as before.
Standard library only, Python 3.7+.

For your own scenario files (``--scenarios my_checks.py``)::

    from rngdrift import NotApplicable, fingerprint, scenario

    @scenario("my.flip", torchvision=">=0.8", goals={"pair_consistency": "up"})
    def flip(ctx):
        ...

These three come from rngdrift's private package (``_rngdrift``) when first used, so
``import rngdrift`` stays cheap and needs neither torch nor the cell side.
"""

__all__ = ["record", "active", "scenario", "NotApplicable", "fingerprint", "__version__"]

_FROM_CELL = {"scenario": "registry", "NotApplicable": "registry", "fingerprint": "fingerprint"}


def __getattr__(name):
    """``scenario``, ``NotApplicable`` and ``fingerprint``, imported on first use."""
    if name in _FROM_CELL:
        import importlib
        module = importlib.import_module("_rngdrift.harness.cell." + _FROM_CELL[name])
        return getattr(module, name)
    if name == "__version__":
        import _rngdrift
        return _rngdrift.__version__
    raise AttributeError("module 'rngdrift' has no attribute %r" % name)

def _sink():
    # Set by the rngdrift cell, under its private name, while your code runs under it
    # (the cell never imports this package: a project's own `rngdrift` may stand there).
    from _rngdrift.harness.cell import sink
    return sink


def record(name, value, goal=None):
    """Record ``value`` under ``name`` for rngdrift's comparison; returns ``value``.
    ``goal``: "up" or "down" when ``value`` measures correctness (which way is good)."""
    return _sink().record(name, value, goal)


def active():
    """Whether this process runs under rngdrift (``record`` keeps values)."""
    return _sink().current() is not None
