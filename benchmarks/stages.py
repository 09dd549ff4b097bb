"""The stages: what the bench does per cell and for the whole matrix.

Per cell: download, cold, warm, disk, import, run, usercode; for the matrix: bandwidth, parallel,
baseline, matrix (see benchmarks/bench.py's help). ``Bench`` holds a run's state (its
options, the uv to use, PyPI pages already read) and records each measurement through
``benchmarks.records`` as it is taken; a stage that fails records an ``error:<stage>``
and the run goes on.
"""
from __future__ import annotations

import concurrent.futures
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import atlas, check, costs, nightly, records, usercode
from benchmarks.cells import nox_venv, select_cells, torch_major
from benchmarks.logs import (downloaded_wheels, family_seconds, parse_nox_log, selected_wheels,
                             session_cell, wheel_project)
from benchmarks.measure import (ROOT, BenchError, disk_usage, index_files, load_text,
                                net_rx_bytes, plain_download, run, uv_path)
from benchmarks.records import MATRIX
from _rngdrift.harness.matrix import interpreters
from _rngdrift.harness.cell import schema

CELL_STAGES = ("download", "cold", "warm", "disk", "import", "run", "attribution", "usercode")
MATRIX_STAGES = ("bandwidth", "parallel", "baseline", "matrix", "report") + tuple(nightly.STAGES) \
    + tuple(check.STAGES) + tuple(atlas.STAGES)
STAGES = CELL_STAGES + MATRIX_STAGES

# Disk a cold install needs at its peak (unpacked cache, hard-linked venvs) and a pip
# install (wheel cache plus an unpacked copy), from du of real cells; with a margin.
NEED_UV = {1: 5 << 30, 2: 14 << 30}  # with the unpack-only copy and the plain download
NEED_PIP = {1: 4 << 30, 2: 10 << 30}

PIP_ENV_DROP = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX")


