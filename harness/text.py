"""Text for people: Markdown spans, tables and counts, shared by report, compare and bench.

Every value that comes from a CSV goes through ``code`` or ``text``, so a scenario
name or an error message can neither break a table nor inject markup.
"""
from __future__ import annotations

from .cell.schema import FORMULA_START


def code(value) -> str:
    """An inline code span; backticks and pipes cannot escape it."""
    text = " ".join(str(value).split()).replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text else ""


def text(value, limit: int = 160) -> str:
    """Plain text on one line, safe in Markdown and in a table cell: what could start
    markup (``<``, ``*``, ``[``, a backtick) or end a cell (``|``) is neutralised, and
    nothing else, so the text still reads well in a terminal."""
    out = " ".join(str(value).split())
    if len(out) > limit:
        out = out[:limit - 1] + "…"
    return (out.replace("<", "&lt;").replace("|", "\\|").replace("`", "'")
            .replace("*", "\\*").replace("[", "\\["))


def wrap(line: str, width: int = 110, indent: str = "") -> list[str]:
    """A long line of prose as lines of at most ``width`` (Markdown joins them again)."""
    import textwrap
    return textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [""]


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def table(header: list[str], rows: list[list[str]], right=()) -> list[str]:
    """A Markdown table as lines; the columns numbered in ``right`` right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "".join("---:|" if i in right else "---|" for i in range(len(header)))]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def is_number(value: str) -> bool:
    """Whether ``value`` reads as a float ('1e-3', 'nan' and 'inf' included)."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text, never runs as a formula (OWASP's
    advice: a leading ' before =, +, -, @, tab or CR). Numbers and the lone '-' of a
    cell that was not measured stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and value != "-" \
            and not is_number(value):
        return "'" + value
    return value
