"""``rngdrift explain --from 2.3.1 --to 2.5.1 [--api NAME]``: what an upgrade changes in
random streams, answered from the atlas data shipped with rngdrift: offline, without a
run, a cell or pandas. The findings are those ``rngdrift report RUN --from --to`` prints
for the run the data was made from (``rngdrift atlas RUN --ship``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..atlas import answers

HELP = "what an upgrade changes, from the atlas shipped with rngdrift (offline, no cell)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="old", required=True, metavar="VERSION",
                        help="the torch (or torchvision: tv0.18) version you are on, or a cell id")
    parser.add_argument("--to", dest="new", required=True, metavar="VERSION",
                        help="the version you upgrade to")
    parser.add_argument("--api", metavar="NAME",
                        help="only the findings touching this random API (torch.multinomial, "
                             "RandomResizedCrop, dropout, 'DataLoader worker seeding' …)")
    parser.add_argument("--data", type=Path, default=answers.DATA, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    data = answers.load(args.data)
    old = answers.resolve(data, args.old, "--from")
    new = answers.resolve(data, args.new, "--to")
    print(answers.answer(data, old, new, args.api), end="")
    return 0