class Bench:
    """Where a run keeps its state: options, the uv to use, PyPI index pages fetched."""

    def __init__(self, args):
        self.args = args
        self.out: Path = args.out
        self.work: Path = args.work
        self.uv = uv_path()
        self.pages: dict[str, dict[str, tuple[int, str]]] = {}
        self.wheels: dict[str, tuple[int, str]] = {}  # filename -> (size, url): seen this run

    def record(self, cell, metric, value, note=""):
        return records.record(self.out, cell, metric, value, note)

    def log(self, name) -> Path:
        return self.out / "logs" / name

    def interpreter(self, cell) -> Path:
        exe = interpreters.find(cell.python)
        if exe is None:
            raise BenchError(interpreters.missing_hint(cell.python))
        return exe

    def need_disk(self, need: int, what: str):
        free = shutil.disk_usage(self.work).free
        if free - need < self.args.min_free_gb * 2**30:
            raise BenchError(f"{what} needs ~{need / 2**30:.0f} GB and would leave less than "
                             f"{self.args.min_free_gb:g} GB free ({free / 2**30:.1f} GB free now)")

    # --- uv set-up, as nox's uv backend and harness.cellsession do it

    def uv_env(self, cache: Path) -> dict:
        return dict(os.environ, UV_CACHE_DIR=str(cache))

    def setup(self, cell, venv: Path, cache: Path, *, create=True, log: Path, extra=()) -> float:
        env = self.uv_env(cache)
        seconds = 0.0
        if create:  # nox: uv venv -p <python> <location> --clear
            seconds += run([self.uv, "venv", "-p", self.interpreter(cell), venv, "--clear"],
                           env=env, log=log)
        seconds += run([self.uv, "pip", "install", "--python", venv / "bin" / "python",
                        *extra, *cell.requirements], env=env, log=log)
        return seconds

    # --- download sizes

    def sizes(self, filenames) -> dict[str, tuple[int, str]]:
        """{filename: (bytes, url)} from PyPI's JSON simple index (PEP 691/700), one page
        per project, the way an installer reads it."""
        out = {}
        for filename in filenames:
            project = wheel_project(filename)
            if project not in self.pages:
                self.pages[project] = index_files(project)
            size, url = self.pages[project].get(filename, (None, None))
            if size is None:
                raise BenchError(f"{filename}: not on PyPI's index page for {project} (or no size)")
            out[filename] = (size, url)
        self.wheels.update(out)
        return out

    def record_download(self, cell, filenames, how):
        sizes = self.sizes(filenames)
        self.record(cell.id, "download_bytes", float(sum(s for s, _ in sizes.values())),
                    f"{len(sizes)} wheels, {how}")
        # quiet: the file list, so the matrix's download counts a wheel two cells share once
        records.record(self.out, cell.id, "wheels", " ".join(f"{name}={size}" for name, (size, _) in
                                                      sorted(sizes.items())), quiet=True)

    def resolve(self, cell, work: Path):
        """The wheels a cold install would fetch, from a dry run (metadata only)."""
        venv, cache, log = work / "dry", work / "dry-cache", self.log(f"{cell.id}.download.log")
        env = self.uv_env(cache)
        run([self.uv, "venv", "-q", "-p", self.interpreter(cell), venv], env=env, log=log)
        proc = subprocess.run([self.uv, "pip", "install", "--dry-run", "-v", "--python",
                               str(venv / "bin" / "python"), *cell.requirements],
                              env=env, capture_output=True, text=True)
        log.write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            raise BenchError(f"{cell.id}: dry-run resolution failed (see {log})")
        self.record_download(cell, selected_wheels(proc.stderr + proc.stdout),
                             "resolved by uv --dry-run, sizes from PyPI")

    # --- per cell

    def measure_cell(self, cell):
        stages = self.args.stages
        work = self.work / cell.id
        work.mkdir(parents=True, exist_ok=True)
        cache, cold_venv, venv = work / "uv-cache", work / "cold", work / "venv"
        log = self.log(f"{cell.id}.setup.log")
        python = None
        try:
            if "download" in stages and "cold" not in stages:
                self.attempt(cell, "download", lambda: self.resolve(cell, work))
            if "cold" in stages:
                def cold():
                    self.need_disk(NEED_UV[torch_major(cell)], f"{cell.id} cold install")
                    rx = net_rx_bytes()
                    seconds = self.setup(cell, cold_venv, cache, log=log)
                    self.record(cell.id, "cold_setup_s", seconds, f"uv venv + uv pip install, empty uv cache, {load_text()}")
                    self.record(cell.id, "net_rx_bytes", float(net_rx_bytes() - rx),
                                "bytes received by the machine meanwhile (cross-check)")
                    fetched = downloaded_wheels(cache)
                    self.record_download(cell, fetched, "the files uv fetched, sizes from PyPI")
                    wheels = work / "wheels"
                    wheels.mkdir()
                    got, seconds = plain_download(fetched.values(), wheels)
                    self.record(cell.id, "download_alone_s", seconds,
                                f"the same {len(fetched)} files ({got / 1e6:.0f} MB) fetched again "
                                "plainly to disk, one after another, right after the install")
                    # What a cold install costs without the network: unpacking into the cache.
                    seconds = self.setup(cell, work / "unpack", work / "unpack-cache", log=log,
                                         extra=["--no-index", "--find-links", wheels])
                    self.record(cell.id, "unpack_s", seconds,
                                f"the same, from those files: empty uv cache, no network, {load_text()}")
                    shutil.rmtree(work / "unpack-cache")
                    shutil.rmtree(work / "unpack")
                    shutil.rmtree(wheels)
                self.attempt(cell, "cold", cold)
            private = cache.is_dir()
            warm_cache = cache if private else self.args.cache
            if "warm" in stages and warm_cache is not None:
                def warm():
                    self.record(cell.id, "warm_setup_new_s",
                                self.setup(cell, venv, warm_cache, log=log),
                                f"new venv from the warm uv cache, {load_text()}")
                    recreate = [self.setup(cell, venv, warm_cache, log=log) for _ in range(self.args.reps)]
                    self.record(cell.id, "warm_setup_recreate_s", statistics.median(recreate),
                                "existing venv re-created (nox's default), median of "
                                + ", ".join(f"{s:.2f}" for s in recreate) + f", {load_text()}")
                    existing = [self.setup(cell, venv, warm_cache, create=False, log=log)
                                for _ in range(self.args.reps)]
                    self.record(cell.id, "warm_setup_existing_s", statistics.median(existing),
                                "pins already installed (nox -R), median of "
                                + ", ".join(f"{s:.2f}" for s in existing) + f", {load_text()}")
                self.attempt(cell, "warm", warm)
            elif "warm" in stages:
                self.record(cell.id, "warm_setup_new_s", None,
                            "skipped: no warm cache (run the cold stage too, or give --cache)")
            if "disk" in stages and venv.is_dir():
                def disk():
                    base = disk_usage([warm_cache])
                    if private:
                        self.record(cell.id, "cache_bytes", float(base), "uv cache of this cell alone")
                    self.record(cell.id, "venv_added_bytes",
                                float(disk_usage([warm_cache, venv]) - base),
                                "du of cache + venv minus du of cache (hard links once)")
                self.attempt(cell, "disk", disk)
            if venv.is_dir():
                python = venv / "bin" / "python"
            if {"import", "run", "attribution", "usercode"} & set(stages):
                python = python or self.existing_python(cell)
                if python is None:
                    self.record(cell.id, "import_s", None,
                                "skipped: no venv for this cell (add the warm stage or --venv-root)")
                    return
            if "import" in stages:
                self.attempt(cell, "import", lambda: self.measure_import(cell, python))
            if "run" in stages:
                for start in ("fork", "spawn"):
                    self.attempt(cell, f"run --start {start}", lambda: self.measure_run(cell, python, start))
            if "attribution" in stages:
                self.attempt(cell, "attribution",
                             lambda: costs.measure_attribution(self, cell, python))
            if "usercode" in stages:
                self.attempt(cell, "usercode", lambda: usercode.measure(self, cell, python))
        finally:
            if not self.args.keep:
                shutil.rmtree(work, ignore_errors=True)

    def attempt(self, cell, stage, fn):
        try:
            fn()
        except (BenchError, OSError, subprocess.SubprocessError) as exc:
            self.record(getattr(cell, "id", cell), f"error:{stage}", None, str(exc))

    def existing_python(self, cell) -> Path | None:
        candidates = []
        if self.args.venv_root:
            candidates.append(Path(self.args.venv_root) / cell.id / "bin" / "python")
        # nox runs from the noxfile's folder with --envdir .nox (our matrix sessions'
        # default); its venv names are computed, as nox does, not looked up in nox.
        candidates.append(ROOT / nox_venv(f"matrix({cell.id})") / "bin" / "python")
        return next((p for p in candidates if p.exists()), None)

    def measure_import(self, cell, python):
        def median_of(code):
            run([python, "-c", code])  # page cache and .pyc warm, like every later start
            return statistics.median(run([python, "-c", code]) for _ in range(self.args.reps))
        self.record(cell.id, "python_start_s", median_of("pass"),
                    f"median of {self.args.reps}, {load_text()}")
        self.record(cell.id, "import_s", median_of("import torch, torchvision"),
                    f"python -c 'import torch, torchvision', median of {self.args.reps}, {load_text()}")

    def run_cell(self, cell, python, *, start="fork", jobs=2, tag="") -> tuple[float, Path]:
        csv_path = self.out / "cells" / f"{cell.id}{tag}.csv"
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        seconds = run([python, "-m", "_rngdrift.harness.cell", "--out", csv_path, "--cell", cell.id,
                       "--run-id", "bench", "--start", start, "--jobs", str(jobs)],
                      env=dict(os.environ, PYTHONPATH=str(ROOT)),
                      log=self.log(f"{cell.id}{tag}.run.log"))
        return seconds, csv_path

    def measure_run(self, cell, python, start):
        seconds, csv_path = self.run_cell(cell, python, start=start, tag="." + start)
        self.record(cell.id, f"cell_wall_{start}_s", seconds,
                    f"every scenario x seeding mode x 2 repeats, --jobs 2, {load_text()}")
        if start == "fork":
            families = family_seconds(schema.read_csv(csv_path))
            self.record(cell.id, "scenario_s", sum(families.values()), "sum of the timing rows")
            for family, value in families.items():
                self.record(cell.id, "family_s:" + family, value)

    # --- matrix level

    def measure_bandwidth(self):
        if not self.wheels:
            newest = self.args.cells[-1]
            work = self.work / "bandwidth"
            work.mkdir(parents=True, exist_ok=True)
            try:
                self.resolve(newest, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        biggest = sorted(self.wheels.items(), key=lambda kv: -kv[1][0])[:3]
        into = self.work / "bandwidth-files"
        into.mkdir(parents=True, exist_ok=True)
        try:
            got, seconds = plain_download((url for _, (_, url) in biggest), into)
        finally:
            shutil.rmtree(into, ignore_errors=True)
        self.record(MATRIX, "bandwidth_Bps", got / seconds,
                    f"{', '.join(f for f, _ in biggest)}: {got / 1e6:.0f} MB in {seconds:.1f} s, "
                    "one file after another, to disk")

    def measure_parallel(self):
        pythons = [(c, self.existing_python(c)) for c in self.args.cells]
        missing = [c.id for c, p in pythons if p is None]
        if missing:
            raise BenchError("no venv for " + ", ".join(missing) + " (give --venv-root)")
        names = ", ".join(c.id for c, _ in pythons)
        start = time.perf_counter()
        for cell, python in pythons:
            self.run_cell(cell, python, jobs=2, tag=".seq")
        self.record(MATRIX, "parallel_seq_s", time.perf_counter() - start, f"{len(pythons)} cells: {names}")
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(self.run_cell, c, p, jobs=1, tag=".par") for c, p in pythons]:
                future.result()
        self.record(MATRIX, "parallel_two_s", time.perf_counter() - start, f"{len(pythons)} cells")

    def measure_baseline(self):
        for cell in select_cells(self.args.baseline_cells):
            self.attempt(cell, "baseline", lambda: self.baseline_cell(cell))

    def baseline_cell(self, cell):
        work = self.work / f"baseline-{cell.id}"
        cache, venv = work / "pip-cache", work / "venv"
        log = self.log(f"{cell.id}.baseline.log")
        env = {k: v for k, v in os.environ.items() if k not in PIP_ENV_DROP}
        # a user's pip: PyPI only, no site config (this machine's points at local mirrors)
        env.update(PIP_CACHE_DIR=str(cache), PIP_CONFIG_FILE=os.devnull,
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        interpreter = self.interpreter(cell)

        def pip_setup():
            shutil.rmtree(venv, ignore_errors=True)
            return (run([interpreter, "-m", "venv", venv], env=env, log=log)
                    + run([venv / "bin" / "python", "-m", "pip", "install", *cell.requirements],
                          env=env, log=log))
        try:
            self.need_disk(NEED_PIP[torch_major(cell)], f"{cell.id} pip baseline")
            self.record(cell.id, "pip_cold_setup_s", pip_setup(), f"python -m venv + pip install, empty pip cache, {load_text()}")
            self.record(cell.id, "pip_warm_setup_s", pip_setup(), f"new venv, warm pip cache, {load_text()}")
            self.record(cell.id, "pip_venv_bytes", float(disk_usage([venv])), "a pip venv: a full copy")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if (cell.id, "cold_setup_s") not in self.measured:
            self.measure_cell_setup_only(cell)

    def measure_cell_setup_only(self, cell):
        saved = self.args.stages
        self.args.stages = ("cold", "warm")
        try:
            self.measure_cell(cell)
        finally:
            self.args.stages = saved

    @property
    def measured(self):
        return records.measured(self.out)

    def measure_matrix(self):
        log_path = self.args.matrix_log
        if log_path is None:
            log_path = self.out / "logs" / "matrix.log"
            envdir, results = self.work / "nox", self.work / "results"
            start = time.perf_counter()
            try:
                run([sys.executable, "-m", "nox", "--noxfile", ROOT / "noxfile.py", "--envdir", envdir,
                     "-s", *self.args.matrix_sessions, "--", "--run-id", "bench", "--results", results],
                    log=log_path)
                rc = 0
            except BenchError:
                rc = 1
            with open(log_path, "a") as handle:
                handle.write(f"rc={rc} wall={time.perf_counter() - start:.0f}s\n")
            if not self.args.keep:
                shutil.rmtree(envdir, ignore_errors=True)
                shutil.rmtree(results, ignore_errors=True)
        parsed = parse_nox_log(Path(log_path).read_text(errors="replace"))
        cells = [(session_cell(n), s, sec) for n, s, sec in parsed["sessions"] if session_cell(n)]
        how = f"from {log_path}" + (f", nox -s {' '.join(self.args.matrix_sessions)}"
                                    if self.args.matrix_log is None else
                                    " (a run timed outside the bench)")
        if parsed["wall"] is None:
            raise BenchError(f"{log_path}: no 'rc=N wall=Ss' line: the run has not finished")
        self.record(MATRIX, "matrix_seq_warm_s", parsed["wall"], f"rc={parsed['rc']}, {how}")
        failed = [c for c, s, _ in cells if s != "successful"]
        self.record(MATRIX, "matrix_sessions", float(len(cells)),
                    f"{len(failed)} not successful" + (": " + ", ".join(failed) if failed else ""))
        timed_cells = [(c, sec) for c, _, sec in cells if sec is not None]
        if timed_cells:
            cell, seconds = max(timed_cells, key=lambda cs: cs[1])
            self.record(MATRIX, "matrix_slowest_session_s", seconds, f"{cell} (nox rounds to whole seconds/minutes)")
        for cell, seconds in timed_cells:
            self.record(cell, "nox_session_s", seconds, "the cell's nox session in the matrix run")
