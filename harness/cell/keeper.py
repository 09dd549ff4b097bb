"""The process nox starts for a cell: it outlives the cell's runner and leaves nothing behind.

    status = keeper.keep(cell, log_path, body)   # body(Restart) -> exit status, in a fork

1. Before anything of the user's is imported it becomes a child subreaper (Linux), so
   every process the cell starts (at import time, while pytest collects, from a
   scenario, setsid daemons included) stays in its tree to the end; and it gives the
   cell a private temporary folder (``TMPDIR``): spools, program output, ``pymp-*``.
2. It runs the cell (``body``, the runner) in a forked child and waits for it.
3. When the runner dies (a scenario's ``os.kill(os.getppid(), SIGKILL)``, the OOM
   killer, a signal nobody sent the keeper) it reads which scenario each child was
   running (their *inflight* files, ``worker.serve``) and runs the cell again from its
   journal: one suspect gets an ``error`` row saying so (with its own output), and the
   rest of its job runs in a new child; several suspects (parallel jobs) rerun one job
   at a time, so the next death names one. A death with no scenario running twice in
   a row ends the cell (finished jobs stay in the journal).
4. At the end it kills and reaps whatever is left in its tree and removes the folder.

SIGTERM and SIGHUP are passed on to the runner (which stops its children and keeps
its journal); Ctrl-C reaches both from the terminal. Stopped from outside, the keeper
never runs the cell again.
"""
import os
import re
import shutil
import signal
import sys
import tempfile
import traceback
from collections import namedtuple

from . import zygote
from .launcher import INFLIGHT, merge_part_logs
from .processes import children, describe_exit, kill_strays, log_tail_text, since_marker

# What a restarted runner is told: ``blamed`` {(mode, repeat): {scenario: detail}} are
# error rows to record instead of running them; ``serial``: one job at a time;
# ``inflight``: the folder children name their running scenario in.
Restart = namedtuple("Restart", "blamed serial inflight count")
TMP_PREFIX = "rngdrift-cell-"
MAX_RESTARTS = 64
# The exit statuses of a runner stopped by SIGINT (KeyboardInterrupt) and SIGTERM/SIGHUP.
STOPPED = {130: "stopped by SIGINT", 143: "stopped by SIGTERM or SIGHUP"}
_PART = re.compile(r"\.log\.(?P<mode>\w+)-r(?P<repeat>\d+)-\d+\.part$")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep_stale(folder):
    """Remove private folders of cells whose keeper died without cleaning up (SIGKILL)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        match = re.match(re.escape(TMP_PREFIX) + r"(\d+)-", name)
        path = os.path.join(folder, name)
        try:
            mine = os.lstat(path).st_uid == os.getuid()
        except OSError:
            continue
        if match and mine and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def private_tmp():
    """A fresh temporary folder for the cell, made TMPDIR for it and everything it starts."""
    base = tempfile.gettempdir()
    sweep_stale(base)
    folder = tempfile.mkdtemp(prefix="%s%d-" % (TMP_PREFIX, os.getpid()), dir=base)
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = None  # computed again from TMPDIR
    return folder


def _die_with_keeper():
    """The runner gets SIGTERM (a clean stop) when the keeper dies, even by SIGKILL."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _start(body, restart, saved):
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if sys.platform.startswith("linux"):
            _die_with_keeper()
        code = body(restart)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            sys.stderr.write("%s\n" % (exc.code,))
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code & 0xFF if isinstance(code, int) else 1)


def _wait(pid):
    """The runner's wait status; a runner stopped by SIGSTOP (not by the terminal: the
    keeper runs) is continued."""
    while True:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
            continue
        return status


def _how(status):
    """(how the runner ended, or None when it ended by itself; its exit status)."""
    if os.WIFSIGNALED(status):
        return describe_exit(-os.WTERMSIG(status)), 128 + os.WTERMSIG(status)
    code = os.WEXITSTATUS(status)
    return STOPPED.get(code), code


