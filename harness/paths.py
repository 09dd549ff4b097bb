"""Where rngdrift's own files are, in a checkout and when installed from a wheel.

    SOURCE     the folder holding ``harness/`` and ``scenarios/``: a checkout's root, or
               the installed ``_rngdrift`` package
    CHECKOUT   the checkout's root (``noxfile.py`` and ``matrix.lock.json`` beside the
               code), or None when installed
    NOXFILE    the sessions (a wheel carries them inside ``_rngdrift``)
    LOCK       the committed lock the matrix is chosen from
    VERSION    rngdrift's version (``_rngdrift.__version__``)

and where results go: ``results/`` inside the checkout when rngdrift is run from it,
``rngdrift-results/`` in the directory it was started from otherwise, never into
site-packages or into another project's checkout. nox runs its sessions in the
noxfile's folder (inside site-packages when installed), so ``rngdrift run`` tells
them where the user started in RNGDRIFT_STARTED_IN.
"""
from __future__ import annotations

import os
from pathlib import Path

import _rngdrift

SOURCE = Path(_rngdrift.__path__[0]).resolve()
PACKAGE = Path(_rngdrift.__file__).resolve().parent   # the _rngdrift folder itself
PUBLIC = PACKAGE.parent / "rngdrift"                   # the public package beside it
CHECKOUT = SOURCE if SOURCE != PACKAGE else None
NOXFILE = SOURCE / "noxfile.py"
LOCK = SOURCE / "matrix.lock.json"
VERSION = _rngdrift.__version__
RESULTS_IN_CHECKOUT = "results"
RESULTS_ELSEWHERE = "rngdrift-results"
STARTED_IN_ENV = "RNGDRIFT_STARTED_IN"


def started_in() -> Path:
    """Where the user started: RNGDRIFT_STARTED_IN (set by ``rngdrift run`` for the nox
    sessions it starts), else the current directory."""
    return Path(os.environ.get(STARTED_IN_ENV) or os.getcwd()).resolve()


def default_results(where: str | Path | None = None) -> Path:
    """The results folder for a command started in ``where`` (default: ``started_in()``):
    the checkout's ``results/`` when that is rngdrift's own checkout, else
    ``rngdrift-results/`` there."""
    where = Path(where).resolve() if where else started_in()
    if CHECKOUT is not None and where == CHECKOUT:
        return CHECKOUT / RESULTS_IN_CHECKOUT
    return where / RESULTS_ELSEWHERE
