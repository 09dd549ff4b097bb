"""``rngdrift atlas RUN [--also RUN2 ...] [--out DIR] [--ship [FILE]]``: the atlas of a run
(best a ``patches`` run: every pair of the lock), as a static site in RUN/atlas/, and with
``--ship`` the data ``rngdrift explain`` answers from (harness/atlas/explain.json.gz).

The report's model of the run (``tables.build``) is built once; the site arranges its
findings by release step and by random API. ``--also`` adds runs of the same cells on
other CPU classes: where the platform data says a row depends on the class, each step
page shows what the other class found there."""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ..atlas import answers, model, site, upgrades
from ..atlas.apis import Pages
from ..errors import UserError
from ..report.tables import build
from ..results.frames import Tolerance, load_run
from ..runs import rundirs
from .common import add_tolerance

HELP = "the atlas of a run: a page per release step and per random API, searchable offline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", nargs="?", default=str(rundirs.RESULTS / "latest"),
                        help="run directory or run id (default: results/latest)")
    parser.add_argument("--also", action="append", default=[], metavar="RUN",
                        help="a run of the same cells on another CPU class (repeatable)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where the site goes (default: RUN/atlas)")
    parser.add_argument("--ship", nargs="?", const=answers.DATA, type=Path, metavar="FILE",
                        help="also write the data `rngdrift explain` answers from (default "
                             "FILE: harness/atlas/explain.json.gz, shipped with rngdrift)")
    add_tolerance(parser)


def report_of(run: str, tol: Tolerance):
    return build(load_run(rundirs.resolve(run)), tol)


def write_site(out: Path, files: dict[str, str]) -> None:
    """Every folder's files as one set (``rundirs.write_files``)."""
    folders: dict[Path, dict[str, str]] = {}
    for name, text in files.items():
        path = out / name
        folders.setdefault(path.parent, {})[path.name] = text
    for folder, group in folders.items():
        folder.mkdir(parents=True, exist_ok=True)
        rundirs.write_files(folder, group)


def ship(path: Path, payload: dict) -> None:
    """The explain data as gzip'd compact JSON (mtime 0: the same data, the same bytes)."""
    path = Path(path)
    if not str(path).endswith(".gz"):
        upgrades.write(path, payload)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".tmp-", dir=path.parent)
    with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                   filename="") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    started, cpu = time.time(), time.process_time()
    tol = Tolerance(args.atol, args.rtol)
    run_path = rundirs.resolve(args.run)
    if not run_path.is_dir():
        raise UserError(f"{args.run}: no such run directory")
    report = report_of(args.run, tol)
    others = [report_of(other, tol) for other in args.also]
    cpu_model = time.process_time()
    if len(report.cells) < 2:
        raise UserError(f"{run_path}: one cell only; the atlas needs two or more")
    pages = Pages()
    atlas = model.build(report, others, pages)
    files = site.render(atlas)
    out = args.out or run_path / "atlas"
    write_site(out, files)
    cpu_site = time.process_time()
    print(f"rngdrift atlas: {out}: {len(atlas.steps)} release steps, "
          f"{sum(1 for name in files if name.startswith('apis/'))} API pages, "
          f"{len(report.loaded.table)} rows of {len(report.cells)} cells; open {out / 'index.html'}")
    if args.ship:
        source = Path(report.run_path)  # the run's folder names it (results/baseline)
        run_name = (source.parent if source.suffix == ".csv" else source).name
        payload = upgrades.data(report, pages, run_name, atlas.platform, atlas.dependent)
        ship(args.ship, payload)
        print(f"rngdrift atlas: {args.ship}: {len(payload['pairs'])} upgrades for "
              "`rngdrift explain`")
    # what `nox -s bench -- --stages atlas` reads
    print(f"rngdrift atlas: {time.time() - started:.1f} s, {time.process_time() - cpu:.1f} s CPU "
          f"(report model {cpu_model - cpu:.2f}, site {cpu_site - cpu_model:.2f}, explain data "
          f"{time.process_time() - cpu_site:.2f}); {len(report.loaded.table)} rows", file=sys.stderr)
    return 0
