"""What rngdrift costs: installs, imports, scenarios and the whole matrix, measured.

    nox -s bench                                   representative cells, every stage
    nox -s bench -- --cells all --stages warm,import,run
    nox -s bench -- --stages matrix --matrix-log nox.log   parse a timed `nox -s matrix` log
    nox -s bench -- --tables benchmarks/out/A benchmarks/out/B   one table from earlier runs

Per cell (default: the oldest, a mid 1.x, a 2.0-2.2 and the newest cell; ``--cells all``):
  download   bytes of the wheels uv fetches (sizes from PyPI's index for the exact files)
  cold       venv + install into an empty private uv cache (what a first nightly pays)
  warm       the same from the now warm cache: a new venv, a re-created one (nox's default
             on a re-run) and the existing venv with its exact pins (``nox -R``)
  disk       the cache, and what a venv adds on top of it (hard links counted once)
  import     ``python -c pass`` and ``python -c "import torch, torchvision"``
  run        the whole cell (every scenario, seeding mode and repeat) forked from zygotes
             and with ``--start spawn``; scenario seconds summed by family
For the matrix:
  bandwidth  one big wheel downloaded plainly: the yardstick for the cold target
  parallel   the selected cells one after another (--jobs 2) vs two at once (--jobs 1)
  baseline   the naive way: ``python -m venv`` + pip with a private pip cache, cold and warm
  matrix     the whole default matrix, warm, sequential (``nox -s matrix``, or --matrix-log)

Every measurement is appended to <out>/measurements.jsonl the moment it is taken, so an
interrupted run keeps what it measured; the tables (bench.md and one CSV each) are built
from those records alone. Private caches and venvs live under --work (default
/tmp/bench-*) and are deleted after each cell; the user's own uv cache is never written.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import csv
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import compat, interpreters  # noqa: E402
from harness.cell import schema  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
CELL_STAGES = ("download", "cold", "warm", "disk", "import", "run")
MATRIX_STAGES = ("bandwidth", "parallel", "baseline", "matrix")
STAGES = CELL_STAGES + MATRIX_STAGES
MATRIX = "matrix"  # the ``cell`` of records about the whole matrix or the machine

# The targets.
WARM_SETUP_TARGET_S = 5.0
CELL_TARGET_S = 60.0
MATRIX_TARGET_S = 600.0
COLD_FACTOR_TARGET = 1.3

# Disk a cold install needs at its peak (unpacked cache, hard-linked venvs) and a pip
# install (wheel cache plus an unpacked copy), from du of real cells; with a margin.
NEED_UV = {1: 5 << 30, 2: 14 << 30}  # with the unpack-only copy and the plain download
NEED_PIP = {1: 4 << 30, 2: 10 << 30}

PYPI_SIMPLE = "https://pypi.org/simple/{}/"
PIP_ENV_DROP = ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX")


class BenchError(Exception):
    """One measurement failed; the line says what and why. The run goes on."""


# ---------------------------------------------------------------------------
# Cells


def representative_cells(cells: list[compat.Cell]) -> list[compat.Cell]:
    """The oldest cell, one in the middle of torch 1.x, the newest of torch 2.0-2.2, the newest."""
    def major_minor(cell):
        return compat._version(cell.torch)[:2]
    ones = [c for c in cells if major_minor(c) < (2, 0)]
    early_twos = [c for c in cells if (2, 0) <= major_minor(c) <= (2, 2)]
    picks = [cells[0], ones[len(ones) // 2] if ones else None,
             early_twos[-1] if early_twos else None, cells[-1]]
    out = []
    for cell in picks:
        if cell is not None and cell not in out:
            out.append(cell)
    return out


def select_cells(spec: str, cells: list[compat.Cell] = compat.DEFAULT) -> list[compat.Cell]:
    """``subset`` (representative), ``all`` (the default matrix) or comma-separated cell ids."""
    if spec == "subset":
        return representative_cells(cells)
    if spec == "all":
        return list(cells)
    out = []
    for cell_id in filter(None, (part.strip() for part in spec.split(","))):
        cell = compat.find(cell_id) or compat.parse_id(cell_id)
        if cell is None:
            raise ValueError(f"--cells: {cell_id!r} is not a cell id like py3.8-torch1.5.0-tv0.6.0")
        out.append(cell)
    return out


def torch_major(cell: compat.Cell) -> int:
    return 1 if compat._version(cell.torch) < (2, 0) else 2


# ---------------------------------------------------------------------------
# Records: every measurement, one JSON line each


def record(out: Path, cell: str, metric: str, value, note: str = "", quiet=False) -> dict:
    rec = {"cell": cell, "metric": metric, "value": value, "note": note,
           "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with open(out / "measurements.jsonl", "a") as handle:
        handle.write(json.dumps(rec) + "\n")
    if quiet:
        return rec
    shown = f"{value:.3f}" if isinstance(value, float) else value
    print(f"bench: {cell} {metric} = {shown}" + (f"  ({note})" if note else ""), flush=True)
    return rec


def load_records(dirs: list[Path]) -> dict[tuple[str, str], dict]:
    """(cell, metric) -> the latest record over the runs' measurements.jsonl, in order."""
    latest: dict[tuple[str, str], dict] = {}
    for directory in dirs:
        path = Path(directory) / "measurements.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no measurements here (not a bench output folder)")
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                latest[(rec["cell"], rec["metric"])] = rec
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{path}:{number}: not a measurement record") from None
    return latest


