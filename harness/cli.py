"""The ``rngdrift`` command: parse, dispatch to ``harness.commands``, report errors
(``errors.guarded``: a UserError is one line and exit 2). ``python -m rngdrift`` is the
same command from a checkout."""
from __future__ import annotations

import argparse
import sys

from . import errors
from .commands import baseline, check, ci, compare, plan, platform, report, run

COMMANDS = {"check": check, "run": run, "report": report, "compare": compare,
            "plan": plan, "baseline": baseline, "platform": platform, "ci": ci}
DESCRIPTION = """\
rngdrift tells you which random results of your PyTorch/torchvision code change when
you upgrade, why (the upstream change and the random draws that moved) and what to
add to your seeding.

  rngdrift check --from HEAD~1 --to HEAD --pytest tests/
        your tests in your environment before and after a dependency bump (a git ref,
        a requirements file, or pins like "torch==2.4.1 torchvision==0.19.1")
  rngdrift run --cells py3.8-torch1.5.0-tv0.6.0 --call check.py:f
        rngdrift's matrix of torch/torchvision releases, with its scenarios or your code
  rngdrift report RUN --from 1.10 --to 2.6
        what that upgrade changes, from a run's results

Results go to rngdrift-results/ in the directory you start from.
"""
EPILOG = "`rngdrift COMMAND --help` for each command's options."


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="rngdrift", description=DESCRIPTION, epilog=EPILOG,
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
    return errors.guarded(lambda: args.command_run(args), f"rngdrift {args.command}")
