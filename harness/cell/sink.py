"""Where ``rngdrift.record`` sends values while the cell runs a user's code.

The cell sets the sink here, under rngdrift's private name, and the public
``rngdrift.record`` reads it from here: a team whose own package is called
``rngdrift`` (their folder comes first on sys.path in the cell) imports theirs, and
the cell never imports ``rngdrift`` by that name. Standard library only.
"""

_current = [None]


def receive(fn):
    """Send recorded values to ``fn(name, value[, goal])`` from now on (None: drop them)."""
    _current[0] = fn


def current():
    """The callable recorded values go to, or None outside a user's code under rngdrift."""
    return _current[0]


def record(name, value, goal=None):
    """``rngdrift.record``: hand ``value`` (and its goal, "up" or "down", when given) to
    the sink, if any; returns ``value``."""
    if goal is not None and goal not in ("up", "down"):
        raise ValueError("rngdrift.record(%r): goal must be 'up' or 'down', not %r"
                         % (name, goal))
    fn = _current[0]
    if fn is not None:
        if goal is None:
            fn(name, value)
        else:
            fn(name, value, goal)
    return value