# ---------------------------------------------------------------------------
# Pure helpers (tested in tests/test_bench.py)


def disk_usage(paths) -> int:
    """Bytes allocated on disk under ``paths``, each inode counted once (hard links from
    uv's cache into a venv cost nothing twice). Symlinks are not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [Path(p) for p in paths]
    while stack:
        path = stack.pop()
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            continue
        seen.add(key)
        total += st.st_blocks * 512
        if os.path.isdir(path) and not os.path.islink(path):
            with os.scandir(path) as entries:
                stack.extend(Path(e.path) for e in entries)
    return total


def family_seconds(rows) -> dict[str, float]:
    """Scenario wall seconds summed by family (``augment`` for ``augment.hflip``) over
    every seeding mode and repeat, from a cell CSV's ``timing`` rows."""
    out: dict[str, float] = {}
    for row in rows:
        if row.kind != schema.TIMING or row.metric != schema.TIMING_METRIC:
            continue
        try:
            seconds = float(row.value)
        except (TypeError, ValueError):
            continue
        family = row.scenario.split(".", 1)[0]
        out[family] = out.get(family, 0.0) + seconds
    return dict(sorted(out.items()))


_SELECTING = re.compile(r"Selecting: (\S+)==(\S+) \[\w+\] \((\S+\.whl)\)")


def selected_wheels(uv_log: str) -> list[str]:
    """Wheel files uv chose (``uv pip install -v``'s ``Selecting:`` lines), one per
    package: the last choice wins if the resolver backtracked."""
    chosen: dict[str, str] = {}
    for name, _version, filename in _SELECTING.findall(uv_log):
        chosen[normalize(name)] = filename
    return sorted(chosen.values())


_WHEEL_URL = re.compile(rb"https?://[^\s\"'\x00-\x1f]+?\.whl")


def downloaded_wheels(cache: Path) -> dict[str, str]:
    """{wheel filename: URL} of every wheel uv downloaded into ``cache``: its HTTP cache
    keeps one ``.http`` pointer per wheel file fetched (wheels-v*/<index>/<name>/)."""
    out = {}
    for pointer in sorted(Path(cache).glob("wheels-v*/*/*/*.http")):
        match = _WHEEL_URL.search(pointer.read_bytes())
        if match:
            url = match.group().decode()
            out[url.rsplit("/", 1)[1]] = url
    return out


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_project(filename: str) -> str:
    return normalize(filename.split("-", 1)[0])


_NOX_SESSION = re.compile(r"Session (\S+) (was successful|failed|was skipped)(?: in (.+?))?[.:]?$",
                          re.M)
_WALL = re.compile(r"rc=(-?\d+)\s+wall=([\d.]+)s")


def natural_seconds(text: str | None) -> float | None:
    """nox's humanized durations ('15 seconds', 'a minute', '2 minutes') in seconds.
    Minutes are rounded by nox, so these are coarse above a minute."""
    if not text:
        return None
    text = text.strip()
    units = {"second": 1, "minute": 60, "hour": 3600}
    if text == "a moment":
        return 0.5
    match = re.fullmatch(r"(an?|\d+) (second|minute|hour)s?", text)
    if not match:
        return None
    count = 1 if match.group(1) in ("a", "an") else int(match.group(1))
    return float(count * units[match.group(2)])


