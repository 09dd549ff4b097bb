"""A disk-bounded run: ``--max-cache GB`` after ``nox -s matrix --`` (or ``patches``).

A torch 2.x cell pulls about 3 GB of ``nvidia-*`` wheels and every torch wheel is
0.7-1.7 GB unpacked, so the ``patches`` set (every pair of the lock) needs far more
disk than a runner has when uv keeps every wheel. With ``--max-cache``:

    plan    each cell's wheels, resolved before anything installs (``uv pip compile
            --format pylock.toml`` names every distribution, its wheel file and size);
            kept under the cache folder for a day, so the next load plans at once
    order   the cells so that cells sharing large wheels run one after another
            (``order``: from the oldest, the next is the one sharing most bytes)
    evict   before each install, ``uv cache clean NAME`` for every package holding a
            wheel no later cell of the session needs; then, while the estimate of
            the cache after this install is over the budget, the package whose next
            use is farthest away (Belady's rule: the fewest downloads for a budget)
    drop    after each cell, its venv: its files are hard links into the cache, so the
            disk is freed only when both are gone
    record  ``cache.jsonl`` in the run directory, a line per cell: sizes, what was
            evicted, fetched and reused (``nox -s bench -- --stages patches`` reads it)

The cache is rngdrift's own folder (``--cache-dir``, default ``.nox/_rngdrift-cache``,
with uv's cache in ``uv/`` under it), never the user's ~/.cache/uv: cleaning a
package there would throw away what other projects and other runs rely on.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import UserError
from .cacheplan import (DEFAULT_DIR, GB, UNPACKED_RATIO, Needs, check_budget, evictions, order,
                        resolve, uv_cache, uv_env, uv_executable)
from . import rundirs
from .runoptions import index_args

LOG_NAME = "cache.jsonl"


# -- the run: a plan per session, a ledger per cache, a hook per cell -------------------

def disk_usage(*paths: Path) -> int:
    """Bytes on disk under ``paths``, each file once however many hard links it has."""
    seen, total = set(), 0
    for root in paths:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                try:
                    st = os.lstat(os.path.join(folder, name))
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def cache_dir(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "cache_dir", None) or DEFAULT_DIR).resolve()


_PLANS: dict[tuple, list[Needs]] = {}


def session_plan(cells: list, args: argparse.Namespace, interpreter=None) -> list[Needs]:
    """The cells' needs in run order (``order``), resolved once per nox process."""
    from ..matrix import interpreters
    folder = cache_dir(args)
    key = (tuple(c.id for c in cells), str(folder), tuple(index_args(args)))
    if key not in _PLANS:
        found: dict[str, Path | None] = {}   # each Python looked for once, not per cell

        def find(python):
            if python not in found:
                found[python] = (interpreter or interpreters.find)(python)
            return found[python]
        needs = [resolve(c, find(c.python), index_args(args), folder) for c in cells]
        _PLANS[key] = order(needs)
    return _PLANS[key]


def ordered(cells: list, opts) -> list:
    """``cells`` in the order ``--max-cache`` runs them (unchanged without it, or when the
    options are unusable: the sessions say what is wrong): the noxfile parametrizes its
    sessions with this."""
    if opts is None or not opts.max_cache:
        return cells
    by_id = {c.id: c for c in cells}
    return [by_id[n.cell] for n in session_plan(cells, opts)]


def _load_ledger(folder: Path) -> dict:
    try:
        data = json.loads((folder / "held.json").read_text())
        return {"held": {k: set(v) for k, v in data["held"].items()},
                "sizes": data["sizes"], "ratio": data.get("ratio", UNPACKED_RATIO)}
    except (OSError, ValueError, KeyError, AttributeError):
        return {"held": {}, "sizes": {}, "ratio": UNPACKED_RATIO}


def _save_ledger(folder: Path, ledger: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"held.json.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"held": {k: sorted(v) for k, v in sorted(ledger["held"].items())},
                               "sizes": ledger["sizes"], "ratio": ledger["ratio"]}, indent=1))
    os.replace(tmp, folder / "held.json")


def clean(folder: Path, names: list[str]) -> None:
    if names:
        subprocess.run([uv_executable(), "cache", "clean", "--force", *names],
                       capture_output=True, text=True, env=uv_env(folder), check=False)


