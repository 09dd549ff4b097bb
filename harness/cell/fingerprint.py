"""Fingerprints: sha256 of canonical bytes, so equal results hash equal everywhere.

Tensors and arrays hash as (dtype, shape, little-endian contiguous bytes); PIL
images as (mode, size, pixels); floats by their exact hex form. Nested lists,
tuples and dicts hash structurally. Only 16 hex digits are kept: enough to tell
results apart, short enough to read in a table.
"""
import hashlib

import numpy as np

DIGITS = 16


class Fingerprint(str):
    """A metric value that reports compare exactly (kind ``fingerprint``)."""


def _feed(hasher, obj):
    # Imported lazily: fingerprints of plain data must not need torch or PIL.
    try:
        import torch
    except ImportError:  # pragma: no cover - cells always have torch
        torch = None
    if torch is not None and isinstance(obj, torch.Tensor):
        tensor = obj.detach().cpu()
        if tensor.dtype in (torch.bfloat16,):
            tensor = tensor.float()
        if tensor.is_sparse:
            tensor = tensor.to_dense()
        _feed(hasher, tensor.contiguous().numpy())
        return
    if torch is not None and isinstance(obj, torch.Size):
        _feed(hasher, tuple(obj))
        return
    if isinstance(obj, np.ndarray):
        array = np.ascontiguousarray(obj)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        hasher.update(("A%s%r|" % (array.dtype.str.replace(">", "<"), array.shape)).encode())
        hasher.update(array.tobytes())
        return
    if isinstance(obj, np.generic):
        _feed(hasher, np.asarray(obj))
        return
    if hasattr(obj, "getdata") and hasattr(obj, "mode") and hasattr(obj, "size"):
        hasher.update(("I%s%r|" % (obj.mode, tuple(obj.size))).encode())
        _feed(hasher, np.asarray(obj))
        return
    if obj is None or isinstance(obj, bool):
        hasher.update(("N%r|" % (obj,)).encode())
    elif isinstance(obj, int):
        hasher.update(("i%d|" % obj).encode())
    elif isinstance(obj, float):
        hasher.update(("f%s|" % float(obj).hex()).encode())
    elif isinstance(obj, str):
        # surrogatepass: a lone surrogate (os.fsdecode of a non-UTF-8 name) hashes too;
        # every other string gives the same bytes as plain UTF-8.
        data = obj.encode("utf-8", "surrogatepass")
        hasher.update(("s%d|" % len(data)).encode())
        hasher.update(data)
    elif isinstance(obj, bytes):
        hasher.update(("b%d|" % len(obj)).encode())
        hasher.update(obj)
    elif isinstance(obj, (list, tuple)):
        hasher.update(("L%d|" % len(obj)).encode())
        for item in obj:
            _feed(hasher, item)
    elif isinstance(obj, dict):
        hasher.update(("D%d|" % len(obj)).encode())
        for key in sorted(obj, key=repr):
            _feed(hasher, key)
            _feed(hasher, obj[key])
    else:
        raise TypeError("cannot fingerprint %s" % type(obj).__name__)


def fingerprint(*objs):
    """Fingerprint of one or more objects (tensors, arrays, images, plain data)."""
    hasher = hashlib.sha256()
    _feed(hasher, list(objs))
    return Fingerprint(hasher.hexdigest()[:DIGITS])
