"""One nox run at a time in a cell's venv, and a fresh venv for each run.

nox makes a session's venv before the session runs, and by default it deletes and
makes it again: a second ``nox -s "matrix(<cell>)"`` started while a first one runs
emptied the venv under the first one's feet (its next child failed with
``ModuleNotFoundError`` and its session still said success), and any run that then
failed left the venv empty. So the matrix sessions ask nox to reuse their venv
(``@nox.session(reuse_venv=True)``: nox never deletes it), and each session, once
it holds the venv's lock, makes it afresh itself:

    with venvguard.holding(session, cell_id):   # UserError: another run uses it
        venvguard.refresh(session)               # fresh, unless you asked nox to reuse
        ... install, run ...

``nox --reuse-venv yes`` (or ``-r``) keeps the venv as it is, as nox would; with
``--reuse-venv never`` nox deletes it before the session starts, unguarded.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path

from ..errors import UserError

LOCK_SUFFIX = ".rngdrift-lock"


def _location(session) -> str | None:
    return getattr(getattr(session, "virtualenv", None), "location", None)


@contextlib.contextmanager
def holding(session, cell_id: str):
    """Hold the lock of ``session``'s venv (a file beside it in nox's envdir) until the
    block ends; a UserError, touching nothing, when another run holds it."""
    location = _location(session)
    if not location:  # no venv (a reused cell, --no-venv): nothing to guard
        yield
        return
    with exclusive(Path(location + LOCK_SUFFIX),
                   lambda holder: f"{cell_id}: another nox run is using this cell's venv "
                                  f"{location} (pid {holder}); wait for it, or give this run "
                                  "its own --envdir"):
        yield


@contextlib.contextmanager
def exclusive(path: Path, busy):
    """Hold an exclusive lock on ``path`` (made if missing, the holder's pid written in it)
    until the block ends; a UserError ``busy(pid of the holder)``, touching nothing, when
    another process holds it."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            handle.seek(0)
            raise UserError(busy(handle.read().strip() or "?")) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def user_reuses(session) -> bool:
    """Whether the user asked nox to keep venvs as they are (``--reuse-venv yes|always``,
    ``-r``, ``-R``)."""
    config = getattr(getattr(session, "_runner", None), "global_config", None)
    return getattr(config, "reuse_venv", "no") in ("yes", "always")


def refresh(session) -> bool:
    """Make ``session``'s venv afresh (nox's own backend and interpreter), as nox would
    have before the session had it not been told to reuse it; False when kept (the user
    asked nox to reuse venvs, or nox made it for this very session)."""
    venv = getattr(session, "virtualenv", None)
    if venv is None or not _location(session) or user_reuses(session):
        return False
    if not getattr(venv, "_reused", False):
        return False  # nox just made it: nothing of an earlier run is in it
    venv.reuse_existing = False
    venv.create()
    return True
