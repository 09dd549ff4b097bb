"""``rngdrift run [--cells SET|IDS] [options]``: rngdrift's matrix of torch/torchvision
releases, from any directory.

    rngdrift run                                       every default cell (17), then the report
    rngdrift run --cells py3.8-torch1.5.0-tv0.6.0,py3.11-torch2.15.0-tv0.29.2 --only 'pairs.*'
    rngdrift run --cells 'py3.8-*' --pytest tests/ --user-only     your tests in those cells
    rngdrift run --cells exhaustive                    the newest patch of every tv minor

It drives the sessions rngdrift ships (its noxfile, through nox) with the options of
``nox -s matrix --``. Results go to rngdrift-results/ in the directory you start from
(--results DIR); the cell venvs to .rngdrift/run/ there (--envdir DIR): next to your
project, not in site-packages, and hard-linked from uv's cache when both are on one
disk. Your modules import as yours in every cell, whatever their names.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import subprocess
import sys
from pathlib import Path

from .. import paths
from ..errors import UserError
from ..runs import cellsets, rundirs, runoptions


HELP = "run rngdrift's matrix of torch/torchvision releases (its scenarios, or your code)"
DESCRIPTION = __doc__.replace("``", "")
STATE = ".rngdrift"  # beside the results: cell venvs (run/) and checked environments (check/)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cells", default=cellsets.DEFAULT, metavar="SET|IDS",
                        help=f"a cell set ({', '.join(cellsets.NAMES)}; default %(default)s) or "
                             "comma-separated cell ids or globs (py3.8-torch1.5.0-tv0.6.0, "
                             "'*torch2.*')")
    parser.add_argument("--envdir", type=Path, metavar="DIR",
                        help=f"where the cell venvs go (default: {STATE}/run/ in the directory "
                             "you start from)")
    parser.add_argument("--list", action="store_true",
                        help="print the cells --cells selects and exit")
    runoptions.add_to(parser)


def state_dir(started_in: Path) -> Path:
    """``.rngdrift/`` in ``started_in``, made with a .gitignore that ignores it whole
    (as uv does for .venv): venvs are not something to commit."""
    state = started_in / STATE
    state.mkdir(parents=True, exist_ok=True)
    ignore = state / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# made by rngdrift: environments, not sources\n*\n")
    return state


def sessions(selection: str) -> list[str]:
    """The nox sessions for ``--cells``: a set's session, or one session per cell id
    (the first set naming it: matrix, then exhaustive, then patches)."""
    if selection in cellsets.NAMES:
        return [selection]
    chosen: dict[str, str] = {}
    for pattern in filter(None, (p.strip() for p in selection.split(","))):
        hits = [(name, cell.id) for name in cellsets.NAMES for cell in cellsets.cells(name)
                if fnmatch.fnmatchcase(cell.id, pattern)]
        if not hits:
            known = ", ".join(c.id for c in cellsets.cells(cellsets.DEFAULT))
            raise UserError(f"--cells {pattern}: no cell of the lock matches (the default "
                            f"cells: {known}; every pair: --cells patches --list)")
        for name, cell_id in hits:
            chosen.setdefault(cell_id, name)
    if not chosen:
        raise UserError("--cells: name a cell set or at least one cell id")
    return [f"{name}({cell_id})" for cell_id, name in chosen.items()]


def nox_command(opts: runoptions.RunOptions, selected: list[str], envdir: Path) -> list[str]:
    """nox on the shipped noxfile, with the options parsed here handed on whole."""
    return [sys.executable, "-m", "nox", "--noxfile", str(paths.NOXFILE),
            "--envdir", str(envdir), "-s", *selected, "--", *opts.to_argv()]


def run(args: argparse.Namespace) -> int:
    started_in = Path.cwd().resolve()
    opts = runoptions.from_namespace(args, rundirs.new_run_id(), started_in)
    selected = sessions(args.cells)
    if args.list:
        ids = [c.id for c in cellsets.cells(args.cells)] if args.cells in cellsets.NAMES \
            else [s[s.index("(") + 1:-1] for s in selected]
        print("\n".join(ids))
        return 0
    envdir = (args.envdir or state_dir(started_in) / "run").resolve()
    print(f"rngdrift run: {len(selected)} session(s); results in {opts.results / opts.run_id}, "
          f"venvs in {envdir}", file=sys.stderr, flush=True)
    env = dict(os.environ, **{paths.STARTED_IN_ENV: str(started_in)})
    return subprocess.run(nox_command(opts, selected, envdir), cwd=started_in,
                          env=env).returncode
