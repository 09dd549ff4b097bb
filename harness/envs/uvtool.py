"""uv, the one installer of a check's environments: find it, run it, shorten what it says.

uv comes with rngdrift (``nox[uv]``), so nothing else is needed; a ``uv`` on PATH is
used when the package's binary is not there.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

from ..errors import UserError

MAX_LINE = 300


def binary() -> str:
    """The uv executable: the ``uv`` package's, else one on PATH."""
    try:
        from uv import find_uv_bin
        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if found is None:
        raise UserError("uv is not installed (pip install uv); rngdrift builds environments "
                        "with it")
    return found


def run(args: list[str], cwd=None, timeout: float = 3600) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1", UV_NO_PROGRESS="1")
    return subprocess.run([binary(), *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def one_line(text: str) -> str:
    """uv's message as one line: the resolver's first reason ("torchvision==0.7.0 depends
    on torch==1.6.0 and you require torch==1.5.0"), else its error lines joined."""
    lines = [re.sub(r"^[\s×╰─▶│├┬┴┼╭╮╯·•-]+", "", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("hint:", "help:"))]
    joined = " ".join(lines)
    because = re.search(r"Because (.+?)(?:, we can conclude|\.\s|$)", joined)
    if because:
        reason = because[1]
    else:
        errors = [l.removeprefix("error:").strip() for l in lines if l.startswith("error:")]
        reason = "; ".join(errors or lines[-2:])
    reason = re.sub(r"\s+", " ", reason).strip()
    return reason if len(reason) <= MAX_LINE else reason[:MAX_LINE - 1] + "…"
