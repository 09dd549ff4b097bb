"""The options after ``nox -s matrix --`` (and of ``rngdrift run``), declared once and
parsed once into a ``RunOptions``: the record the cell session, the result key, the
reuse plan and ``rngdrift plan``/``ci plan`` all read.

    the cell's own options      from ``harness.cell.options`` (forwarded to every cell)
    where results go            --run-id, --results, --shard
    which index installs        --index-url, --extra-index-url, --find-links (uv/pip)
    what is reused              --reuse-from RUN, --rerun all, --reuse-across-platforms,
                                --plan (say what would run and reuse; run nothing)
    which cells                 --vary PACKAGE=V1,V2 (every cell once per version)

``parse(argv, default_run_id, started_in)`` makes every path absolute where the user
started (an option declared ``path=True`` in the cell's table, ``--results``, a local
``--find-links``); the user-code options (``--call``, ``--script``, ...) keep their
text and are read in the cell from ``workdir``. ``to_argv`` turns a RunOptions back
into the arguments that parse to it (nox's ``to_argv``), which is how ``rngdrift run``
hands them to the sessions. Bad input is a ``UserError``, never a usage dump and exit.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
from pathlib import Path

from . import cacheplan, rundirs
from .. import errors, paths
from ..matrix import envs
from ..cell import options
from ..errors import UserError

INDEX_OPTIONS = ("index_url", "extra_index_url", "find_links")


class _Parser(errors.ArgumentParser):
    """argparse whose errors are UserErrors (one line, after ``context`` when given)."""

    def __init__(self, *args, context: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.context = context

    def error(self, message):
        raise UserError(_said(self.context, f"{message} (see {self.prog} --help)"))


def _said(context: str, message: str) -> str:
    return f"{context}: {message}" if context else message


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


def _axis(text: str) -> envs.Axis:
    try:
        return envs.Axis.parse(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_vary_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vary", action="append", default=[], type=_axis,
                        metavar="PACKAGE=V1,V2,...",
                        help="run every chosen cell once per version of PACKAGE (pillow, numpy, "
                             "albumentations, pytorch-lightning ...), its id naming the version "
                             "(py3.8-torch1.5.0-tv0.6.0-pillow9.5.0); repeat for another package "
                             "(one package at a time, no cross product); select the cells of one "
                             "pair with nox -k matrix -t py3.8-torch1.5.0-tv0.6.0")


def vary_axes(posargs: list[str]) -> list[envs.Axis]:
    """The --vary axes among the options after ``--``, read before the sessions exist
    (they decide which sessions there are); UserError for a bad one."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--vary", action="append", default=[])
    known, _ = parser.parse_known_args(posargs)
    return envs.combine(envs.Axis.parse(text) for text in known.vary)


