"""Make installed interpreters discoverable to nox without the user doing anything.

nox (through python-discovery) looks on PATH; an inactive pyenv version is not on
PATH (its shim fails), and uv-managed Pythons live under uv's own directory. We
look in pyenv's versions, uv's managed Pythons and PATH, and link the best match
for each needed X.Y as ``pythonX.Y`` into one folder that goes first on PATH.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path


def _xy(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _pyenv_candidates(xy: str) -> list[Path]:
    roots = [os.environ.get("PYENV_ROOT"), str(Path.home() / ".pyenv")]
    found = []
    for root in filter(None, roots):
        versions = Path(root) / "versions"
        if not versions.is_dir():
            continue
        for entry in versions.iterdir():
            if re.fullmatch(rf"{re.escape(xy)}\.\d+", entry.name):
                exe = entry / "bin" / f"python{xy}"
                if exe.exists():
                    found.append(exe)
    # newest patch release first
    return sorted(found, key=lambda p: _xy(p.parent.parent.name), reverse=True)


def _uv_candidates(xy: str) -> list[Path]:
    uv = shutil.which("uv")
    if not uv:
        return []
    try:
        out = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", "--managed-python", xy],
            capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    path = out.stdout.strip()
    return [Path(path)] if out.returncode == 0 and path else []


def _path_candidates(xy: str) -> list[Path]:
    found = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        exe = Path(folder) / f"python{xy}"
        if exe.exists() and "shims" not in exe.parts:  # pyenv shims fail when inactive
            found.append(exe)
    return found


def _works(exe: Path, xy: str) -> bool:
    try:
        out = subprocess.run([str(exe), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == xy


def find(xy: str) -> Path | None:
    """A working interpreter for Python X.Y, or None."""
    for exe in _pyenv_candidates(xy) + _uv_candidates(xy) + _path_candidates(xy):
        if _works(exe, xy):
            return exe
    return None


def expose(versions: list[str], shim_dir: Path) -> dict[str, Path | None]:
    """Link ``pythonX.Y`` for each version found into ``shim_dir`` and put it first on PATH.

    Returns {version: interpreter or None}. Cheap on repeat: existing links are
    reused when they still point at a working interpreter.
    """
    shim_dir.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path | None] = {}
    for xy in versions:
        link = shim_dir / f"python{xy}"
        if link.is_symlink() and link.exists() and _works(link, xy):
            found[xy] = Path(os.readlink(link))
            continue
        exe = find(xy)
        found[xy] = exe
        if link.is_symlink() or link.exists():
            link.unlink()
        if exe is not None:
            link.symlink_to(exe)
    path = os.environ.get("PATH", "")
    if str(shim_dir) not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([str(shim_dir), path])
    return found


def missing_hint(xy: str) -> str:
    return (f"Python {xy} not found (looked in pyenv versions, uv-managed Pythons and PATH): "
            f"install it with `uv python install {xy}` or `pyenv install {xy}`; online, nox "
            f"can also fetch it by itself (`nox --download-python auto`, its default)")