def suspects(inflight):
    """[(mode, repeat, scenario, child log name)] of the scenarios children were running."""
    found = []
    try:
        names = sorted(os.listdir(inflight))
    except OSError:
        return found
    for name in names:
        path = os.path.join(inflight, name)
        try:
            with open(path) as handle:
                scenario = handle.read()
        except (IOError, OSError, UnicodeDecodeError):
            continue
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        part = name[:-len(INFLIGHT)]
        match = _PART.search(part)
        if scenario and match:
            found.append((match.group("mode"), int(match.group("repeat")), scenario, part))
    return found


class _Forwarding(object):
    """SIGTERM/SIGHUP go on to the runner; any of them, and SIGINT, mark the cell as
    stopped from outside."""

    def __init__(self):
        self.pid = None
        self.outside = []
        self.saved = {}

    def __enter__(self):
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            previous = signal.getsignal(sig)
            if sig == signal.SIGINT and previous == signal.SIG_IGN:
                continue  # a background job stays deaf to Ctrl-C
            self.saved[sig] = previous
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.outside.append(signum)
        if self.pid and signum != signal.SIGINT:  # the terminal sends SIGINT to both
            try:
                os.kill(self.pid, signum)
            except OSError:
                pass

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


def _blame(cell, how, found, texts, restart):
    """The next Restart after the runner died ``how`` while ``found`` ran, and a line
    saying what happens; None when nothing can be learnt from another try."""
    count = restart.count + 1
    if len(found) == 1:
        mode, repeat, name, part = found[0]
        tail = log_tail_text(since_marker(texts.get(part, ""), name))
        detail = ("the rngdrift runner (this scenario's parent process) was %s while this "
                  "scenario ran; the cell went on in a new runner%s"
                  % (how, "; log: " + tail if tail else ""))
        blamed = dict(restart.blamed)
        blamed[(mode, repeat)] = dict(blamed.get((mode, repeat), {}), **{name: detail})
        return (Restart(blamed, restart.serial, restart.inflight, count),
                "%s: the runner was %s while %s ran (seeding=%s, repeat=%d); that scenario "
                "gets an error row and the cell goes on in a new runner"
                % (cell, how, name, mode, repeat))
    if len(found) > 1 and not restart.serial:
        return (Restart(restart.blamed, True, restart.inflight, count),
                "%s: the runner was %s while %d scenarios ran (%s); running the cell again "
                "one job at a time to tell which" % (cell, how, len(found),
                                                    ", ".join(f[2] for f in found)))
    return None


def keep(cell, log_path, body):
    """Run ``body`` (the runner) under the keeper (see the module doc); its exit status."""
    zygote.become_subreaper()
    folder = private_tmp()
    inflight = os.path.join(folder, "inflight")
    os.mkdir(inflight)
    preexisting = children()
    restart = Restart({}, False, inflight, 0)
    quiet_deaths = 0
    try:
        with _Forwarding() as forwarding:
            while True:
                forwarding.pid = _start(body, restart, forwarding.saved)
                status = _wait(forwarding.pid)
                forwarding.pid = None
                how, code = _how(status)
                if how is None or forwarding.outside:
                    return code
                found = suspects(inflight)
                texts = merge_part_logs(log_path) if log_path else {}
                quiet_deaths = 0 if found else quiet_deaths + 1
                step = _blame(cell, how, found, texts, restart)
                if step is None and (quiet_deaths < 2 and not found):
                    step = (restart._replace(count=restart.count + 1),
                            "%s: the runner was %s with no scenario running; trying once more"
                            % (cell, how))
                if step is None or restart.count >= MAX_RESTARTS:
                    sys.stderr.write("rngdrift: %s: the runner was %s again%s; stopped here "
                                     "(finished jobs are kept in the cell's journal)\n"
                                     % (cell, how, "" if found else ", with no scenario "
                                        "running (while importing your code?)"))
                    return code or 1
                restart, line = step
                sys.stderr.write("rngdrift: %s\n" % line)
    finally:
        kill_strays(preexisting)  # nothing the cell started outlives it
        shutil.rmtree(folder, ignore_errors=True)
