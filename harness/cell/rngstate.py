"""Snapshot and restore every global generator's state; tell which ones were drawn from."""
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


def _state(name):
    """A generator's state in a form that compares with == (copied, cheap)."""
    if name == "python":
        return random.getstate()
    if name == "numpy":
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        return (kind, keys.tobytes(), pos, has_gauss, cached)
    if name == "torch":
        return torch.get_rng_state().numpy().tobytes()
    return b"".join(s.cpu().numpy().tobytes() for s in torch.cuda.get_rng_state_all())


class Draws(object):
    """Which global generators a piece of code drew from.

    A generator is *drawn from* when its state moved between two checkpoints that
    bracket no seeding: seed calls (``tracing`` calls ``checkpoint`` before and
    ``rebase`` after each) and the end. So a scenario that reseeds torch before each
    image, as the pair idiom does, has not drawn from torch unless something did.
    """

    def __init__(self):
        self.generators = GENERATORS + (("cuda",) if _cuda() else ())
        self.base = dict((name, _state(name)) for name in self.generators)
        self.drew = set()

    def checkpoint(self, names=None):
        for name in names or self.generators:
            if name in self.base and name not in self.drew and _state(name) != self.base[name]:
                self.drew.add(name)

    def rebase(self, names=None):
        for name in names or self.generators:
            if name in self.base:
                self.base[name] = _state(name)

    def result(self):
        """{generator: 0/1} at the end."""
        self.checkpoint()
        return dict((name, int(name in self.drew)) for name in self.generators)
