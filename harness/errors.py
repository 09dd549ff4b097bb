"""The one user-facing error type of the host side.

Anything the user can fix (a bad path, a malformed CSV, an unknown option value)
is raised as ``UserError`` with a one-line message naming the thing and the
problem. ``harness.cli`` catches it in exactly one place: the line goes to stderr
and the exit status is 2. Nothing is written once it has been raised.
"""


class UserError(Exception):
    """Input a command cannot use; the message is one line: what, where, why."""


EXIT_USER_ERROR = 2
