"""Every table of the bench, built from measurement records alone.

``write_tables`` writes ``bench.md`` (one Markdown section per table that has rows) and
one CSV per table; the tables compare what was measured with the issue's targets,
list each cell, sum scenario seconds by family, and derive the whole matrix's numbers.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from benchmarks.records import MATRIX, latest
from _rngdrift.harness.matrix import compat
from _rngdrift.harness import text

# The targets.
WARM_SETUP_TARGET_S = 5.0
CELL_TARGET_S = 60.0
MATRIX_TARGET_S = 600.0
COLD_FACTOR_TARGET = 1.3


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
    timed = latest(records, cell, "download_alone_s")
    if timed is not None:
        return timed
    return _ratio(latest(records, cell, "download_bytes"), latest(records, MATRIX, "bandwidth_Bps"))


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
                estimated = latest(records, cell, "download_alone_s") is None
                shown = _fmt(download_seconds(records, cell), scale, digits)
                row.append("~" + shown if shown and estimated else shown)
            else:
                row.append(_fmt(latest(records, cell, metric), scale, digits))
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
    rows = [[family] + [_fmt(latest(records, c, "family_s:" + family), 1, 1) for c in cells]
            for family in families]
    return headers, rows


def baseline_table(records) -> tuple[list[str], list[list[str]]]:
    headers = ["cell", "pip cold s", "uv cold s", "pip/uv cold", "pip warm s", "uv warm s",
               "pip/uv warm"]
    rows = []
    for cell in cell_ids_in(records):
        pip_cold, pip_warm = (latest(records, cell, m) for m in ("pip_cold_setup_s", "pip_warm_setup_s"))
        if pip_cold is None and pip_warm is None:
            continue
        uv_cold, uv_warm = (latest(records, cell, m) for m in ("cold_setup_s", "warm_setup_new_s"))
        rows.append([cell, _fmt(pip_cold), _fmt(uv_cold), _fmt(_ratio(pip_cold, uv_cold), digits=1) + "x",
                     _fmt(pip_warm), _fmt(uv_warm, digits=2),
                     _fmt(_ratio(pip_warm, uv_warm), digits=0) + "x"])
    return headers, rows


def unique_download_bytes(records, cells) -> int | None:
    """Bytes a cold matrix downloads through one uv cache: every cell's wheels, a file
    that several cells share counted once. None unless every cell's list was recorded."""
    sizes: dict[str, int] = {}
    for cell in cells:
        listed = latest(records, cell.id, "wheels")
        if listed is None:
            return None
        for item in listed.split():
            name, size = item.rsplit("=", 1)
            sizes[name] = int(size)
    return sum(sizes.values())


def matrix_estimates(records) -> dict[str, tuple[float | None, str]]:
    """Matrix-level numbers derived from the records, each with how it was obtained."""
    out: dict[str, tuple[float | None, str]] = {}
    seq = latest(records, MATRIX, "matrix_seq_warm_s")
    par_seq, par_two = (latest(records, MATRIX, m) for m in ("parallel_seq_s", "parallel_two_s"))
    speedup = _ratio(par_seq, par_two)
    if seq is not None and speedup:
        out["matrix_par_warm_s"] = (seq / speedup, f"extrapolated: sequential matrix / {speedup:.2f} "
                                    "(two cells at once vs one after another, measured on "
                                    f"{records[(MATRIX, 'parallel_two_s')]['note']})")
    # Cold matrix: the warm matrix plus, per cell, what a cold install costs beyond a warm
    # one, scaled from the measured cold cells by download bytes.
    bandwidth = latest(records, MATRIX, "bandwidth_Bps")
    cold_cells = [c for c in cell_ids_in(records)
                  if latest(records, c, "cold_setup_s") is not None
                  and latest(records, c, "download_bytes")]
    all_bytes = [latest(records, c.id, "download_bytes") for c in compat.DEFAULT]
    unique = unique_download_bytes(records, compat.DEFAULT)
    if unique is not None:
        out["matrix_download_bytes"] = (float(unique), f"{len(compat.DEFAULT)} default cells, a "
                                        "wheel two cells share counted once (one uv cache)")
    if seq is not None and bandwidth and cold_cells and all(all_bytes):
        extra = sum(latest(records, c, "cold_setup_s") - (latest(records, c, "warm_setup_recreate_s") or 0)
                    for c in cold_cells)
        per_byte = extra / sum(latest(records, c, "download_bytes") for c in cold_cells)
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
        shown = _fmt(value, scale or 1, _digits(value, scale or 1, unit))
        rows.append([title, f"{shown} {unit}".strip(), note])
    return ["what", "value", "how"], rows


