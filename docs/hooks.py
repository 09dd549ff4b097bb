"""MkDocs hook: the command and option reference pages are generated from the parsers
themselves, so the docs cannot drift from the code.

A page holds a marker line and the hook puts the generated Markdown in its place:

    <!-- generated: commands -->   every `rngdrift` subcommand's --help
    <!-- generated: options -->    the options after `nox -s matrix --` (and `rngdrift run`)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _importable() -> None:
    """The checkout's rngdrift (mkdocs restores sys.path after loading a hook module)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _help(parser: argparse.ArgumentParser) -> str:
    # a fixed width, so the page does not depend on the terminal that built it
    import os
    os.environ["COLUMNS"] = "100"
    return parser.format_help()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps subparsers only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands() -> str:
    _importable()
    from _rngdrift.harness import cli
    top = cli.parser()
    subs = _subparsers(top)
    lines = ["| command | what it does |", "|---|---|"]
    lines += [f"| [`rngdrift {name}`](#rngdrift-{name}) | {cli.module(name).HELP} |"
              for name in cli.COMMANDS]
    for name in cli.COMMANDS:
        lines += ["", f"## rngdrift {name}", "", "```text", _help(subs[name]).rstrip(), "```"]
    return "\n".join(lines)


def options() -> str:
    _importable()
    from _rngdrift.harness.runs import runoptions
    parser = runoptions.add_to(argparse.ArgumentParser(prog="nox -s matrix --", add_help=False))
    return "\n".join(["```text", _help(parser).rstrip(), "```"])


GENERATED = {"<!-- generated: commands -->": commands, "<!-- generated: options -->": options}


def on_page_markdown(markdown: str, page, config, files) -> str:
    for marker, make in GENERATED.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
