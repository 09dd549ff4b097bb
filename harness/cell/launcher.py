"""Starting a job's child process: forked from a zygote, or spawned afresh.

The supervisor asks ``Launcher.start(job)`` for a child and gets back the live
process and the read end of its results pipe, or ``LaunchFailed`` when the
child cannot start (its zygote hung or died while importing). Each child writes
its stdout/stderr to a log file of its own, which ``merge_log`` appends to the
cell's log when the child ends, so logs of parallel children never interleave.
"""
import os
import subprocess
import sys

from . import protocol, zygote
from .processes import log_tail_text, stack_summary


class LaunchFailed(Exception):
    """A child could not start; ``status`` (error/timeout) and ``detail`` say why."""

    def __init__(self, status, detail):
        Exception.__init__(self, detail)
        self.status = status
        self.detail = detail


class Launcher(object):
    """How children start. ``child_cmd`` is the command of a child (tests use a
    stand-in speaking the same pipe protocol, which is always spawned);
    ``child_env(mode)`` its environment; ``start``: "fork" (from per-repeat
    zygotes, see zygote.py) or "spawn" (a new interpreter per child)."""

    def __init__(self, log_path, builtin_paths=(), scenario_paths=(), start="fork",
                 child_cmd=None, child_env=None, memory_limit=None, startup_timeout=180.0):
        self.log_path = log_path
        self.paths = protocol.paths_argv(builtin_paths, scenario_paths)
        self.child_cmd = list(child_cmd or [sys.executable, "-m", "harness.cell.child"])
        self.child_env = child_env
        self.memory_limit = memory_limit
        self.startup_timeout = startup_timeout
        self.start_method = start if child_cmd is None else "spawn"
        self.zygotes = {}

    def use_fork(self):
        """Fork only where this runner can adopt its grandchildren (Linux subreaper)."""
        if self.start_method == "fork" and not zygote.become_subreaper():
            self.start_method = "spawn"
        return self.start_method == "fork"

    def env(self, mode):
        if self.child_env is None:
            from . import seeding  # imports torch: only where a real child is started
            self.child_env = seeding.child_env
        env = self.child_env(mode)
        env["OMP_NUM_THREADS"] = "1"
        env["MKL_NUM_THREADS"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    # -- zygotes ------------------------------------------------------------------------
    @staticmethod
    def _zygote_key(mode, repeat):
        # Hash seeds are fixed at interpreter start: ``full`` sets PYTHONHASHSEED, so
        # its repeats may share a zygote; other modes get one zygote per repeat.
        return ("full", 0) if mode == "full" else ("repeat", repeat)

    def prepare(self, mode, repeat):
        """Start (or reuse) the zygote a (mode, repeat) job forks from."""
        key = self._zygote_key(mode, repeat)
        if key not in self.zygotes:
            log = "%s.zygote-%s%d.part" % (self.log_path, key[0], key[1])
            self.zygotes[key] = zygote.Zygote(self.child_cmd + self.paths, self.env(mode), log,
                                              os.getpid())
        return self.zygotes[key]

    def close_zygotes(self):
        for z in list(self.zygotes.values()):
            self._drop_zygote(z)

    def _drop_zygote(self, z):
        """Close a zygote and move its log onto the cell's; returns the log's text."""
        z.close()
        self.zygotes = dict((k, v) for k, v in self.zygotes.items() if v is not z)
        return self.append_log(z.log_path)

    def zygote_pids(self):
        return set(z.proc.pid for z in self.zygotes.values())

    # -- children -----------------------------------------------------------------------
    def start(self, job):
        """(process, read fd of its results pipe) for ``job``'s next child."""
        read_fd, write_fd = os.pipe()
        log = self._open_log(job)
        try:
            if self.start_method == "fork":
                proc = self._fork(job, write_fd, log.fileno())
            else:
                proc = self._spawn(job, write_fd, log)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
            log.close()
        return proc, read_fd

    def _argv(self, job, fd=None):
        return protocol.child_argv(job.mode, os.getpid(), job.pending, self.memory_limit, fd)

    def _spawn(self, job, write_fd, log):
        return subprocess.Popen(
            self.child_cmd + self._argv(job, write_fd) + self.paths,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=self.env(job.mode), pass_fds=(write_fd,), start_new_session=True)

    def _fork(self, job, write_fd, log_fd):
        z = self.prepare(job.mode, job.repeat)
        try:
            z.wait_ready(self.startup_timeout)
            return zygote.Adopted(z.fork(self._argv(job), [write_fd, log_fd]))
        except (zygote.ZygoteFailed, OSError) as exc:
            text = self._drop_zygote(z)
            where = stack_summary(text)
            detail = "%s before running any scenario%s: %s" % (
                exc, " at " + where if where else "", log_tail_text(text))
            raise LaunchFailed("timeout" if "hung" in str(exc) else "error", detail)

    # -- logs ---------------------------------------------------------------------------
    def _open_log(self, job):
        job.spawns += 1
        job.log = "%s.%s-r%d-%d.part" % (self.log_path, job.mode, job.repeat, job.spawns)
        log = open(job.log, "wb")
        log.write(("=== child mode=%s repeat=%d scenarios=%d (%s) ===\n"
                   % (job.mode, job.repeat, len(job.pending), job.pending[0])).encode())
        log.flush()
        return log

    def merge_log(self, job):
        """Append the child's own log to the cell log; returns the child's log text."""
        if not job.log:
            return ""
        text = self.append_log(job.log)
        job.log = None
        return text

    def append_log(self, path):
        """Move a process's own log file onto the end of the cell log; returns its text."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except (IOError, OSError):
            data = b""
        with open(self.log_path, "ab") as cell_log:
            cell_log.write(b"\n" + data)
        try:
            os.unlink(path)
        except OSError:
            pass
        return data.decode("utf-8", "replace")

    def note(self, text):
        """A line from the runner itself in the cell log."""
        with open(self.log_path, "ab") as log:
            log.write(text)
