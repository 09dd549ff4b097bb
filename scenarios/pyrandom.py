"""Python's ``random`` and hashing: old idioms whose behaviour moved with Python."""
import random
import warnings

from ..harness.cell.fingerprint import fingerprint
from ..harness.cell.registry import scenario

WORDS = ("cat", "dog", "owl", "eel", "yak", "emu", "ant", "bee", "cod", "elk")


@scenario("python.tuple_seed")
def tuple_seed(ctx):
    """random.seed((seed, "train")) as old code wrote it.

    Python < 3.11 hashes the tuple, and the hash of a str depends on
    PYTHONHASHSEED, so only ``full`` repeats; 3.9 and 3.10 warn; 3.11 raises
    TypeError: old code that seeds this way crashes there, and the scenario does
    too (an error row, the report's "now fails"), as the user's code would.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        random.seed((ctx.seed, "train"))
    warned = any(issubclass(w.category, DeprecationWarning) for w in caught)
    return {"values": fingerprint([random.random() for _ in range(8)]),
            "deprecation_warning": warned}


@scenario("python.set_order")
def set_order(ctx):
    """A list built from a set of strings, then shuffled: the set's order follows
    the string hashes, so only a fixed PYTHONHASHSEED (``full``) repeats."""
    items = list(set(WORDS))
    before = list(items)
    random.shuffle(items)
    return {"set_order": fingerprint(before), "order": fingerprint(items)}
