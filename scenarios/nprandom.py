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


@scenario("numpy.seed_meaning")
def seed_meaning(ctx):
    """What one integer seed gives under each API (NEP 19): the legacy RandomState
    (MT19937 seeded directly), default_rng (PCG64 through SeedSequence) and
    Generator(MT19937(seed)), which is not RandomState(seed) either."""
    seed = ctx.seed
    legacy = np.random.RandomState(seed).random_sample(8)
    if not hasattr(np.random, "default_rng"):
        return {"legacy": fingerprint(legacy)}  # NumPy < 1.17: no Generator yet
    generator = np.random.default_rng(seed).random(8)
    mt19937 = np.random.Generator(np.random.MT19937(seed)).random(8)
    return {"legacy": fingerprint(legacy), "generator": fingerprint(generator),
            "generator_mt19937": fingerprint(mt19937),
            "legacy_equals_mt19937": bool(np.array_equal(legacy, mt19937))}


# Generator streams NumPy changed on purpose (NEP 19 lets it; RandomState's stay frozen).

@scenario("numpy.generator_dirichlet", numpy=">=1.17")
def generator_dirichlet(ctx):
    """dirichlet() with all alpha below 0.1 (another algorithm from 1.19, gh-14924)."""
    rng = np.random.default_rng(ctx.seed)
    return {"values": fingerprint(rng.dirichlet([0.05, 0.08, 0.02], size=16))}


@scenario("numpy.generator_geometric", numpy=">=1.17")
def generator_geometric(ctx):
    """geometric() and rayleigh() (from the Ziggurat exponential from 1.21, gh-18666)."""
    rng = np.random.default_rng(ctx.seed)
    return {"values": fingerprint(rng.geometric(0.3, size=32), rng.rayleigh(1.0, size=32))}

