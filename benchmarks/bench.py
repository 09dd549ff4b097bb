"""What rngdrift costs: installs, imports, scenarios and the whole matrix, measured.

    nox -s bench                                   representative cells, every stage
    nox -s bench -- --cells all --stages warm,import,run
    nox -s bench -- --stages matrix --matrix-log nox.log   parse a timed `nox -s matrix` log
    nox -s bench -- --tables benchmarks/out/A benchmarks/out/B   one table from earlier runs
    python -m benchmarks.bench ...                 the same, from the repository root

Per cell (default: the oldest, a mid 1.x, a 2.0-2.2 and the newest cell; ``--cells all``):
  download   bytes of the wheels uv fetches (sizes from PyPI's index for the exact files)
  cold       venv + install into an empty private uv cache (what a first nightly pays)
  warm       the same from the now warm cache: a new venv, a re-created one (nox's default
             on a re-run) and the existing venv with its exact pins (``nox -R``)
  disk       the cache, and what a venv adds on top of it (hard links counted once)
  import     ``python -c pass`` and ``python -c "import torch, torchvision"``
  run        the whole cell (every scenario, seeding mode and repeat) forked from zygotes
             and with ``--start spawn``; scenario seconds summed by family
  usercode   a user's function (--call) and script (--script) alone and under the harness,
             and the script in a new interpreter (benchmarks/usercode.py)
For the matrix:
  bandwidth  one big wheel downloaded plainly: the yardstick for the cold target
  parallel   the selected cells one after another (--jobs 2) vs two at once (--jobs 1)
  baseline   the naive way: ``python -m venv`` + pip with a private pip cache, cold and warm
  matrix     the whole default matrix, warm, sequential (``nox -s matrix``, or --matrix-log)
A team's upgrade check (benchmarks/check.py):
  check      rngdrift check --from HEAD~1 --to HEAD --pytest tests/ on a scratch repository
             (torch 1.5 -> 1.6), the first time and again (warm)
  blame      rngdrift check --blame of a three-package bump (torch/tv, Pillow, NumPy):
             environments built, wall time
The atlas (benchmarks/atlas.py; not run unless named in --stages):
  patches    a --max-cache run's peak cache, disk and wall time (--patches-run RUN)
  atlas      CPU of `rngdrift report` and `rngdrift atlas` on the baseline and that run
  explain    `rngdrift explain --from 1.10 --to 2.6`, wall
The nightly (benchmarks/nightly.py; not run unless named in --stages):
  uvcache    the newest selected cell's uv cache packed and restored as actions/cache does,
             against a cold install, and what ``uv cache prune --ci`` leaves of it
  incremental  ``nox -s matrix -- --reuse-from <--reuse-run>`` when nothing changed
  lock       a lock refresh from the index

Every measurement is appended to <out>/measurements.jsonl the moment it is taken, so an
interrupted run keeps what it measured; the tables (bench.md and one CSV each) are built
from those records alone. Private caches and venvs live under --work (default
/tmp/bench-*) and are deleted after each cell; the user's own uv cache is never written.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # `python benchmarks/bench.py`: the packages below are not importable
    sys.exit("bench: run `python -m benchmarks.bench ...` from the repository root, "
             "or `nox -s bench -- ...`")

from benchmarks import atlas, check, costs, nightly  # noqa: E402
from benchmarks.cells import select_cells  # noqa: E402
from benchmarks.measure import ROOT, machine_text, uv_version  # noqa: E402
from benchmarks.records import MATRIX, load_records  # noqa: E402
from benchmarks.stages import CELL_STAGES, STAGES, Bench  # noqa: E402
from benchmarks.tables import write_tables  # noqa: E402
from _rngdrift.harness.matrix import compat  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="nox -s bench --", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="subset",
                        help="'subset' (default: oldest, mid 1.x, 2.0-2.2, newest), 'all' "
                             "(the default matrix) or comma-separated cell ids")
    parser.add_argument("--stages", default=",".join(s for s in STAGES if s not in nightly.STAGES
                                                     and s not in atlas.STAGES),
                        help="comma-separated, from: " + ", ".join(STAGES) + " (default: all "
                             "but the nightly's and the atlas's: "
                             + ", ".join([*nightly.STAGES, *atlas.STAGES]) + ")")
    parser.add_argument("--baseline-cells", default=f"{compat.DEFAULT[0].id},{compat.DEFAULT[-1].id}",
                        help="cells for the pip baseline (default: %(default)s)")
    parser.add_argument("--matrix-log", type=Path,
                        help="parse this log of a `nox -s matrix` run ending in 'rc=N wall=Ss' "
                             "instead of running the matrix")
    parser.add_argument("--matrix-sessions", nargs="+", default=["matrix"], metavar="SESSION",
                        help="nox sessions the matrix stage runs (default: matrix, every "
                             "default cell)")
    parser.add_argument("--cache", type=Path,
                        help="warm uv cache for the warm stage when the cold stage is not run "
                             "(it is written to: uv refreshes index pages)")
    parser.add_argument("--venv-root", type=Path,
                        help="<DIR>/<cell-id>/bin/python for import/run/parallel when the bench "
                             "did not build the venv (default: nox's .nox/matrix-*)")
    parser.add_argument("--reuse-run", type=Path, metavar="RUN",
                        help="the previous run the incremental stage reuses from (every cell "
                             "of the default matrix made with the same options)")
    parser.add_argument("--reuse-args", nargs=argparse.REMAINDER, default=[],
                        help="the options that run was made with, last on the line (e.g. "
                             "--reuse-args --only 'pairs.*' --repeats 1)")
    parser.add_argument("--patches-run", type=Path, metavar="RUN",
                        help="a run made with --max-cache (cache.jsonl) for the patches, atlas "
                             "and explain stages")
    parser.add_argument("--reps", type=int, default=3, help="repeats of the cheap timings (median)")
    parser.add_argument("--work", type=Path, help="private caches and venvs (default /tmp/bench-*)")
    parser.add_argument("--out", type=Path, help="tables and records (default benchmarks/out/<time>)")
    parser.add_argument("--keep", action="store_true", help="keep --work (caches, venvs)")
    parser.add_argument("--min-free-gb", type=float, default=10.0,
                        help="skip a cold install that would leave less disk free (default 10)")
    parser.add_argument("--tables", type=Path, nargs="+", metavar="DIR",
                        help="only build the tables from these runs' records (later runs win)")
    args = parser.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"--stages: unknown {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    args.stages = tuple(stages)
    try:
        args.cells = select_cells(args.cells)
        select_cells(args.baseline_cells)
    except ValueError as exc:
        parser.error(str(exc))
    args.out = args.out or OUT / time.strftime("%Y%m%d-%H%M%S")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.tables:
        try:
            records = load_records(args.tables)
        except (OSError, ValueError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
        print(write_tables(records, args.out))
        print(f"bench: tables in {args.out}")
        return 0
    (args.out / "logs").mkdir(exist_ok=True)
    own_work = args.work is None
    args.work = args.work or Path(tempfile.mkdtemp(prefix="bench-"))
    args.work.mkdir(parents=True, exist_ok=True)
    bench = Bench(args)
    bench.record(MATRIX, "machine", machine_text(), f"uv {uv_version(bench.uv)}")
    try:
        if set(CELL_STAGES) & set(args.stages):
            for cell in args.cells:
                print(f"bench: --- {cell.id}", flush=True)
                bench.measure_cell(cell)
        for stage, fn in (("baseline", bench.measure_baseline), ("bandwidth", bench.measure_bandwidth),
                          ("parallel", bench.measure_parallel), ("matrix", bench.measure_matrix),
                          ("report", lambda: costs.measure_report(bench)),
                          *((name, lambda f=f: f(bench)) for name, f in
                            {**nightly.STAGES, **check.STAGES, **atlas.STAGES}.items())):
            if stage in args.stages:
                print(f"bench: --- {stage}", flush=True)
                bench.attempt(MATRIX, stage, fn)
    finally:
        if own_work and not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)
    print(write_tables(load_records([args.out]), args.out))
    print(f"bench: records and tables in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
