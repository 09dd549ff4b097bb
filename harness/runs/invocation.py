"""Where nox was started, while nox loads the noxfile.

nox changes into the noxfile's folder before it loads it and keeps the folder it was
started from in its configuration (``session.invoked_from`` inside a session). The
noxfile's load-time plan (``--reuse-from``, ``--plan``) resolves the user's relative
paths (``--call f.py:fn``, ``--pytest tests/``) against it too: resolved against the
noxfile's folder, a file of the user's project reads as missing, the ``user`` part of
the result key differs from the one the session records, and no cell is ever reused
(issue 25, item 13).
"""
from __future__ import annotations

import os
import sys


def nox_invoked_from(default: str | None = None) -> str:
    """The folder nox was started from: nox's ``global_config.invoked_from``, found in
    the frames that are loading the noxfile; ``default`` (the current folder) outside nox."""
    frame = sys._getframe(1)
    while frame is not None:
        where = getattr(frame.f_locals.get("global_config"), "invoked_from", None)
        if isinstance(where, str) and os.path.isdir(where):
            return where
        frame = frame.f_back
    return default or os.getcwd()
