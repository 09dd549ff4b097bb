"""rngdrift's helper for your own code: values the matrix should compare.

    import rngdrift

    rngdrift.record("val_loss", loss)          # returns ``loss`` unchanged

Under rngdrift (``--script``, ``--pytest``, ``--call``) each recorded value becomes
rows of the cell CSV, as a returned metric does: numbers are compared with a
tolerance; tensors, arrays and images are fingerprinted (with their shape and
dtype); lists, tuples and dicts are taken apart. The last value recorded under a
name wins. Anywhere else ``record`` does nothing, so a script that calls it runs
as before. Standard library only, Python 3.7+.
"""

__all__ = ["record", "active"]

# Set by the rngdrift cell while your code runs under it: a callable(name, value).
_sink = [None]


def record(name, value):
    """Record ``value`` under ``name`` for rngdrift's comparison; returns ``value``."""
    sink = _sink[0]
    if sink is not None:
        sink(name, value)
    return value


def active():
    """Whether this process runs under rngdrift (``record`` keeps values)."""
    return _sink[0] is not None
