"""The incremental nightly's stages: is a wheel cache worth keeping, what a night costs.

    uvcache      one cell, as a hosted runner would meet it: a cold install into an empty
                 uv cache; the cache packed as actions/cache packs it (tar | zstd -T0
                 --long=30) and its size; what `uv cache prune --ci` leaves of it; the pack
                 unpacked into a new cache and the cell installed from it. Pays when
                 unpack + install from it beats the cold install by more than the time
                 to download the pack from GitHub's cache service.
    incremental  `nox -s matrix -- --reuse-from RUN` over the whole default matrix when
                 nothing changed (every cell reused), given a previous run (--reuse-run)
    lock         a lock refresh from the index (`python -m _rngdrift.harness.matrix.lock` into a scratch file)

``Bench`` calls ``STAGES[name](bench)``; each records through ``bench.record``.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.cells import torch_major
from benchmarks.measure import ROOT, BenchError, disk_usage, run
from benchmarks.records import MATRIX

NEED_CACHE_ROUND_TRIP = {1: 6 << 30, 2: 18 << 30}  # cache, its pack, the restored copy


def _shell(command: str, log: Path) -> float:
    start = time.perf_counter()
    with open(log, "a") as handle:
        proc = subprocess.run(["bash", "-eo", "pipefail", "-c", command], stdout=handle,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise BenchError(f"`{command}` failed with {proc.returncode} (see {log})")
    return time.perf_counter() - start


def measure_uvcache(bench) -> None:
    cell = bench.args.cells[-1]
    work = bench.work / f"uvcache-{cell.id}"
    work.mkdir(parents=True, exist_ok=True)
    log = bench.log(f"{cell.id}.uvcache.log")
    cache, pack, restored = work / "cache", work / "cache.tar.zst", work / "restored"
    try:
        bench.need_disk(NEED_CACHE_ROUND_TRIP[torch_major(cell)], f"{cell.id} cache round trip")
        bench.record(cell.id, "uvcache_cold_s", bench.setup(cell, work / "venv", cache, log=log),
                     "uv venv + uv pip install, empty uv cache (PyPI)")
        bench.record(cell.id, "uvcache_bytes", float(disk_usage([cache])), "the cell's uv cache")
        # actions/cache: tar (GNU, -P) piped through zstd -T0 --long=30
        bench.record(cell.id, "uvcache_pack_s",
                     _shell(f"tar -cf - -C {cache} . | zstd -T0 --long=30 -q -o {pack}", log),
                     "tar | zstd -T0 --long=30, as actions/cache saves")
        bench.record(cell.id, "uvcache_pack_bytes", float(pack.stat().st_size),
                     "what actions/cache would upload and keep (10 GB per repository)")
        shutil.rmtree(cache)
        shutil.rmtree(work / "venv")
        restored.mkdir()
        bench.record(cell.id, "uvcache_unpack_s",
                     _shell(f"zstd -d --long=30 -q -c {pack} | tar -xf - -C {restored}", log),
                     "zstd -d | tar -x, as actions/cache restores (its download not included)")
        bench.record(cell.id, "uvcache_restored_install_s",
                     bench.setup(cell, work / "venv", restored, log=log),
                     "uv venv + uv pip install from the restored cache")
        start = time.perf_counter()
        run([bench.uv, "cache", "prune", "--ci"], env=bench.uv_env(restored), log=log)
        bench.record(cell.id, "uvcache_prune_ci_s", time.perf_counter() - start,
                     "uv cache prune --ci")
        bench.record(cell.id, "uvcache_pruned_bytes", float(disk_usage([restored])),
                     "what uv cache prune --ci leaves (it drops wheels from an index: "
                     "they download again faster than they unpack from a cache)")
    finally:
        if not bench.args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure_incremental(bench) -> None:
    previous = bench.args.reuse_run
    if previous is None:
        raise BenchError("the incremental stage needs a previous run: --reuse-run results/<run>")
    results = bench.work / "results"
    log = bench.log("incremental.log")
    start = time.perf_counter()
    run([sys.executable, "-m", "nox", "--noxfile", ROOT / "noxfile.py", "-s", "matrix", "--",
         "--reuse-from", Path(previous).resolve(), "--run-id", "bench-incremental",
         "--results", results, *bench.args.reuse_args], log=log)
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace")
    reused = text.count(": reuse from ")
    ran = text.count("python -m _rngdrift.harness.cell ")
    bench.record(MATRIX, "incremental_nothing_new_s", wall,
                 f"nox -s matrix -- --reuse-from {previous}: {reused} cells reused, {ran} ran, "
                 "then the report")
    shutil.rmtree(results, ignore_errors=True)


def measure_lock(bench) -> None:
    scratch = bench.work / "lock.json"
    shutil.copy(ROOT / "matrix.lock.json", scratch)  # a refresh, as the nightly does it
    seconds = run([sys.executable, "-m", "_rngdrift.harness.matrix.lock", "--out", scratch],
                  log=bench.log("lock.log"))
    bench.record(MATRIX, "lock_refresh_s", seconds, "python -m _rngdrift.harness.matrix.lock (the index, over "
                 "the network), onto a copy of the committed lock")


STAGES = {"uvcache": measure_uvcache, "incremental": measure_incremental, "lock": measure_lock}
