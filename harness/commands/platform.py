"""``rngdrift platform BASE CAND``: which results depend on the CPU class, learnt from
two runs of the same pins on different classes (``harness.results.platforms``)."""
from __future__ import annotations

import argparse

from ..results.frames import Tolerance, load
from ..results.platforms import DATA, Dependence, learn, merge, to_csv
from ..runs import rundirs


HELP = "which results depend on the CPU (learn it from two runs of different CPU classes)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("baseline", help="run directory or matrix.csv (one CPU class)")
    parser.add_argument("candidate", help="run directory or matrix.csv (another class, "
                                          "same pins)")
    parser.add_argument("--update", action="store_true",
                        help=f"merge what they show into {DATA.name} (the measured data rngdrift ships)")


def run(args: argparse.Namespace) -> int:
    # A run's cell CSVs (its matrix.csv only where it has none, as in results/baseline/).
    base = load(rundirs.resolve(args.baseline))
    cand = load(rundirs.resolve(args.candidate))
    learnt = learn(base, cand, Tolerance())
    print(to_csv(learnt), end="")
    if args.update:
        merged = merge(Dependence.load().rows, learnt)
        rundirs.write_files(DATA.parent, {DATA.name: to_csv(merged)})
        print(f"rngdrift platform: {DATA}: {len(merged)} rows ({len(learnt)} learnt now)")
    return 0
