"""``rngdrift plan [--cells SET] [the options of rngdrift run]``: which cells a run would
reuse from a previous one, and which it would run (``harness.runs.reuse``)."""
from __future__ import annotations

import argparse
import json

from ..errors import UserError
from ..matrix import envs
from ..runs import cellsets, rundirs, runoptions
from ..runs.reuse import plan, table


HELP = "say which cells a run would reuse from a previous one and which it would run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cells", choices=cellsets.NAMES, default=cellsets.DEFAULT,
                        help="which cell set (default: %(default)s, the default matrix)")
    parser.add_argument("--json", action="store_true", help="one JSON object per cell")
    runoptions.add_to(parser)


def run(args: argparse.Namespace) -> int:
    opts = runoptions.from_namespace(args, "plan")
    if opts.reuse_from and not rundirs.resolve(opts.reuse_from, opts.results).is_dir():
        raise UserError(f"--reuse-from {opts.reuse_from}: no such run directory")
    decisions = plan(envs.varied(cellsets.cells(args.cells), opts.vary), opts)
    if args.json:
        print(json.dumps([d.to_json() for d in decisions], indent=1))
    else:
        print(table(decisions))
    return 0