def parse_nox_log(text: str) -> dict:
    """Sessions (name, status, seconds) of a nox log, and ``rc=N wall=Ss`` (the line the
    bench, or whoever timed the run, appended) as rc and wall."""
    sessions = [(name, status.split()[-1], natural_seconds(duration))
                for name, status, duration in _NOX_SESSION.findall(text)]
    walls = _WALL.findall(text)
    rc, wall = (int(walls[-1][0]), float(walls[-1][1])) if walls else (None, None)
    return {"sessions": sessions, "rc": rc, "wall": wall}


def session_cell(name: str) -> str | None:
    match = re.fullmatch(r"\w+\((py[^)]+)\)", name)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------
# Tables (from records only)


def _value(records, cell, metric):
    rec = records.get((cell, metric))
    return None if rec is None else rec["value"]


def _fmt(value, scale=1.0, digits=1) -> str:
    if value is None or isinstance(value, str):
        return "" if value is None else value
    return f"{value / scale:.{digits}f}"


def _ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def cell_ids_in(records) -> list[str]:
    ids = {cell for cell, _ in records if cell != MATRIX}
    return compat.order(ids)


def download_seconds(records, cell):
    """How long the cell's wheels take to download alone: timed for the cell itself, else
    its bytes at the measured plain bandwidth."""
    timed = _value(records, cell, "download_alone_s")
    if timed is not None:
        return timed
    return _ratio(_value(records, cell, "download_bytes"), _value(records, MATRIX, "bandwidth_Bps"))


CELL_COLUMNS = (
    ("download MB", "download_bytes", 1e6, 0),
    ("cold set-up s", "cold_setup_s", 1, 1),
    ("download alone s", None, 1, 1),
    ("unpack alone s", "unpack_s", 1, 1),
    ("warm new venv s", "warm_setup_new_s", 1, 2),
    ("warm re-create s", "warm_setup_recreate_s", 1, 2),
    ("warm existing venv s", "warm_setup_existing_s", 1, 2),
    ("cache GB", "cache_bytes", 1e9, 2),
    ("venv over cache MB", "venv_added_bytes", 1e6, 0),
    ("python start s", "python_start_s", 1, 2),
    ("import torch+tv s", "import_s", 1, 2),
    ("scenarios s (sum)", "scenario_s", 1, 1),
    ("cell wall fork s", "cell_wall_fork_s", 1, 1),
    ("cell wall spawn s", "cell_wall_spawn_s", 1, 1),
    ("nox session s (matrix run)", "nox_session_s", 1, 0),
)


def cell_table(records) -> tuple[list[str], list[list[str]]]:
    headers = ["cell"] + [title for title, *_ in CELL_COLUMNS]
    rows = []
    for cell in cell_ids_in(records):
        row = [cell]
        for _title, metric, scale, digits in CELL_COLUMNS:
            if metric is None:  # download alone: "~" where only estimated from the bandwidth
                estimated = _value(records, cell, "download_alone_s") is None
                text = _fmt(download_seconds(records, cell), scale, digits)
                row.append("~" + text if text and estimated else text)
            else:
                row.append(_fmt(_value(records, cell, metric), scale, digits))
        if any(row[1:]):
            rows.append(row)
    return _drop_empty_columns(headers, rows)


def _drop_empty_columns(headers, rows):
    keep = [i for i in range(len(headers)) if i == 0 or any(row[i] for row in rows)]
    return [headers[i] for i in keep], [[row[i] for i in keep] for row in rows]


def family_table(records) -> tuple[list[str], list[list[str]]]:
    cells = [c for c in cell_ids_in(records)
             if any(m.startswith("family_s:") for (cc, m) in records if cc == c)]
    families = sorted({m.split(":", 1)[1] for (c, m) in records if m.startswith("family_s:")})
    headers = ["family"] + cells
    rows = [[family] + [_fmt(_value(records, c, "family_s:" + family), 1, 1) for c in cells]
            for family in families]
    return headers, rows