def future_of(cell, cells: list, args: argparse.Namespace, run_path: Path) -> list[str]:
    """The ids of the cells after ``cell`` in ``cells`` that this session will install:
    not another shard's, not kept by --resume."""
    ids = [c.id for c in cells]
    later = ids[ids.index(cell.id) + 1:] if cell.id in ids else []
    if args.shard:
        k, n = args.shard
        later = [c for c in later if ids.index(c) % n + 1 == k]
    if args.resume:
        later = [c for c in later
                 if not rundirs.cell_is_complete(rundirs.cell_csv(run_path, c), c)]
    return later


@contextlib.contextmanager
def bounded(session, cell, args: argparse.Namespace, run_path: Path, cells: list | None,
            refused=None):
    """Around one cell's install and run: evict first, then (whatever happens) measure,
    record a line in ``cache.jsonl`` and remove the cell's venv. A cell that alone does
    not fit the budget is not installed: ``refused(why)`` records it, the session fails.
    Nothing without ``--max-cache``."""
    if not getattr(args, "max_cache", None):
        yield
        return
    folder = cache_dir(args)
    cells = cells or [cell]
    plan = {n.cell: n for n in session_plan(cells, args)}
    this = plan.get(cell.id) or Needs(cell.id, ())
    try:
        check_budget([this], args.max_cache)
    except UserError as exc:  # the other cells still run; this one is not installed
        if refused is not None:
            refused(f"not installed: {exc}")
        session.error(f"{cell.id}: {exc}")
    future = [plan[c] for c in future_of(cell, cells, args, run_path) if c in plan]
    ledger = _load_ledger(folder)
    started = time.time()
    before = disk_usage(uv_cache(folder))
    estimated = sum(ledger["sizes"].get(n, 0) for n in ledger["held"]) or 1
    scale = before / estimated if ledger["held"] else 1.0
    sizes = {n: int(ledger["sizes"].get(n, 0) * scale) for n in ledger["held"]}
    unneeded, over, estimate = evictions(ledger["held"], this, future, sizes,
                                         int(args.max_cache * GB), ledger["ratio"])
    clean(folder, unneeded + over)
    for name in unneeded + over:
        ledger["held"].pop(name, None)
        ledger["sizes"].pop(name, None)
    held_files = {f for files in ledger["held"].values() for f in files}
    fetched = [w for w in this.wheels if w.file not in held_files]
    after_evict = disk_usage(uv_cache(folder))
    saved = os.environ.get("UV_CACHE_DIR")
    os.environ["UV_CACHE_DIR"] = str(uv_cache(folder))
    venv = Path(getattr(getattr(session, "virtualenv", None), "location", "") or "")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("UV_CACHE_DIR", None)
        else:
            os.environ["UV_CACHE_DIR"] = saved
        peak = disk_usage(uv_cache(folder), venv) if venv.name else disk_usage(uv_cache(folder))
        after = disk_usage(uv_cache(folder))
        grown = after - after_evict
        for w in this.wheels:
            ledger["held"].setdefault(w.name, set()).add(w.file)
            if w in fetched:
                ledger["sizes"][w.name] = ledger["sizes"].get(w.name, 0) + int(
                    w.size * ledger["ratio"])
        download = sum(w.size for w in fetched)
        if download > 50e6 and grown > 0:
            ledger["ratio"] = max(UNPACKED_RATIO, ledger["ratio"], grown / download)
        _save_ledger(folder, ledger)
        if venv.name and venv.is_dir():
            shutil.rmtree(venv, ignore_errors=True)
        record(run_path, {
            "cell": cell.id, "started": round(started, 1), "seconds": round(time.time() - started, 1),
            "budget": int(args.max_cache * GB), "cache_before": before,
            "evicted_unneeded": unneeded, "evicted_for_budget": over,
            "cache_after_evict": after_evict, "estimate": estimate, "cache_after": after,
            "disk_peak": peak, "fetched": len(fetched), "fetched_bytes": download,
            "fetched_files": sorted(w.file for w in fetched),
            "reused": len(this.wheels) - len(fetched), "ratio": round(grown / download, 2)
            if download else None})


def record(run_path: Path, entry: dict) -> None:
    run_path.mkdir(parents=True, exist_ok=True)
    with open(run_path / LOG_NAME, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")


def read_log(run_path: Path) -> list[dict]:
    path = Path(run_path) / LOG_NAME
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
