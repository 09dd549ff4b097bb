"""The ``rngdrift`` command: parse, dispatch to ``harness.commands``, report errors
(``errors.guarded``: a UserError is one line and exit 2). ``python -m rngdrift`` is the
same command from a checkout."""
from __future__ import annotations

import argparse
import importlib
import sys

from . import errors

# name -> module under harness.commands, imported only when needed: `rngdrift explain`
# answers in well under a second because it never imports pandas (report does).
COMMANDS = ("check", "run", "report", "compare", "explain", "atlas", "plan", "baseline",
            "platform", "ci")
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
  rngdrift explain --from 2.3.1 --to 2.5.1
        the same from the atlas shipped with rngdrift (no run needed)

Results go to rngdrift-results/ in the directory you start from.
"""
EPILOG = "`rngdrift COMMAND --help` for each command's options."


def module(name: str):
    return importlib.import_module(f"{__package__}.commands.{name}")


def parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or of ``only`` (the one being run: the others'
    modules are not imported)."""
    top = errors.ArgumentParser(prog="rngdrift", description=DESCRIPTION, epilog=EPILOG,
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
    name = argv[0] if argv and argv[0] in COMMANDS else None

    def run():  # a bad option is one line and exit 2, as any other UserError
        args = parser(name).parse_args(argv)
        return args.command_run(args)
    return errors.guarded(run, "rngdrift" + (f" {name}" if name else ""))