def baseline_table(records) -> tuple[list[str], list[list[str]]]:
    headers = ["cell", "pip cold s", "uv cold s", "pip/uv cold", "pip warm s", "uv warm s",
               "pip/uv warm"]
    rows = []
    for cell in cell_ids_in(records):
        pip_cold, pip_warm = (_value(records, cell, m) for m in ("pip_cold_setup_s", "pip_warm_setup_s"))
        if pip_cold is None and pip_warm is None:
            continue
        uv_cold, uv_warm = (_value(records, cell, m) for m in ("cold_setup_s", "warm_setup_new_s"))
        rows.append([cell, _fmt(pip_cold), _fmt(uv_cold), _fmt(_ratio(pip_cold, uv_cold), digits=1) + "x",
                     _fmt(pip_warm), _fmt(uv_warm, digits=2),
                     _fmt(_ratio(pip_warm, uv_warm), digits=0) + "x"])
    return headers, rows


def unique_download_bytes(records, cells) -> int | None:
    """Bytes a cold matrix downloads through one uv cache: every cell's wheels, a file
    that several cells share counted once. None unless every cell's list was recorded."""
    sizes: dict[str, int] = {}
    for cell in cells:
        listed = _value(records, cell.id, "wheels")
        if listed is None:
            return None
        for item in listed.split():
            name, size = item.rsplit("=", 1)
            sizes[name] = int(size)
    return sum(sizes.values())


def matrix_estimates(records) -> dict[str, tuple[float | None, str]]:
    """Matrix-level numbers derived from the records, each with how it was obtained."""
    out: dict[str, tuple[float | None, str]] = {}
    seq = _value(records, MATRIX, "matrix_seq_warm_s")
    par_seq, par_two = (_value(records, MATRIX, m) for m in ("parallel_seq_s", "parallel_two_s"))
    speedup = _ratio(par_seq, par_two)
    if seq is not None and speedup:
        out["matrix_par_warm_s"] = (seq / speedup, f"extrapolated: sequential matrix / {speedup:.2f} "
                                    "(two cells at once vs one after another, measured on "
                                    f"{records[(MATRIX, 'parallel_two_s')]['note']})")
    # Cold matrix: the warm matrix plus, per cell, what a cold install costs beyond a warm
    # one, scaled from the measured cold cells by download bytes.
    bandwidth = _value(records, MATRIX, "bandwidth_Bps")
    cold_cells = [c for c in cell_ids_in(records)
                  if _value(records, c, "cold_setup_s") is not None
                  and _value(records, c, "download_bytes")]
    all_bytes = [_value(records, c.id, "download_bytes") for c in compat.DEFAULT]
    unique = unique_download_bytes(records, compat.DEFAULT)
    if unique is not None:
        out["matrix_download_bytes"] = (float(unique), f"{len(compat.DEFAULT)} default cells, a "
                                        "wheel two cells share counted once (one uv cache)")
    if seq is not None and bandwidth and cold_cells and all(all_bytes):
        extra = sum(_value(records, c, "cold_setup_s") - (_value(records, c, "warm_setup_recreate_s") or 0)
                    for c in cold_cells)
        per_byte = extra / sum(_value(records, c, "download_bytes") for c in cold_cells)
        total = unique if unique is not None else sum(all_bytes)
        out["matrix_download_alone_s"] = (total / bandwidth, "matrix download bytes / bandwidth")
        out["matrix_cold_s"] = (seq + total * per_byte,
                                f"extrapolated: warm matrix + download bytes x cold overhead per byte "
                                f"measured on {len(cold_cells)} cold cells")
    return out


MATRIX_ROWS = (
    ("machine", "machine", None, ""),
    ("plain download bandwidth", "bandwidth_Bps", 1e6, "MB/s"),
    ("full default matrix, warm, sequential", "matrix_seq_warm_s", 1, "s"),
    ("  cells (sessions) in it", "matrix_sessions", 1, ""),
    ("  slowest session", "matrix_slowest_session_s", 1, "s"),
    ("selected cells one after another (--jobs 2)", "parallel_seq_s", 1, "s"),
    ("the same cells two at once (--jobs 1 each)", "parallel_two_s", 1, "s"),
    ("full default matrix, warm, two cells at once", "matrix_par_warm_s", 1, "s"),
    ("download of the whole default matrix", "matrix_download_bytes", 1e9, "GB"),
    ("  at plain bandwidth", "matrix_download_alone_s", 1, "s"),
    ("full default matrix, cold, sequential", "matrix_cold_s", 1, "s"),
)


