"""Text for people: Markdown spans, tables and counts, shared by report, compare and bench.

Every value that comes from a CSV goes through ``code`` or ``text``, so a scenario
name or an error message can neither break a table nor inject markup.
"""
from __future__ import annotations


def code(value) -> str:
    """An inline code span; backticks and pipes cannot escape it."""
    text = " ".join(str(value).split()).replace("`", "'").replace("|", "\\|")
    return f"`{text}`" if text else ""


def text(value, limit: int = 160) -> str:
    """Plain text with Markdown and HTML specials escaped, on one line."""
    out = " ".join(str(value).split())
    if len(out) > limit:
        out = out[:limit - 1] + "…"
    for char in "\\`*_[]<>|#":
        out = out.replace(char, "\\" + char)
    return out


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def table(header: list[str], rows: list[list[str]], right=()) -> list[str]:
    """A Markdown table as lines; the columns numbered in ``right`` right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "".join("---:|" if i in right else "---|" for i in range(len(header)))]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
