"""Snapshot, restore and digest every global generator's state."""
import hashlib
import random

import numpy as np
import torch

GENERATORS = ("python", "numpy", "torch")


def _cuda():
    return torch.cuda.is_available()


def snapshot():
    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if _cuda():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state):
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def digests():
    """A short digest per generator: equal digests mean the state did not advance."""
    out = {}
    out["python"] = hashlib.sha256(repr(random.getstate()).encode()).hexdigest()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    out["numpy"] = hashlib.sha256(
        keys.tobytes() + repr((kind, pos, has_gauss, cached)).encode()).hexdigest()
    out["torch"] = hashlib.sha256(torch.get_rng_state().numpy().tobytes()).hexdigest()
    if _cuda():
        blob = b"".join(s.cpu().numpy().tobytes() for s in torch.cuda.get_rng_state_all())
        out["cuda"] = hashlib.sha256(blob).hexdigest()
    return out


def advanced(before, after):
    """{generator: 0/1} for every generator in ``before``."""
    return dict((name, int(before[name] != after.get(name))) for name in before)
