"""``rngdrift``: the host side's one command.

    rngdrift report [RUN]                 merge a run and write its tables and reports
    rngdrift compare BASELINE CANDIDATE   what changed (exit 1 when something did)
    rngdrift baseline RUN                 make a run the committed baseline
    rngdrift ci matrix|plan|reuse|holes   glue between nox and a CI's job matrix
    rngdrift plan --reuse-from RUN        which cells a run would reuse, which it would run
    rngdrift platform BASE CAND           which results depend on the CPU class

Each subcommand is a module with ``add_arguments(parser)`` and ``run(args)``,
callable from Python too. A ``UserError`` is caught here and nowhere else: one
line on stderr, exit status 2. ``python -m harness ...`` is the same command
without installing rngdrift.
"""
from __future__ import annotations

import argparse
import sys

from harness import baseline, ci, compare, platforms, report, reuse
from harness.errors import EXIT_USER_ERROR, UserError

COMMANDS = {"report": report, "compare": compare, "baseline": baseline, "ci": ci,
            "plan": reuse, "platform": platforms}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rngdrift", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        sub = commands.add_parser(name, help=module.HELP, description=module.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(command_run=module.run)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.command_run(args)
    except UserError as exc:
        print(f"rngdrift {args.command}: {exc}", file=sys.stderr)
    except OSError as exc:  # a full disk, a read-only or vanished directory: not a crash
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rngdrift {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
    return EXIT_USER_ERROR
