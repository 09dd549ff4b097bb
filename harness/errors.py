"""The one user-facing error type of the host side, and the one place it is caught.

Anything the user can fix (a bad path, a malformed CSV, an unknown option value, an
environment that cannot be resolved) is raised as ``UserError`` with a one-line
message naming the thing and the problem. ``guarded`` runs a command and turns a
``UserError`` (or an ``OSError`` such as a full disk) into that line on stderr and
exit status 2; the ``rngdrift`` command (``harness.cli``) and the nox sessions
(``noxfile.py``) both go through it, and nothing else prints one. (The one other
``except UserError`` is ``cellsession.prepare``: it keeps a bad line of options, which
reaches every nox session, for the cell sessions to raise.) Nothing is written once it
has been raised.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable


class UserError(Exception):
    """Input a command cannot use; the message is one line: what, where, why."""


EXIT_USER_ERROR = 2


def guarded(action: Callable[[], int | None], prog: str = "rngdrift") -> int:
    """``action()``'s exit status (None is 0); a UserError or an OSError becomes one
    line on stderr, ``prog: message``, and EXIT_USER_ERROR."""
    try:
        return action() or 0
    except UserError as exc:
        message = str(exc)
    except OSError as exc:  # a full disk, a read-only or vanished directory: not a crash
        where = f"{exc.filename}: " if exc.filename else ""
        message = f"{where}{exc.strerror or exc}"
    print(f"{prog}: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors are UserErrors: one line naming the option and where
    its help is, never a usage dump (``--help`` still prints the help)."""

    def error(self, message):
        raise UserError(f"{message} (see {self.prog} --help)")
