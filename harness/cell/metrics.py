"""Metrics from whatever a user's code returns or records, without a line of glue.

    auto_metrics(value)                  {"value": 0.5} for a bare number
    auto_metrics({"loss": t, "out": a})  {"loss": 0.25, "out": Fingerprint, "out.shape": "2x3",
                                          "out.dtype": "torch.float32"}
    Recorder()                           collects ``rngdrift.record(name, value, goal=None)``
    Metrics(...)                         metrics by name, with ``.goals`` {metric: up/down}

Numbers (Python, NumPy and 0-dim tensors) stay numbers (compared with a
tolerance; integers and bools are counts); tensors and arrays are fingerprinted,
with their shape and dtype as text rows; PIL images likewise with size and mode;
strings are text. Dicts are taken apart by key (``model.fc.weight``) up to
``MAX_KEYS`` keys, lists and tuples by index (``value[0]``) up to ``MAX_ITEMS``
items; a larger one is fingerprinted whole, with its length, and so is a whole value
that would give more than ``MAX_METRICS`` metrics. The result feeds
``worker.encode_metrics``; goals the code declared (``record(..., goal="up")``,
``--goal``) ride along on it as ``Metrics.goals`` and become ``goal.<metric>`` rows.
"""
from collections import OrderedDict

from .fingerprint import Fingerprint, fingerprint
from .schema import GOALS
from .userargs import metric_name  # noqa: F401  (metrics.metric_name: its old home)

MAX_ITEMS = 16
MAX_KEYS = 1024      # a model's state_dict (ResNet-50: 320 tensors) is taken apart
MAX_METRICS = 4096   # 300k keys would be 3M rows in a cell CSV
MAX_TEXT = 200


class _TooMany(Exception):
    """More than MAX_METRICS metrics from one value: it is fingerprinted whole instead."""


def _scalar(value):
    """A plain Python number/bool for NumPy scalars and one-value 0-dim tensors/arrays,
    else None."""
    import numpy as np
    import torch
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return None


def _is_image(value):
    return hasattr(value, "getdata") and hasattr(value, "mode") and hasattr(value, "size")


def _walk(value, path, out, limit=MAX_METRICS):
    import numpy as np
    import torch
    scalar = None if isinstance(value, dict) else _scalar(value)
    if scalar is not None:
        value = scalar
    if value is None:
        out[metric_name(path)] = "None"
    elif isinstance(value, (bool, int, float)):
        out[metric_name(path)] = value
    elif isinstance(value, str):
        out[metric_name(path)] = value if len(value) <= MAX_TEXT else fingerprint(value)
    elif isinstance(value, (torch.Tensor, np.ndarray)):
        out[metric_name(path)] = fingerprint(value)
        out[metric_name(path + ".shape")] = "x".join(str(n) for n in value.shape) or "scalar"
        out[metric_name(path + ".dtype")] = str(value.dtype)
    elif _is_image(value):
        out[metric_name(path)] = fingerprint(value)
        out[metric_name(path + ".size")] = "%dx%d" % tuple(value.size)
        out[metric_name(path + ".mode")] = str(value.mode)
    elif len(out) > limit and isinstance(value, (dict, list, tuple)):
        raise _TooMany()
    elif isinstance(value, dict) and len(value) > MAX_KEYS:
        _whole(value, path or "value", out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, "%s.%s" % (path, key) if path else str(key), out, limit)
    elif isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            out[metric_name(path)] = fingerprint(list(value))
            out[metric_name(path + ".len")] = len(value)
        else:
            for i, item in enumerate(value):
                _walk(item, "%s[%d]" % (path, i), out, limit)
    else:
        try:
            out[metric_name(path)] = fingerprint(value)
        except TypeError:
            raise TypeError("%s: cannot make a metric of a %s (return numbers, tensors, "
                            "arrays, images, or lists/tuples/dicts of them)"
                            % (path, type(value).__name__))


def _whole(value, path, out):
    out[metric_name(path)] = fingerprint(value)
    out[metric_name(path + ".len")] = len(value)


def _walk_capped(value, path, out):
    """_walk into ``out``, or ``value`` fingerprinted whole where it would take ``out``
    past MAX_METRICS."""
    mine = OrderedDict()
    try:
        _walk(value, path, mine, MAX_METRICS - len(out))
    except _TooMany:
        mine = OrderedDict()
        _whole(value, path, mine)
    out.update(mine)


def auto_metrics(value, name="value"):
    """{metric name: number, text or Fingerprint} from ``value`` (see the module doc).
    A dict at the top is taken apart without a prefix."""
    out = OrderedDict()
    if isinstance(value, dict) and len(value) <= MAX_KEYS:
        for key, item in value.items():
            _walk_capped(item, str(key), out)
    else:
        _walk_capped(value, name, out)
    return out


class Metrics(OrderedDict):
    """Metrics by name, and ``goals``: {metric: "up" or "down"} the code declared for some
    of them. Made from another Metrics, it keeps that one's goals."""

    def __init__(self, *args, **kwargs):
        OrderedDict.__init__(self, *args, **kwargs)
        self.goals = dict(getattr(args[0], "goals", None) or {}) if args else {}


def parts(found, name):
    """The metrics of ``found`` that ``name`` made: itself, or its parts (``name.key``,
    ``name[0]``) when a dict or list was recorded under it."""
    return [k for k in found if k == name or k.startswith(name + ".") or k.startswith(name + "[")]


def numeric(value):
    return isinstance(value, (bool, int, float)) and not isinstance(value, Fingerprint)


def check_goal(goal, where):
    if goal is not None and goal not in GOALS:
        raise ValueError("%s: goal must be 'up' or 'down', not %r" % (where, goal))


class Recorder(object):
    """The sink behind ``rngdrift.record``: values are turned into metrics when
    recorded (a tensor updated in place later does not change what was recorded).
    The last value recorded under a name wins; a goal, once given, stays with the
    name's numbers until another goal is given."""

    def __init__(self):
        self.metrics = Metrics()

    def record(self, name, value, goal=None):
        if not isinstance(name, str):
            raise TypeError("rngdrift.record: the name must be a string, not %s"
                            % type(name).__name__)
        check_goal(goal, "rngdrift.record(%r)" % name)
        before = parts(self.metrics, name)
        kept = set(self.metrics.goals.get(k) for k in before) - set([None])
        for key in before:
            del self.metrics[key]
            self.metrics.goals.pop(key, None)
        _walk_capped(value, name, self.metrics)
        goal = goal or (kept.pop() if len(kept) == 1 else None)
        if goal is None:
            return
        numbers = [k for k in parts(self.metrics, name) if numeric(self.metrics[k])]
        if not numbers:
            raise ValueError("rngdrift.record(%r, ..., goal=%r): a goal needs a number, and "
                             "%s is none" % (name, goal, type(value).__name__))
        for key in numbers:
            self.metrics.goals[key] = goal

    def encodable(self):
        """The metrics as worker.encode_metrics takes them, JSON-safe (fingerprints
        marked as such), then their goals."""
        return ([[k, "fingerprint" if isinstance(v, Fingerprint) else "value", v]
                 for k, v in self.metrics.items()]
                + [[k, "goal", direction] for k, direction in sorted(self.metrics.goals.items())])


def decode(items):
    """Recorder.encodable() output (after a trip through JSON) back into Metrics."""
    out = Metrics()
    for k, tag, v in items:
        if tag == "goal":
            out.goals[k] = v
        else:
            out[k] = Fingerprint(v) if tag == "fingerprint" else v
    return out
