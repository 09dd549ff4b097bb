"""Child processes seen from the runner: how they ended, where they were, killing them."""
import os
import re
import signal

from .safetext import visible

DETAIL_LIMIT = 500
# The line a child writes to its log before each scenario (worker.serve): what follows
# is that scenario's output, the only output an error row of it quotes.
MARKER = "--- rngdrift: scenario %s ---"


def _signal_name(code):
    try:
        return signal.Signals(-code).name
    except (ValueError, AttributeError):
        return "signal %d" % -code


def describe_exit(code):
    if code is None:
        return "still running"
    if code < 0:
        return "killed by %s" % _signal_name(code)
    return "exited with code %d" % code


def clip(text, limit=DETAIL_LIMIT):
    text = visible(text if len(text) <= 4 * limit else text[:4 * limit])
    return text if len(text) <= limit else text[:limit - 3] + "..."


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_LIBRARY = re.compile(r"/(site|dist)-packages/|/lib/python\d\.\d+/|/harness/cell/\w+\.py$|^<")
_ENTRY = ("runpy.py", "child.py", "worker.py", "zygote.py", "<frozen runpy>")


def stack_summary(text):
    """Where a child was, from the last faulthandler dump in its log.

    'innermost frame < ... < innermost frame of scenario code', e.g.
    'selectors.py:415 in select < ... < faults.py:62 in hang_worker'.
    faulthandler prints the innermost frame first; the thread that ran the
    scenario is the one marked 'Current thread'.
    """
    starts = [m.start() for m in re.finditer(r"^Current thread 0x", text, flags=re.M)]
    if not starts:
        return ""
    frames = []
    for line in text[starts[-1]:].splitlines()[1:]:
        match = _FRAME.match(line)
        if not match:
            break
        frames.append((match.group("file"), match.group("line"), match.group("func")))
    frames = [f for f in frames if not f[0].endswith(_ENTRY)] or frames
    if not frames:
        return ""
    own = [f for f in frames if not _LIBRARY.search(f[0])]
    chosen = [frames[0]]
    if own and own[0] is not frames[0]:
        chosen += ["..."] if frames.index(own[0]) > 1 else []
        chosen.append(own[0])
    elif len(own) > 1:
        chosen.append(own[1])
    return " < ".join(f if f == "..." else "%s:%s in %s" % (os.path.basename(f[0]), f[1], f[2])
                      for f in chosen)


def log_tail_text(text, lines=3):
    """The last non-empty lines of a child's log, minus our own header and marker lines,
    every character printable."""
    kept = [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith(("=== child ", MARKER.split("%")[0]))]
    return visible(" | ".join(kept[-lines:]))


def since_marker(text, scenario):
    """A child's log from the line that says ``scenario`` started (``MARKER``, written
    by ``worker.serve``); all of it when that line is not there (cut out of a capped log)."""
    at = text.rfind("\n" + MARKER % scenario + "\n")
    return text[at + 1:] if at >= 0 else text


def kill_group(pid):
    """SIGKILL a child's process group (the child is its leader: its own session).

    Called only while the child is unreaped, so the group id cannot have been
    reused by an unrelated process.
    """
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def has_exited(proc):
    """True once the child has exited, without reaping it (its pid keeps the group id)."""
    if proc.returncode is not None:
        return True
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    except (AttributeError, OSError):  # no waitid: poll() reaps, still fine for a leader
        return proc.poll() is not None
    return info is not None and info.si_pid == proc.pid


def children(pid=None):
    """Live child processes of ``pid`` (default: this process), from /proc."""
    pid = os.getpid() if pid is None else pid
    found = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[1]) == pid:
            found.add(int(entry))
    return found


def kill_strays(known=(), rounds=20):
    """SIGKILL and reap every child of this process that is not ``known``, and what
    they leave behind: a subreaper adopts the orphans of what it started, including
    daemons that left their process group with setsid. Returns how many were killed."""
    killed = 0
    for _ in range(rounds):
        strays = children() - set(known)
        if not strays:
            break
        for pid in strays:
            try:
                if os.getpgid(pid) == pid:  # a session or group leader: its group goes too
                    os.killpg(pid, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
    return killed