def add_to(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--run-id", help=f"<results>/<run-id>/ to write into (env "
                                         f"{rundirs.RUN_ID_ENV}; default: the time)")
    parser.add_argument("--results", metavar="DIR",
                        help=f"where runs go (default: {paths.RESULTS_ELSEWHERE}/ in the "
                             f"directory you start from; results/ in rngdrift's own checkout)")
    parser.add_argument("--shard", type=parse_shard, metavar="K/N",
                        help="run only shard K of N (cells dealt round-robin by their "
                             "position in the session's cell list)")
    add_vary_option(parser)
    options.add_to(parser, "both")
    add_index_options(parser)
    add_reuse_options(parser)
    cacheplan.add_options(parser)  # --max-cache, --cache-dir (harness.runs.cache)
    return parser


def _field(option):
    """The RunOptions field of one cell option: its type and empty value."""
    kind = {"flag": (bool, False), "append": (tuple, ()), "int": (int | None, None),
            "float": (float | None, None)}.get(option.kind, (str | None, None))
    return options.dest(option), kind[0], dataclasses.field(default=kind[1])


class _Methods:
    """What the sessions ask of their options (RunOptions' methods)."""

    @property
    def wants_plan(self) -> bool:
        """--reuse-from or --plan: every cell's decision is made before any session runs."""
        return bool(self.reuse_from) or self.plan

    def cell_argv(self) -> list[str]:
        """The arguments for ``python -m _rngdrift.harness.cell`` (paths already absolute;
        ``--workdir``: where the relative paths of --call/--script/--pytest/... are from)."""
        return options.to_argv(self, "both") + ["--workdir", str(self.workdir)]

    def to_argv(self) -> list[str]:
        """The arguments that ``parse`` turns back into these options (run id included)."""
        argv = ["--run-id", self.run_id, "--results", str(self.results)]
        argv += ["--shard", "%d/%d" % self.shard] if self.shard else []
        argv += options.to_argv(self, "both") + index_args(self)
        argv += ["--reuse-from", self.reuse_from] if self.reuse_from else []
        argv += ["--rerun", self.rerun] if self.rerun else []
        argv += ["--reuse-across-platforms"] if self.reuse_across_platforms else []
        argv += [a for axis in self.vary
                 for a in ("--vary", f"{axis.package}={','.join(axis.versions)}")]
        argv += ["--max-cache", repr(self.max_cache)] if self.max_cache else []
        argv += ["--cache-dir", self.cache_dir] if self.cache_dir else []
        return argv + (["--plan"] if self.plan else [])


RunOptions = dataclasses.make_dataclass(
    "RunOptions",
    [("run_id", str), ("results", Path), ("workdir", Path),
     ("shard", tuple | None, dataclasses.field(default=None)),
     *((name, tuple, dataclasses.field(default=())) for name in INDEX_OPTIONS),
     ("reuse_from", str | None, dataclasses.field(default=None)),
     ("rerun", str | None, dataclasses.field(default=None)),
     ("reuse_across_platforms", bool, dataclasses.field(default=False)),
     ("plan", bool, dataclasses.field(default=False)),
     ("vary", tuple, dataclasses.field(default=())),
     ("max_cache", float | None, dataclasses.field(default=None)),
     ("cache_dir", str | None, dataclasses.field(default=None)),
     *(_field(o) for o in options.selected("both"))],
    bases=(_Methods,), frozen=True, namespace={"__module__": __name__})
RunOptions.__doc__ = """The options after ``--``, typed and with absolute paths: the host's
(run_id, results, workdir, shard, indexes, reuse) and every cell option of
``harness.cell.options`` under its ``dest`` name (append options as tuples)."""


def latest_run_id(results: Path) -> str | None:
    """The run id results/latest points to, or None."""
    latest = results / "latest"
    return Path(os.readlink(latest)).name if latest.is_symlink() and latest.exists() else None


def from_namespace(ns: argparse.Namespace, default_run_id: str,
                   started_in: str | Path | None = None, context: str = "") -> RunOptions:
    """The RunOptions of a parsed command line (``add_to``'s options); paths made absolute
    from ``started_in`` (default: where the user started). UserError on bad input, its
    message after ``context`` when given (``--cell-args '...'``)."""
    base = Path(started_in).resolve() if started_in else paths.started_in()
    results = (base / ns.results).resolve() if ns.results else paths.default_results(base)
    run_id = ns.run_id or os.environ.get(rundirs.RUN_ID_ENV)
    if not run_id and ns.resume:
        run_id = latest_run_id(results)
        if run_id is None:
            raise UserError(_said(context, f"--resume: no run to resume ({results / 'latest'} "
                                           "does not exist); name it with --run-id"))
    run_id = run_id or default_run_id
    if rundirs.run_id_problem(run_id):
        raise UserError(_said(context, f"--run-id: {rundirs.run_id_problem(run_id)}"))
    if len(ns.index_url) > 1:
        raise UserError(_said(context, "--index-url: give it once (more indexes: "
                                       "--extra-index-url)"))
    for text in ns.goal:
        try:
            options.parse_goal(text)
        except ValueError as exc:
            raise UserError(_said(context, str(exc))) from None
    values = {}
    for option in options.selected("both"):
        name = options.dest(option)
        value = getattr(ns, name)
        if option.kind == "append":
            value = tuple(str((base / v).resolve()) if option.path else v for v in value)
        values[name] = value
    return RunOptions(
        run_id=run_id, results=results, workdir=base, shard=ns.shard,
        index_url=tuple(ns.index_url), extra_index_url=tuple(ns.extra_index_url),
        find_links=tuple(link if "://" in link else str((base / link).resolve())
                         for link in ns.find_links),
        reuse_from=ns.reuse_from, rerun=ns.rerun,
        reuse_across_platforms=ns.reuse_across_platforms, plan=ns.plan,
        vary=tuple(envs.combine(getattr(ns, "vary", ()))),
        max_cache=getattr(ns, "max_cache", None),
        cache_dir=str((base / ns.cache_dir).resolve()) if getattr(ns, "cache_dir", None) else None,
        **values)


def parse(argv: list[str], default_run_id: str, started_in: str | Path | None = None,
          prog: str = "nox -s matrix --", add_help: bool = True,
          context: str = "") -> RunOptions:
    """The options ``argv`` gives (``--help`` prints the help and exits 0)."""
    ns = add_to(_Parser(prog=prog, add_help=add_help, context=context)).parse_args(list(argv))
    return from_namespace(ns, default_run_id, started_in, context)


def user_code_files(opts) -> list[str]:
    """The Python files named by --call/--dataset/--pairs/--loader (FILE.py:NAME) and --script,
    absolute: for the host's preflight (missing, or syntax the cell cannot compile) and,
    with what they import, for the result key."""
    base = Path(opts.workdir)
    files = []
    for text in [*opts.call, *opts.dataset, *opts.pairs, *opts.loader]:
        target = text.rpartition(":")[0]
        if target.endswith(".py") or "/" in target:
            files.append(str(base / target))
    for text in opts.script:
        try:
            words = shlex.split(text)
        except ValueError:
            continue  # the cell says what is wrong with it
        words = words[1:] if words and re.fullmatch(r"(.*/)?python[0-9.]*", words[0]) else words
        words = [w for w in words if w not in ("-u", "-B")]
        if words and not words[0].startswith("-"):
            files.append(str(base / words[0]))
    return files


def pytest_paths(opts) -> list[tuple[str, Path]]:
    """(the --pytest command line, its PATH made absolute) for each --pytest: the first
    word, before any ``::node``; the words after it are pytest's own."""
    out = []
    for text in opts.pytest:
        try:
            words = shlex.split(text)
        except ValueError:
            continue  # the cell says what is wrong with it
        if words and not words[0].startswith("-"):
            out.append((text, Path(opts.workdir) / words[0].split("::", 1)[0]))
    return out


def pytest_files(opts) -> list[str]:
    """The test files a --pytest command line names (files, or the .py files under a
    folder), absolute; options and node ids past '::' are left to pytest."""
    base = Path(opts.workdir)
    files = []
    for text in opts.pytest:
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


def index_args(opts) -> list[str]:
    """The index options for ``uv pip install`` / ``pip install`` (same spelling)."""
    out = []
    for name in INDEX_OPTIONS:
        for value in getattr(opts, name):
            out += ["--" + name.replace("_", "-"), value]
    return out


def index_notes(opts) -> list[str]:
    """Freeze-file header lines naming the indexes a cell installed from."""
    return [f"{name.replace('_', '-')}: {value}" for name in INDEX_OPTIONS
            for value in getattr(opts, name)]
