"""Tiny version parsing and requirement checks (no ``packaging`` inside cells)."""
import re

_NUM = re.compile(r"^(\d+(?:\.\d+)*)")


def parse(version):
    """'1.5.0+cu101' -> (1, 5, 0); '2.0.0a0' -> (2, 0, 0). Unknown -> ()."""
    match = _NUM.match(str(version).strip())
    if not match:
        return ()
    return tuple(int(part) for part in match.group(1).split("."))


def _cmp(left, right):
    width = max(len(left), len(right))
    left = left + (0,) * (width - len(left))
    right = right + (0,) * (width - len(right))
    return (left > right) - (left < right)


_OPS = {
    ">=": lambda c: c >= 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    "<": lambda c: c < 0,
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
}


def satisfies(version, spec):
    """True when ``version`` meets every clause of ``spec`` (e.g. '>=0.8,<0.15')."""
    have = parse(version)
    for clause in str(spec).split(","):
        clause = clause.strip()
        if not clause:
            continue
        for op in (">=", "<=", "==", "!=", ">", "<"):
            if clause.startswith(op):
                want = parse(clause[len(op):])
                if not _OPS[op](_cmp(have, want)):
                    return False
                break
        else:
            raise ValueError("bad version clause %r in %r" % (clause, spec))
    return True


def normalize(name):
    """PEP 503: 'Pillow' -> 'pillow', 'pytorch_lightning' -> 'pytorch-lightning'."""
    return re.sub(r"[-_.]+", "-", str(name)).lower()


_DISTRIBUTIONS = {}


def distribution(name):
    """The installed version of distribution ``name``, or None (looked up once)."""
    key = normalize(name)
    if key not in _DISTRIBUTIONS:
        _DISTRIBUTIONS[key] = _lookup(key)
    return _DISTRIBUTIONS[key]


def _lookup(name):
    try:
        from importlib import metadata
    except ImportError:  # Python 3.7
        import pkg_resources
        try:
            return pkg_resources.get_distribution(name).version
        except pkg_resources.DistributionNotFound:
            return None
    for spelling in (name, name.replace("-", "_")):
        try:
            return metadata.version(spelling)
        except metadata.PackageNotFoundError:
            continue
    return None
