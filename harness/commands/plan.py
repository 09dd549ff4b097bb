"""``rngdrift plan [--cells SET] [the options after nox -s matrix --]``: which cells a run
would reuse from a previous one, and which it would run (``harness.runs.reuse``)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError
from ..matrix import compat, envs
from ..runs import rundirs, runoptions
from ..runs.reuse import plan, table


HELP = "say which cells would be reused from a previous run and which would run"


CELL_SETS = {"matrix": lambda: compat.DEFAULT, "exhaustive": lambda: compat.EXHAUSTIVE,
             "patches": lambda: compat.PATCHES}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cells", choices=tuple(CELL_SETS), default="matrix",
                        help="which session's cells (default: matrix, the default matrix)")
    parser.add_argument("--json", action="store_true", help="one JSON object per cell")
    runoptions.add_to(parser)


def run(args: argparse.Namespace) -> int:
    runoptions.resolve_user_paths(args, Path.cwd())
    if args.reuse_from and not rundirs.resolve(args.reuse_from).is_dir():
        raise UserError(f"--reuse-from {args.reuse_from}: no such run directory")
    decisions = plan(envs.varied(CELL_SETS[args.cells](), args.vary), args)
    if args.json:
        print(json.dumps([d.to_json() for d in decisions], indent=1))
    else:
        print(table(decisions))
    return 0
