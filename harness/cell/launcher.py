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

# A child's own log keeps its first LOG_HEAD and last LOG_TAIL bytes (where the
# error or the stack dump of a hang is); what a runaway print adds in between is
# dropped, and the merged log says how much.
LOG_HEAD = 8 << 20
LOG_TAIL = 2 << 20


# A child's inflight file: its log's name plus this, in the keeper's folder.
INFLIGHT = ".inflight"


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def merge_part_logs(log_path):
    """Append the own logs children left (their runner died before it could) to the cell
    log; returns {part file name: its text}."""
    folder, name = os.path.split(os.path.abspath(log_path))
    texts = {}
    try:
        parts = sorted(f for f in os.listdir(folder) if f.startswith(name + ".")
                       and f.endswith(".part"))
    except OSError:
        return texts
    merger = Launcher(log_path, child_cmd=["unused"])
    for part in parts:
        texts[part] = merger.append_log(os.path.join(folder, part))
    return texts


def _ensure_folder(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)


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
                 child_cmd=None, child_env=None, memory_limit=None, startup_timeout=180.0,
                 usercode=None, inflight_dir=None):
        self.log_path = log_path
        self.inflight_dir = inflight_dir  # where children name their running scenario
        self.paths = protocol.paths_argv(builtin_paths, scenario_paths, usercode)
        self.child_cmd = list(child_cmd or [sys.executable, "-m", __package__ + ".child"])
        self.child_env = child_env
        self.memory_limit = memory_limit
        self.startup_timeout = startup_timeout
        self.start_method = start if child_cmd is None else "spawn"
        self.zygotes = {}

    def use_fork(self, subreaper):
        """Fork only where this runner adopts its grandchildren (a Linux subreaper)."""
        if not subreaper:
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
        # Hash seeds are fixed at interpreter start: a mode whose record sets the
        # environment (``full``: PYTHONHASHSEED) gets the same hash seed in every repeat,
        # so its repeats may share a zygote; other modes get one zygote per repeat.
        from . import modes
        env = modes.get(mode).env if modes.known(mode) else ()
        if not env:
            return ("repeat", repeat)
        envs = sorted(set(m.env for m in modes.MODES if m.env))
        return ("env", envs.index(env))

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

    def inflight_path(self, job):
        """The file ``job``'s live child names its running scenario in (see keeper.py)."""
        if not self.inflight_dir or not job.log:
            return None
        return os.path.join(self.inflight_dir, os.path.basename(job.log) + INFLIGHT)

    def _argv(self, job, fd=None):
        return protocol.child_argv(job.mode, os.getpid(), job.pending, self.memory_limit, fd,
                                   self.inflight_path(job))

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
        job.log_dropped = 0
        _ensure_folder(job.log)  # someone may have removed cells/ mid-run
        # O_APPEND: the child keeps writing at the end after cap_log cuts the middle out.
        log = open(job.log, "ab")
        log.write(("=== child mode=%s repeat=%d scenarios=%d (%s) ===\n"
                   % (job.mode, job.repeat, len(job.pending), job.pending[0])).encode())
        log.flush()
        return log

    def cap_log(self, job):
        """Keep a live child's log within LOG_HEAD + LOG_TAIL bytes (plus what it writes
        until the next look)."""
        if not job.log:
            return
        try:
            with open(job.log, "r+b") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size <= LOG_HEAD + LOG_TAIL:
                    return
                handle.seek(size - LOG_TAIL)
                tail = handle.read(LOG_TAIL)
                handle.truncate(LOG_HEAD)
                handle.seek(LOG_HEAD)
                handle.write(tail)
                job.log_dropped += size - LOG_HEAD - len(tail)
        except (IOError, OSError):
            pass

    def merge_log(self, job):
        """Append the child's own log to the cell log; returns the child's log text."""
        if not job.log:
            return ""
        self.cap_log(job)
        note = None
        if job.log_dropped:
            note = ("\n[rngdrift: %d bytes of this child's output were dropped here; its log "
                    "keeps the first %d MB and the last %d MB]\n"
                    % (job.log_dropped, LOG_HEAD >> 20, LOG_TAIL >> 20)).encode()
        inflight = self.inflight_path(job)
        if inflight:
            _unlink(inflight)
        text = self.append_log(job.log, note)
        job.log = None
        return text

    def append_log(self, path, note=None):
        """Move a process's own log file onto the end of the cell log (``note`` after its
        first LOG_HEAD bytes); returns its text."""
        try:
            with open(path, "rb") as handle:
                data = handle.read(LOG_HEAD + 2 * LOG_TAIL)
        except (IOError, OSError):
            data = b""
        if note:
            data = data[:LOG_HEAD] + note + data[LOG_HEAD:]
        _ensure_folder(self.log_path)
        with open(self.log_path, "ab") as cell_log:
            cell_log.write(b"\n" + data)
        _unlink(path)
        return data.decode("utf-8", "replace")

    def note(self, text):
        """A line from the runner itself in the cell log."""
        _ensure_folder(self.log_path)
        with open(self.log_path, "ab") as log:
            log.write(text)
