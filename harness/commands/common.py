"""Options more than one command takes (asv's common_args): the tolerance for numbers."""
from __future__ import annotations

import argparse

from ..results.frames import Tolerance


def add_tolerance(parser: argparse.ArgumentParser) -> None:
    """--atol/--rtol, shared by report and compare."""
    parser.add_argument("--atol", type=float, default=Tolerance.atol,
                        help="absolute tolerance for numbers (default %(default)g)")
    parser.add_argument("--rtol", type=float, default=Tolerance.rtol,
                        help="relative tolerance for numbers (default %(default)g)")