def _digits(value, scale, unit) -> int:
    if unit == "GB":
        return 2
    if unit == "" or not isinstance(value, (int, float)):
        return 0
    return 0 if value / scale >= 100 else 1


def matrix_table(records) -> tuple[list[str], list[list[str]]]:
    derived = matrix_estimates(records)
    rows = []
    for title, metric, scale, unit in MATRIX_ROWS:
        if metric in derived:
            value, note = derived[metric]
        elif (MATRIX, metric) in records:
            value, note = records[(MATRIX, metric)]["value"], records[(MATRIX, metric)]["note"]
        else:
            continue
        text = _fmt(value, scale or 1, _digits(value, scale or 1, unit))
        rows.append([title, f"{text} {unit}".strip(), note])
    return ["what", "value", "how"], rows


def targets_table(records) -> tuple[list[str], list[list[str]]]:
    rows = []

    def verdict(value, limit):
        return "" if value is None else ("met" if value <= limit else "missed")

    cells = cell_ids_in(records)
    warm = [(c, _value(records, c, "warm_setup_recreate_s")) for c in cells]
    warm = [(c, v) for c, v in warm if v is not None]
    if warm:
        cell, worst = max(warm, key=lambda cv: cv[1])
        rows.append([f"warm set-up per cell <= {WARM_SETUP_TARGET_S:g} s (re-created venv)",
                     f"max {worst:.2f} s ({cell})", verdict(worst, WARM_SETUP_TARGET_S)])
    walls = [(c, _value(records, c, "cell_wall_fork_s")) for c in cells]
    walls = [(c, v) for c, v in walls if v is not None]
    if walls:
        cell, worst = max(walls, key=lambda cv: cv[1])
        rows.append([f"one cell's scenarios <= {CELL_TARGET_S:g} s",
                     f"max {worst:.1f} s ({cell})", verdict(worst, CELL_TARGET_S)])
    seq = _value(records, MATRIX, "matrix_seq_warm_s")
    if seq is not None:
        rows.append([f"full default matrix, warm <= {MATRIX_TARGET_S:g} s",
                     f"{seq:.0f} s sequential", verdict(seq, MATRIX_TARGET_S)])
    colds = [(c, _ratio(_value(records, c, "cold_setup_s"), download_seconds(records, c))) for c in cells]
    colds = [(c, v) for c, v in colds if v is not None]
    if colds:
        cell, worst = max(colds, key=lambda cv: cv[1])
        rows.append([f"cold set-up <= {COLD_FACTOR_TARGET:g} x download time",
                     f"max {worst:.2f} x ({cell})", verdict(worst, COLD_FACTOR_TARGET)])
    return ["target", "measured", "verdict"], rows


TABLES = (
    ("targets", "Targets", targets_table),
    ("cells", "Per cell", cell_table),
    ("families", "Scenario seconds by family (all modes x repeats, forked run)", family_table),
    ("matrix", "Whole matrix", matrix_table),
    ("baseline", "Naive baseline: python -m venv + pip (private pip cache)", baseline_table),
)


def markdown(headers, rows) -> str:
    def numeric(i):
        cells = [str(row[i]).strip("~x").split(" ")[0] for row in rows if str(row[i])]
        return bool(cells) and all(re.fullmatch(r"-?[\d.]+", c) for c in cells)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if numeric(i) else "---" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_tables(records, out: Path) -> str:
    """Write bench.md and one CSV per table into ``out``; return the markdown."""
    parts = []
    for name, title, build in TABLES:
        headers, rows = build(records)
        if not rows:
            continue
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        (out / f"{name}.csv").write_text(buf.getvalue())
        parts.append(f"### {title}\n\n{markdown(headers, rows)}\n")
    text = "\n".join(parts)
    (out / "bench.md").write_text(text)
    return text


# ---------------------------------------------------------------------------
# Measuring


