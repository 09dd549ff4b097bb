"""Reading and copying files of another run, which may be anything: only regular files,
never through a link, never more than a cap.

    check(path, 256 << 20)                       # Refused says why not
    data = read_capped(path, 4 << 20)            # bytes
    sha = copy_capped(source, target, 256 << 20)  # atomically, returns the sha256 copied

A FIFO named like a freeze file would make a reader wait forever, a link to
``/dev/zero`` never ends, a link to ``/proc/self/environ`` would copy the environment
(secrets included) into a run, a sparse 1 GB log would become 1 GB on disk: each is a
``Refused`` with a reason for people, and the caller does without the file (reuse runs
the cell again).
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

CHUNK = 1 << 20


class Refused(Exception):
    """A file that is not read: the message says why ('is a link', ...)."""


def _open(path: Path, cap: int) -> int:
    """A read-only descriptor of ``path`` when it is a regular file (not a link) of at
    most ``cap`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if Path(path).is_symlink():
            raise Refused(f"{path} is a link") from None
        raise Refused(f"{path} cannot be read ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused(f"{path} is not a regular file (a FIFO, device or directory)")
    if info.st_size > cap:
        os.close(fd)
        raise Refused(f"{path} is larger than {cap >> 20} MiB")
    return fd


def _chunks(fd: int, path: Path, cap: int):
    total = 0
    while True:
        chunk = os.read(fd, CHUNK)
        if not chunk:
            return
        total += len(chunk)
        if total > cap:  # it grew while read
            raise Refused(f"{path} is larger than {cap >> 20} MiB")
        yield chunk


def check(path: Path, cap: int) -> None:
    """Refused unless ``path`` is a regular file (not a link) of at most ``cap`` bytes."""
    os.close(_open(path, cap))


def read_capped(path: Path, cap: int) -> bytes:
    fd = _open(path, cap)
    try:
        return b"".join(_chunks(fd, path, cap))
    finally:
        os.close(fd)


def copy_capped(source: Path, target: Path, cap: int, expect_sha: str | None = None) -> str:
    """Copy ``source`` to ``target`` through a temporary file and a rename; returns the
    sha256 of what was copied. With ``expect_sha``, a copy of other bytes is Refused and
    nothing is written."""
    fd = _open(source, cap)
    handle, tmp = tempfile.mkstemp(prefix=target.name + ".tmp-", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with open(handle, "wb") as out:
            for chunk in _chunks(fd, source, cap):
                digest.update(chunk)
                out.write(chunk)
        if expect_sha is not None and digest.hexdigest() != expect_sha:
            raise Refused(f"{source} is not what its run wrote (its sha256 differs from the "
                          "one in its freeze file)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)
    return digest.hexdigest()
