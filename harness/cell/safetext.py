"""Text that is safe to write anywhere rngdrift writes: a CSV, a terminal, a report.

    visible("bad \\udcff")      'bad \\\\udcff'     (a lone surrogate, as os.fsdecode makes)
    visible("a\\x1b[31mred")    'a\\\\x1b[31mred'   (an escape sequence, shown not obeyed)
    visible("\\u202eevil")      '\\\\u202eevil'     (a bidi override, shown not obeyed)

Every character that is not printable (control and format characters, line and
paragraph separators, lone surrogates, unassigned and private-use code points) is
replaced by its Python escape, so the text keeps all it said, encodes as UTF-8, stays
on one line and cannot reorder, hide or colour what comes after it. Spaces of every
kind (``\\u00a0`` ...) stay as they are. Used for every text a cell writes from user
code (details, text values, metric names) and, on the host, for every text value read
back from a CSV.
"""
import unicodedata


def _keep(char):
    return char.isprintable() or unicodedata.category(char) == "Zs"


def visible(text):
    """``text`` with each non-printable character replaced by its escape (see above)."""
    if text.isprintable():
        return text
    return "".join(c if _keep(c) else c.encode("unicode_escape").decode("ascii") for c in text)