def targets_table(records) -> tuple[list[str], list[list[str]]]:
    rows = []

    def verdict(value, limit):
        return "" if value is None else ("met" if value <= limit else "missed")

    cells = cell_ids_in(records)
    warm = [(c, latest(records, c, "warm_setup_recreate_s")) for c in cells]
    warm = [(c, v) for c, v in warm if v is not None]
    if warm:
        cell, worst = max(warm, key=lambda cv: cv[1])
        rows.append([f"warm set-up per cell <= {WARM_SETUP_TARGET_S:g} s (re-created venv)",
                     f"max {worst:.2f} s ({cell})", verdict(worst, WARM_SETUP_TARGET_S)])
    walls = [(c, latest(records, c, "cell_wall_fork_s")) for c in cells]
    walls = [(c, v) for c, v in walls if v is not None]
    if walls:
        cell, worst = max(walls, key=lambda cv: cv[1])
        rows.append([f"one cell's scenarios <= {CELL_TARGET_S:g} s",
                     f"max {worst:.1f} s ({cell})", verdict(worst, CELL_TARGET_S)])
    seq = latest(records, MATRIX, "matrix_seq_warm_s")
    if seq is not None:
        rows.append([f"full default matrix, warm <= {MATRIX_TARGET_S:g} s",
                     f"{seq:.0f} s sequential", verdict(seq, MATRIX_TARGET_S)])
    colds = [(c, _ratio(latest(records, c, "cold_setup_s"), download_seconds(records, c))) for c in cells]
    colds = [(c, v) for c, v in colds if v is not None]
    if colds:
        cell, worst = max(colds, key=lambda cv: cv[1])
        rows.append([f"cold set-up <= {COLD_FACTOR_TARGET:g} x download time",
                     f"max {worst:.2f} x ({cell})", verdict(worst, COLD_FACTOR_TARGET)])
    return ["target", "measured", "verdict"], rows


def costs_table(records) -> tuple[list[str], list[list[str]]]:
    """rngdrift's own work: attribution overhead per cell, the report's CPU time."""
    rows = []
    for (cell, metric), rec in sorted(records.items()):
        if metric.startswith(("attribution_overhead_", "attribution_cpu_overhead_", "report_")):
            unit = "%" if metric.endswith("_pct") else ("x" if metric == "report_growth" else "s")
            value = rec["value"]
            shown = f"{value:.1f} {unit}" if isinstance(value, (int, float)) else str(value)
            rows.append([cell, metric, shown, rec.get("note", "")])
    return ["cell", "what", "value", "how"], rows


NIGHTLY_ROWS = (  # (metric, what, scale, unit): the stages of benchmarks/nightly.py
    ("uvcache_cold_s", "cold install, empty uv cache (PyPI)", 1, "s"),
    ("uvcache_bytes", "uv cache of the cell", 2**30, "GiB"),
    ("uvcache_pack_bytes", "the cache packed as actions/cache packs it", 2**30, "GiB"),
    ("uvcache_pack_s", "packing it", 1, "s"),
    ("uvcache_unpack_s", "unpacking it (its download from GitHub not included)", 1, "s"),
    ("uvcache_restored_install_s", "install from the restored cache", 1, "s"),
    ("uvcache_pruned_bytes", "left of the cache after `uv cache prune --ci`", 2**20, "MiB"),
    ("incremental_nothing_new_s", "a night with nothing new (every cell reused), report "
                                  "included", 1, "s"),
    ("lock_refresh_s", "lock refresh from PyPI", 1, "s"),
)


def nightly_table(records) -> tuple[list[str], list[list[str]]]:
    rows = []
    for metric, what, scale, unit in NIGHTLY_ROWS:
        for (cell, name), rec in sorted(records.items()):
            if name == metric and rec.get("value") is not None:
                rows.append([cell, what, f"{rec['value'] / scale:.2f} {unit}", rec.get("note", "")])
    return ["cell", "what", "value", "how"], rows


def check_table(records) -> tuple[list[str], list[list[str]]]:
    from benchmarks import check
    return check.table(records)


def atlas_table(records) -> tuple[list[str], list[list[str]]]:
    """The patches run under --max-cache, the report and atlas at scale, explain."""
    from benchmarks import atlas
    rows = []
    for (cell, metric), rec in sorted(records.items()):
        if cell in atlas.ROWS and rec.get("value") is not None:
            value = rec["value"]
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            rows.append([metric, shown, rec.get("note", "")])
    return ["what", "value", "how"], rows


def usercode_table(records) -> tuple[list[str], list[list[str]]]:
    from benchmarks import usercode
    return usercode.table(records, cell_ids_in(records), latest, _fmt)


TABLES = (
    ("targets", "Targets", targets_table),
    ("cells", "Per cell", cell_table),
    ("families", "Scenario seconds by family (all modes x repeats, forked run)", family_table),
    ("matrix", "Whole matrix", matrix_table),
    ("baseline", "Naive baseline: python -m venv + pip (private pip cache)", baseline_table),
    ("costs", "rngdrift's own work: attribution overhead and report time", costs_table),
    ("nightly", "Nightly: a wheel cache, a night with nothing new, a lock refresh", nightly_table),
    ("atlas", "The atlas: a disk-bounded patches run, report and atlas CPU, explain", atlas_table),
    ("usercode", "Your code as it is: what the harness adds (--call, --script; CPU ms, best "
     "of 6)", usercode_table),
    ("check", "Your upgrade: rngdrift check on a team's repository", check_table),
)


def markdown(headers, rows) -> str:
    """The table in Markdown, columns whose every value is a number right-aligned."""
    def numeric(i):
        cells = [str(row[i]).strip("~x").split(" ")[0] for row in rows if str(row[i])]
        return bool(cells) and all(re.fullmatch(r"-?[\d.]+", c) for c in cells)
    right = {i for i in range(len(headers)) if numeric(i)}
    return "\n".join(text.table(headers, [[str(v) for v in row] for row in rows], right))


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
    markdown_text = "\n".join(parts)
    (out / "bench.md").write_text(markdown_text)
    return markdown_text
