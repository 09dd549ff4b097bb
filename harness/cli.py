"""The ``rngdrift`` command: parse, dispatch to ``harness.commands``, report errors.

A ``UserError`` (and an ``OSError`` such as a full disk) is caught here and nowhere
else: one line on stderr, exit status 2. ``python -m rngdrift`` is the same command
from a checkout.
"""
from __future__ import annotations

import argparse
import sys

from .commands import baseline, ci, compare, plan, platform, report
from .errors import EXIT_USER_ERROR, UserError

COMMANDS = {"report": report, "compare": compare, "baseline": baseline, "ci": ci,
            "plan": plan, "platform": platform}
DESCRIPTION = """\
rngdrift finds where and why the random results of PyTorch and torchvision code change
between releases: which results, at which upgrade, why (the upstream change and the
draws that moved), and what to add to your seeding.

  rngdrift report RUN --from 1.10 --to 2.6      what that upgrade changes, from a run
  rngdrift compare BASELINE CANDIDATE           what changed between two runs

A run is made by the matrix: `nox -s matrix` in a checkout of rngdrift.
"""


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rngdrift", description=DESCRIPTION,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        sub = commands.add_parser(name, help=module.HELP,
                                  description=getattr(module, "DESCRIPTION", module.__doc__),
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
