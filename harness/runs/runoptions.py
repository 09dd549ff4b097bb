"""The options after ``nox -s matrix --``, declared once for every host command that
takes them (the matrix sessions, ``rngdrift plan``, ``rngdrift ci plan``).

    the cell's own options      from ``harness.cell.options`` (forwarded to every cell)
    where results go            --run-id, --results, --shard
    which index installs        --index-url, --extra-index-url, --find-links (uv/pip)
    what is reused              --reuse-from RUN, --rerun all, --reuse-across-platforms,
                                --plan (say what would run and reuse; run nothing)
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
from pathlib import Path

from . import cacheplan, rundirs
from ..cell import options
from ..errors import UserError


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard wants K/N with 1 <= K <= N, got {text!r}")
    return k, n


def add_index_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("other wheel indexes (passed to uv/pip for the cell "
                                      "installs, recorded in each freeze file)")
    group.add_argument("--index-url", action="append", default=[], metavar="URL",
                       help="the index to install from instead of PyPI (e.g. "
                            "https://download.pytorch.org/whl/cpu)")
    group.add_argument("--extra-index-url", action="append", default=[], metavar="URL",
                       help="another index besides it (repeatable)")
    group.add_argument("--find-links", action="append", default=[], metavar="DIR|URL",
                       help="a directory or page of wheels to install from too (repeatable)")


def add_reuse_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reuse (the incremental nightly)")
    group.add_argument("--reuse-from", metavar="RUN",
                       help="a previous run (directory or run id): each cell whose result key "
                            "(pins, options, code, user files, indexes, harness version, CPU "
                            "class) is unchanged is copied from there instead of run")
    group.add_argument("--rerun", choices=("all",),
                       help="'all': run every cell even with --reuse-from")
    group.add_argument("--reuse-across-platforms", action="store_true",
                       help="reuse a cell made on another CPU class too (CI runners of random "
                            "vendor; compare tells platform differences apart)")
    group.add_argument("--plan", action="store_true",
                       help="print per cell what would run and what would be reused; run nothing")


def add_to(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--run-id", help=f"results/<run-id>/ to write into (env {rundirs.RUN_ID_ENV})")
    parser.add_argument("--results", default=str(rundirs.RESULTS), help=argparse.SUPPRESS)
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="run only shard K of N (cells dealt round-robin by their "
                             "position in the session's cell list)")
    options.add_to(parser, "both")
    add_index_options(parser)
    add_reuse_options(parser)
    cacheplan.add_options(parser)  # --max-cache, --cache-dir (harness.runs.cache)
    return parser


def latest_run_id(results: Path) -> str | None:
    """The run id results/latest points to, or None."""
    latest = results / "latest"
    return Path(os.readlink(latest)).name if latest.is_symlink() and latest.exists() else None


def parse(posargs: list[str], default_run_id: str,
          prog: str = "nox -s matrix --") -> argparse.Namespace:
    parser = add_to(argparse.ArgumentParser(prog=prog, add_help=True))
    args = parser.parse_args(posargs)
    args.run_id = args.run_id or os.environ.get(rundirs.RUN_ID_ENV)
    if not args.run_id and args.resume:
        args.run_id = latest_run_id(Path(args.results))
        if args.run_id is None:
            parser.error(f"--resume: no run to resume ({Path(args.results) / 'latest'} does not "
                         "exist); name it with --run-id")
    args.run_id = args.run_id or default_run_id
    try:
        rundirs.check_run_id(args.run_id)
    except UserError as exc:
        parser.error(f"--run-id: {exc}")
    if len(args.index_url) > 1:
        parser.error("--index-url: give it once (more indexes: --extra-index-url)")
    return args


def resolve_user_paths(args: argparse.Namespace, invoked_from: str | Path) -> None:
    """Make ``--scenarios``/``--cell-requirements`` and local ``--find-links`` absolute,
    relative to where nox was started (nox itself runs sessions in the noxfile's folder);
    the other user-code options keep their text and are read from there in the cell
    (``--workdir``)."""
    base = Path(invoked_from)
    args.scenarios = [str((base / p).resolve()) for p in args.scenarios]
    args.cell_requirements = [str((base / p).resolve()) for p in args.cell_requirements]
    args.find_links = [link if "://" in link else str((base / link).resolve())
                       for link in getattr(args, "find_links", [])]
    args.workdir = str(base.resolve())


def user_code_files(args: argparse.Namespace) -> list[str]:
    """The Python files named by --call/--dataset/--pairs (FILE.py:NAME) and --script,
    absolute: for the host's preflight (missing, or syntax the cell cannot compile) and,
    with what they import, for the result key."""
    base = Path(getattr(args, "workdir", None) or os.getcwd())
    files = []
    for text in [*getattr(args, "call", []), *getattr(args, "dataset", []),
                 *getattr(args, "pairs", [])]:
        target = text.rpartition(":")[0]
        if target.endswith(".py") or "/" in target:
            files.append(str(base / target))
    for text in getattr(args, "script", []):
        try:
            words = shlex.split(text)
        except ValueError:
            continue  # the cell says what is wrong with it
        words = words[1:] if words and re.fullmatch(r"(.*/)?python[0-9.]*", words[0]) else words
        words = [w for w in words if w not in ("-u", "-B")]
        if words and not words[0].startswith("-"):
            files.append(str(base / words[0]))
    return files


def pytest_files(args: argparse.Namespace) -> list[str]:
    """The test files a --pytest command line names (files, or the .py files under a
    folder), absolute; options and node ids past '::' are left to pytest."""
    base = Path(getattr(args, "workdir", None) or os.getcwd())
    files = []
    for text in getattr(args, "pytest", []) or []:
        try:
            words = shlex.split(text)
        except ValueError:
            continue
        for word in words:
            path = base / word.split("::", 1)[0]
            if word.startswith("-") or not path.exists():
                continue
            files += [str(path)] if path.is_file() else sorted(str(f) for f in path.rglob("*.py"))
    return files


def index_args(args: argparse.Namespace) -> list[str]:
    """The index options for ``uv pip install`` / ``pip install`` (same spelling)."""
    out = []
    for flag, values in (("--index-url", args.index_url),
                         ("--extra-index-url", args.extra_index_url),
                         ("--find-links", args.find_links)):
        for value in values or ():
            out += [flag, value]
    return out


def index_notes(args: argparse.Namespace) -> list[str]:
    """Freeze-file header lines naming the indexes a cell installed from."""
    return [f"{flag}: {value}" for flag, values in (("index-url", args.index_url),
                                                    ("extra-index-url", args.extra_index_url),
                                                    ("find-links", args.find_links))
            for value in values or ()]
