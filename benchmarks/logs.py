"""What the tools' output says: uv's logs and cache, a timed nox log, a cell's CSV."""
from __future__ import annotations

import re
from pathlib import Path

from _rngdrift.harness.cell import schema


def family_seconds(rows) -> dict[str, float]:
    """Scenario wall seconds summed by family (``augment`` for ``augment.hflip``) over
    every seeding mode and repeat, from a cell CSV's ``timing`` rows (``schema.Row``s)."""
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


# --- what uv fetched

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
    """A project name as PyPI's index spells it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_project(filename: str) -> str:
    return normalize(filename.split("-", 1)[0])


# --- a timed nox run

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
    """The cell id of a matrix session's name (``matrix(<cell id>)``), else None."""
    match = re.fullmatch(r"\w+\((py[^)]+)\)", name)
    return match.group(1) if match else None
