"""``rngdrift baseline RUN``: make a run the committed baseline (``results/baseline/``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..results.baseline import promote
from ..runs import rundirs


HELP = "make a run the committed baseline (results/baseline/)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default="latest", help="run directory or run id")
    parser.add_argument("--allow-holes", action="store_true",
                        help="promote even when some cells have no results")
    parser.add_argument("--to", type=Path, default=rundirs.RESULTS / "baseline",
                        help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    written = promote(rundirs.resolve(args.run), args.to, args.allow_holes)
    print(f"rngdrift baseline: {args.to}: {len(written)} files from {rundirs.resolve(args.run)}; "
          f"commit them: git add {args.to} && git commit")
    return 0