def uv_path() -> str:
    try:
        from nox.virtualenv import find_uv  # the uv nox itself uses
        _, uv, _ = find_uv()
        if uv:
            return uv
    except ImportError:
        pass
    uv = shutil.which("uv")
    if not uv:
        raise SystemExit("bench: uv not found (pip install 'nox[uv]')")
    return uv


def run(cmd, *, env=None, log: Path | None = None, cwd=ROOT, timeout=3600) -> float:
    """Run ``cmd`` and return its wall seconds; its output goes to ``log``. A failure
    raises BenchError with the command and its last output line."""
    start = time.perf_counter()
    with open(log or os.devnull, "a") as handle:
        handle.write("$ " + " ".join(map(str, cmd)) + "\n")
        handle.flush()
        proc = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, stdout=handle,
                              stderr=subprocess.STDOUT, timeout=timeout)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = ""
        if log and log.is_file():
            lines = [l for l in log.read_text(errors="replace").splitlines() if l.strip()]
            tail = ": " + lines[-1].strip() if lines else ""
        raise BenchError(f"{Path(str(cmd[0])).name} {' '.join(map(str, cmd[1:3]))} ... "
                         f"exited {proc.returncode}{tail}")
    return elapsed


def net_rx_bytes() -> int:
    """Bytes received on every interface but loopback (a cross-check of download size)."""
    total = 0
    try:
        for line in Path("/proc/net/dev").read_text().splitlines()[2:]:
            name, data = line.split(":", 1)
            if name.strip() != "lo":
                total += int(data.split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return total


def plain_download(urls, into: Path | None = None) -> tuple[int, float]:
    """Fetch ``urls`` one after another (into files in ``into``, else into memory):
    (bytes, seconds). The yardstick for the cold target: the downloads alone, without
    unpacking or installing."""
    start = time.perf_counter()
    got = 0
    for url in urls:
        target = open(into / url.rsplit("/", 1)[1], "wb") if into else None
        try:
            with urllib.request.urlopen(url, timeout=300) as response:
                while chunk := response.read(1 << 20):
                    got += len(chunk)
                    if target:
                        target.write(chunk)
        finally:
            if target:
                target.close()
    return got, time.perf_counter() - start


def load_text() -> str:
    """The 1-minute load average: a timing taken while others used the cores says so."""
    return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def machine_text() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {ram:.0f} GiB RAM"


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
        return record(self.out, cell, metric, value, note)

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
                request = urllib.request.Request(PYPI_SIMPLE.format(project), headers={
                    "Accept": "application/vnd.pypi.simple.v1+json"})
                with urllib.request.urlopen(request, timeout=60) as response:
                    page = json.load(response)
                self.pages[project] = {f["filename"]: (f.get("size"), f["url"])
                                       for f in page.get("files", [])}
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
        record(self.out, cell.id, "wheels", " ".join(f"{name}={size}" for name, (size, _) in
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
            if {"import", "run"} & set(stages):
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
        try:
            from nox.sessions import _normalize_path
            candidates.append(Path(_normalize_path(str(ROOT / ".nox"), f"matrix({cell.id})"))
                              / "bin" / "python")
        except ImportError:
            pass
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
        seconds = run([python, "-m", "harness.cell", "--out", csv_path, "--cell", cell.id,
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
        path = self.out / "measurements.jsonl"
        return set(load_records([self.out])) if path.is_file() else set()

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


# ---------------------------------------------------------------------------
# CLI


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="nox -s bench --", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="subset",
                        help="'subset' (default: oldest, mid 1.x, 2.0-2.2, newest), 'all' "
                             "(the default matrix) or comma-separated cell ids")
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="comma-separated, from: " + ", ".join(STAGES) + " (default: all)")
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
    bench.record(MATRIX, "machine", machine_text(), f"uv {subprocess.run([bench.uv, '--version'], capture_output=True, text=True).stdout.split()[1]}")
    try:
        if set(CELL_STAGES) & set(args.stages):
            for cell in args.cells:
                print(f"bench: --- {cell.id}", flush=True)
                bench.measure_cell(cell)
        for stage, fn in (("baseline", bench.measure_baseline), ("bandwidth", bench.measure_bandwidth),
                          ("parallel", bench.measure_parallel), ("matrix", bench.measure_matrix)):
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
