"""NumPy: the legacy global RandomState and the Generator API next to it."""
import numpy as np

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario


@scenario("numpy.legacy_multinomial")
def legacy_multinomial(ctx):
    """np.random.multinomial and a weighted np.random.choice on the global state."""
    counts = np.random.multinomial(20, [0.2, 0.3, 0.5], size=8)
    picks = np.random.choice(5, size=16, p=[0.1, 0.2, 0.3, 0.2, 0.2])
    return {"values": fingerprint(counts, picks)}


@scenario("numpy.generator_integers")
def generator_integers(ctx):
    """default_rng three ways users write it: with a constant seed, with no seed
    (np.random.seed does not reach it), and seeded from the global state."""
    constant = np.random.default_rng(ctx.seed).integers(0, 1000, size=16)
    unseeded = np.random.default_rng().integers(0, 1000, size=16)
    derived = np.random.default_rng(np.random.randint(2 ** 31)).integers(0, 1000, size=16)
    return {"constant_seed": fingerprint(constant), "unseeded": fingerprint(unseeded),
            "from_global": fingerprint(derived)}
