"""Measuring: timing whole commands, disk usage, plain downloads, PyPI's file sizes.

Plain functions with no state; ``benchmarks.stages`` puts them together per cell.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPI_SIMPLE = "https://pypi.org/simple/{}/"


class BenchError(Exception):
    """One measurement failed; the line says what and why. The run goes on."""


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


def uv_version(uv: str) -> str:
    """``uv --version``'s number (the version every uv timing was taken with)."""
    proc = subprocess.run([uv, "--version"], capture_output=True, text=True)
    return proc.stdout.split()[1]


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


def index_files(project: str) -> dict[str, tuple[int | None, str]]:
    """{filename: (bytes, url)} of every file on PyPI's JSON simple index page of
    ``project`` (PEP 691/700), read the way an installer reads it."""
    request = urllib.request.Request(PYPI_SIMPLE.format(project), headers={
        "Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        page = json.load(response)
    return {f["filename"]: (f.get("size"), f["url"]) for f in page.get("files", [])}
