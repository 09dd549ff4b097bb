"""The ``rngdrift`` command: parse, dispatch to ``harness.commands``, report errors.

A ``UserError`` (and an ``OSError`` such as a full disk) is caught here and nowhere
else: one line on stderr, exit status 2. ``python -m rngdrift`` is the same command
from a checkout.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .errors import EXIT_USER_ERROR, UserError

# name -> module under harness.commands, imported only when needed: `rngdrift explain`
# answers in well under a second because it never imports pandas (report does).
COMMANDS = ("report", "compare", "baseline", "ci", "plan", "platform", "atlas", "explain")
DESCRIPTION = """\
rngdrift finds where and why the random results of PyTorch and torchvision code change
between releases: which results, at which upgrade, why (the upstream change and the
draws that moved), and what to add to your seeding.

  rngdrift report RUN --from 1.10 --to 2.6      what that upgrade changes, from a run
  rngdrift explain --from 2.3.1 --to 2.5.1      the same from the atlas shipped with rngdrift
  rngdrift compare BASELINE CANDIDATE           what changed between two runs

A run is made by the matrix: `nox -s matrix` in a checkout of rngdrift.
"""


def module(name: str):
    return importlib.import_module(f"{__package__}.commands.{name}")


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``only`` (the one being run: the others'
    modules are not imported)."""
    top = argparse.ArgumentParser(prog="rngdrift", description=DESCRIPTION,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS if only is None else (only,):
        module_ = module(name)
        sub = commands.add_parser(name, help=module_.HELP,
                                  description=getattr(module_, "DESCRIPTION", module_.__doc__),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module_.add_arguments(sub)
        sub.set_defaults(command_run=module_.run)
    return top


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    try:
        return args.command_run(args)
    except UserError as exc:
        print(f"rngdrift {args.command}: {exc}", file=sys.stderr)
    except OSError as exc:  # a full disk, a read-only or vanished directory: not a crash
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rngdrift {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
    return EXIT_USER_ERROR
